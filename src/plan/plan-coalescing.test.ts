import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  APPLIED,
  db,
  del,
  insertWrite,
  partsOf,
  patch,
  STALE,
  T,
  things,
  upsert,
  upsertWrite,
} from "../testing/plan-helpers.ts";
import { plan } from "./plan.ts";

// The planner folds one entity's consecutive writes into as few as possible (src/plan/plan.ts).

describe("coalescing one entity's writes", () => {
  test("two upserts: one write, the first row overlaid with the second's update columns", () => {
    const first = upsert("a", T(1), { code: "C1", name: "one", note: "n1", created_at: T(1) });
    const second = upsert("a", T(2), { code: "C2", name: "two", note: "n2", created_at: T(2) });
    const p = plan([first, second], db());
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [
      [
        insertWrite(second, {
          id: "a",
          code: "C1",
          name: "two",
          note: "n2",
          created_at: T(1),
          event_id: `e@${T(2)}`,
          event_timestamp: T(2),
        }),
      ],
    ]);
  });

  test("three upserts collapse into one write", () => {
    const p = plan([upsert("a", T(1)), upsert("a", T(2)), upsert("a", T(3), { note: "last" })], db());
    assert.equal(p.rounds.length, 1);
    assert.equal(p.rounds[0]?.length, 1);
    const w = p.rounds[0]?.[0];
    assert.equal(w?.kind === "upsert" && w.row.note, "last");
    assert.equal(w?.kind === "upsert" && w.row.created_at, T(1));
  });

  test("merge-mode children: overlaid by child key, new ones added, old ones kept", () => {
    const first = upsert(
      "a",
      T(1),
      {},
      partsOf("merge", [
        { id: "a", part_key: "p1", qty: 1, label: "first" },
        { id: "a", part_key: "p2", qty: 2, label: "first" },
      ]),
    );
    const second = upsert(
      "a",
      T(2),
      {},
      partsOf("merge", [
        { id: "a", part_key: "p2", qty: 20, label: "second" },
        { id: "a", part_key: "p3", qty: 30, label: "second" },
      ]),
    );
    const w = plan([first, second], db()).rounds[0]?.[0];
    assert.ok(w?.kind === "upsert");
    assert.deepEqual(w.children?.rows, [
      { id: "a", part_key: "p1", qty: 1, label: "first" },
      { id: "a", part_key: "p2", qty: 20, label: "first" },
      { id: "a", part_key: "p3", qty: 30, label: "second" },
    ]);
  });

  test("many events of one entity merge their children in order, each event's own children left as they were", () => {
    const events = Array.from({ length: 300 }, (_, n) =>
      upsert(
        "a",
        T(1 + (n % 9)),
        {},
        partsOf("merge", [
          { id: "a", part_key: `new${n}`, qty: n, label: `e${n}` },
          { id: "a", part_key: `p${n % 3}`, qty: n, label: `e${n}` },
        ]),
      ),
    ).sort((x, y) => (x.ts < y.ts ? -1 : x.ts > y.ts ? 1 : 0));
    const before = structuredClone(events.map((e) => e.children));
    const w = plan(events, db()).rounds[0]?.[0];
    assert.ok(w?.kind === "upsert" && w.children);
    const rows = w.children.rows;
    assert.equal(rows.length, 303);
    // Keys in the order first seen; a repeated key keeps its first row with the last event's qty.
    const firstEvent = events[0]?.children?.rows;
    assert.deepEqual(
      rows.slice(0, 2),
      firstEvent?.map((r) => ({ ...r, qty: rows.find((x) => x.part_key === r.part_key)?.qty })),
    );
    for (const key of ["p0", "p1", "p2"]) {
      const last = events.findLast((e) => e.children?.rows.some((r) => r.part_key === key));
      assert.equal(
        rows.find((r) => r.part_key === key)?.qty,
        last?.children?.rows.find((r) => r.part_key === key)?.qty,
      );
    }
    assert.deepEqual(
      events.map((e) => e.children),
      before,
      "planning changes no event's own children (a retried transaction plans them again)",
    );
  });

  test("replace-mode children: the newest set wins whole", () => {
    const first = upsert("a", T(1), {}, partsOf("replace", [{ id: "a", part_key: "p1", qty: 1, label: "x" }]));
    const second = upsert("a", T(2), {}, partsOf("replace", [{ id: "a", part_key: "p2", qty: 2, label: "y" }]));
    const w = plan([first, second], db()).rounds[0]?.[0];
    assert.ok(w?.kind === "upsert");
    assert.deepEqual(w.children, second.children);
    const emptied = upsert("a", T(3), {}, partsOf("replace", []));
    const w2 = plan([first, emptied], db()).rounds[0]?.[0];
    assert.ok(w2?.kind === "upsert");
    assert.deepEqual(w2.children?.rows, []);
  });

  test("a stale upsert's children are not written either", () => {
    const fresh = upsert("a", T(3), {}, partsOf("replace", [{ id: "a", part_key: "new", qty: 1, label: "x" }]));
    const old = upsert("a", T(2), {}, partsOf("replace", [{ id: "a", part_key: "old", qty: 1, label: "x" }]));
    const p = plan([fresh, old], db());
    assert.deepEqual(p.outcomes, [APPLIED, STALE]);
    assert.deepEqual(p.rounds, [[insertWrite(fresh)]]);
  });

  test("a patch is folded into the upsert before it when the upsert's update columns cover it", () => {
    const op = upsert("a", T(1), { note: "before" });
    const p = plan([op, patch("a", T(2), { note: "after", event_timestamp: T(2) })], db());
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[insertWrite(op, { ...op.row, note: "after", event_timestamp: T(2) })]]);
  });

  test("a patch the upsert does not cover stays its own write, in the next round", () => {
    const op = upsert("a", T(1));
    const p = plan([op, patch("a", T(2), { created_at: T(9) })], db());
    assert.deepEqual(p.rounds, [
      [insertWrite(op)],
      [{ kind: "patch", table: things, id: "a", set: { created_at: T(9) } }],
    ]);
  });

  test("consecutive patches merge, the later value winning", () => {
    const p = plan(
      [patch("a", T(2), { note: "x", name: "n" }), patch("a", T(3), { note: "y" })],
      db({ rows: [["a", T(1)]] }),
    );
    assert.deepEqual(p.rounds, [[{ kind: "patch", table: things, id: "a", set: { note: "y", name: "n" } }]]);
  });

  test("an upsert after a patch it covers drops the patch", () => {
    const op = upsert("a", T(3));
    const p = plan([patch("a", T(2), { note: "x" }), op], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[upsertWrite(op)]]);
  });

  test("an upsert after a patch it does not cover keeps both, in order", () => {
    const op = upsert("a", T(3));
    const p = plan([patch("a", T(2), { created_at: T(0) }), op], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.rounds, [
      [{ kind: "patch", table: things, id: "a", set: { created_at: T(0) } }],
      [upsertWrite(op)],
    ]);
  });

  test("delete then upsert: two rounds, [delete] then [upsert]", () => {
    const op = upsert("a", T(3));
    const p = plan([del("a", T(2)), op], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }], [insertWrite(op)]]);
    assert.deepEqual(p.tombstones, [{ table: things, id: "a", ts: T(2), eventId: `e@${T(2)}`, absent: false }]);
  });

  test("upsert then delete: the delete discards the writes before it", () => {
    const p = plan([upsert("a", T(2)), patch("a", T(3), { note: "x" }), del("a", T(4))], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }]]);
  });

  test("upsert then delete of an entity the batch found without a row: nothing to write, the tombstone only", () => {
    const p = plan([upsert("a", T(2)), del("a", T(3))], db());
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, []);
    assert.deepEqual(p.tombstones, [{ table: things, id: "a", ts: T(3), eventId: `e@${T(3)}`, absent: true }]);
  });

  test("delete, restore, delete: one delete", () => {
    const p = plan([del("a", T(2)), upsert("a", T(3)), del("a", T(4))], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }]]);
    assert.deepEqual(
      p.tombstones.map((t) => t.ts),
      [T(4)],
    );
  });

  test("round k holds each entity's k-th write; other entities are untouched by the order", () => {
    const b = upsert("b", T(5));
    const restore = upsert("a", T(3));
    const p = plan([del("a", T(2)), b, restore], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }, insertWrite(b)], [insertWrite(restore)]]);
  });
});

describe("deleted and created again in one batch", () => {
  const withParts = (id: string, ts: string, keys: string[], fields = {}, mode: "replace" | "merge" = "replace") =>
    upsert(
      id,
      ts,
      fields,
      partsOf(
        mode,
        keys.map((k) => ({ id, part_key: k, qty: 1, label: null })),
      ),
    );
  const everyColumn = things.columns.filter((c) => c !== things.key);

  test("a stored row is overwritten whole, every column and its children replaced: no delete, one round", () => {
    const restore = withParts("a", T(3), ["p1"]);
    const p = plan([del("a", T(2)), restore], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    // Kept children too are written whole, not only in the columns an update of them changes.
    const children = { ...(restore.children as NonNullable<typeof restore.children>), update: ["qty", "label"] };
    assert.deepEqual(p.rounds, [[{ ...upsertWrite(restore), update: everyColumn, children }]]);
    // The delete is still remembered: an older create arriving later is stale.
    assert.deepEqual(
      p.tombstones.map((t) => [t.id, t.ts]),
      [["a", T(2)]],
    );
  });

  test("a row the batch itself created is inserted once, without the delete", () => {
    const first = withParts("a", T(1), ["p1"]);
    const again = withParts("a", T(3), ["p2"]);
    const p = plan([first, del("a", T(2)), again], db());
    assert.deepEqual(p.rounds, [[insertWrite(again)]]);
  });

  test("more events after the overwrite keep every column written", () => {
    const restore = withParts("a", T(3), ["p1"], { code: "c-1" });
    const next = { ...withParts("a", T(4), ["p1"]), update: ["name"] };
    const p = plan([del("a", T(2)), restore, next], db({ rows: [["a", T(1)]] }));
    const w = p.rounds[0]?.[0];
    assert.ok(w?.kind === "upsert");
    assert.equal(p.rounds.length, 1);
    assert.deepEqual(w.update, everyColumn);
    assert.equal(w.row.code, "c-1");
    assert.equal(w.row.name, next.row.name);
  });

  test("without children to replace, the delete and the insert stay (a merge would keep the deleted row's children)", () => {
    for (const restore of [upsert("a", T(3)), withParts("a", T(3), ["p1"], {}, "merge")]) {
      const p = plan([del("a", T(2)), restore], db({ rows: [["a", T(1)]] }));
      assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }], [insertWrite(restore)]]);
    }
  });
});
