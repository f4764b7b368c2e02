import assert from "node:assert/strict";
import { test } from "node:test";
import { generateStream } from "../../src/generate/stream.ts";
import { normaliseRows } from "../../test/support/compare.ts";
import { applyModel, emptyModel, modelRows, TABLES, type TableName } from "../../test/support/model.ts";
import {
  type CompactChildren,
  type CompactModel,
  compactModel,
  decodeRow,
  differingColumns,
  encodeRow,
} from "./compact-model.ts";

// The benchmark checks the service's tables against the compact model: it must hold exactly the
// rows the full model of test/support/model.ts computes, encoded, whatever the chunking.

function encodedTables(c: CompactModel): Record<TableName, string[]> {
  const lines = (m: CompactChildren) => [...m.stored.values()].flatMap((s) => (s === "" ? [] : s.split("\n")));
  const p = c.parents;
  const out = {
    users: [...p.users.stored.values()],
    suppliers: [...p.suppliers.stored.values()],
    products: [...p.products.stored.values()],
    product_variants: lines(c.variants),
    orders: [...p.orders.stored.values()],
    order_items: lines(c.items),
    posts: [...p.posts.stored.values()],
  };
  for (const t of TABLES) out[t].sort();
  return out;
}

for (const [seed, chunk] of [
  [1, 500],
  [7, 1],
  [3, 2000],
] as const) {
  test(`the compact model holds the full model's rows (seed ${seed}, chunks of ${chunk})`, () => {
    const stream = generateStream({ seed, events: 4000 });
    const full = modelRows(applyModel(stream, emptyModel()));
    const compact = compactModel();
    for (let i = 0; i < stream.length; i += chunk) compact.apply(stream.slice(i, i + chunk));
    const encoded = encodedTables(compact);
    for (const table of TABLES) {
      const expected = normaliseRows(table, full[table])
        .map((r) => encodeRow(table, r))
        .sort();
      assert.ok(expected.length > 0, `${table} has rows`);
      assert.deepEqual(encoded[table], expected, table);
      assert.equal(compact.rows()[table], expected.length);
    }
    assert.deepEqual(compact.model.counts, applyModel(stream, emptyModel()).counts);
  });
}

test("an encoded row names the columns that differ", () => {
  const row = { user_id: "u1", created_at: "t0", deleted_at: null, event_id: "e1", event_timestamp: "t1", bio: "a" };
  const a = encodeRow("users", row);
  assert.deepEqual(decodeRow("users", a).event_id, "e1");
  assert.deepEqual(differingColumns("users", a, a), []);
  assert.deepEqual(differingColumns("users", a, encodeRow("users", { ...row, event_id: "e2", bio: "b" })), [
    "event_id",
    "(other columns)",
  ]);
  assert.throws(() => encodeRow("users", { user_id: "u1" }), /without created_at/);
});

test("a model that walks a compact map fails loudly", () => {
  const c = compactModel();
  assert.throws(() => [...c.parents.users.values()], /values\(\)/);
});

test("the compact maps answer has and delete from what they hold, and refuse iteration", () => {
  const c = compactModel();
  c.apply(generateStream({ seed: 2, events: 300 }));
  for (const map of [c.parents.users, c.items] as const) {
    const [id] = [...map.stored.keys()] as [string];
    assert.ok(map.has(id));
    assert.ok(map.get(id) !== undefined);
    assert.ok(map.delete(id));
    assert.ok(!map.has(id));
    assert.ok(!map.delete(id));
    for (const walk of [() => map.keys(), () => map.values(), () => map.entries(), () => map.forEach(() => {})]) {
      assert.throws(walk, /compact maps do not offer/);
    }
  }
});

test("a body the model changed only in part can't be digested, and fails loudly", () => {
  const c = compactModel();
  const row = { user_id: "u1", created_at: "t0", deleted_at: null, event_id: "e1", event_timestamp: "t1" };
  c.parents.users.set("u1", { ...row, email: "a@b", bio: "x" });
  c.apply([]);
  (c.parents.users.get("u1") as Record<string, unknown>).bio = "y";
  assert.throws(() => c.apply([]), /users row with 1 of its 2 other columns/);
  const d = compactModel();
  d.parents.users.set("u2", { ...row, user_id: "u2" });
  assert.throws(() => d.apply([]), /a users row without columns/);
});
