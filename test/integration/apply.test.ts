import assert from "node:assert/strict";
import { test } from "node:test";
import { migrate } from "../../src/db/migrate.ts";
import { type EmittedEvent, emit } from "../../src/generate/emit.ts";
import type { Op, Outcome } from "../../src/plan/ops.ts";
import { decodeValue } from "../../src/testing/domain-helpers.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { applyBatch } from "../../src/write/transaction.ts";
import { testDatabase, testPool } from "../support/helpers.ts";

// The apply path on the real database, without Kafka: batches in, outcomes and rows out.

const PRODUCT = "65a1f0c2e4b0a1b2c3d4e5f8";
const productDoc = (variants: string[], status = "active") => {
  const d = structuredClone(fixture("product.created").value.data) as Record<string, unknown>;
  const all = d.variants as Record<string, unknown>;
  d.variants = Object.fromEntries(variants.map((k) => [k, all[k]]));
  d.status = status;
  return d as never;
};
const at = (day: number) => `2026-05-${String(day).padStart(2, "0")}T00:00:00+00:00`;
const ops = (events: EmittedEvent[]) => events.map((e) => decodeValue(Buffer.from(JSON.stringify(e.value))).op);
const kinds = (outcomes: Outcome[]) => outcomes.map((o) => (o.kind === "skipped" ? `skipped:${o.reason}` : o.kind));

async function setup(t: import("node:test").TestContext) {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  await migrate(pool);
  const state = async () => ({
    product: await db.query("SELECT status, event_timestamp FROM products"),
    variants: (
      await db.query<{ variant_key: string }>("SELECT variant_key FROM product_variants ORDER BY variant_key")
    ).map((v) => v.variant_key),
  });
  return { db, pool, state };
}

test("never backwards: an older event changes nothing, children included; equal applies", async (t) => {
  const { pool, state } = await setup(t);
  const newer = emit("product.updated", PRODUCT, productDoc(["small-white"], "active"), { timestamp: at(10) });
  const older = emit("product.updated", PRODUCT, productDoc(["small-white", "large-blue"], "draft"), {
    timestamp: at(5),
  });
  assert.deepEqual(kinds((await applyBatch(pool, ops([newer]))).outcomes), ["applied"]);
  // Separate batches and the same batch: the database's timestamp decides, then the batch's own.
  assert.deepEqual(kinds((await applyBatch(pool, ops([older]))).outcomes), ["skipped:stale"]);
  assert.deepEqual(kinds((await applyBatch(pool, ops([newer, older]))).outcomes), ["applied", "skipped:stale"]);
  assert.deepEqual(await state(), {
    product: [{ status: "active", event_timestamp: "2026-05-10 00:00:00.000000" }],
    variants: ["small-white"],
  });
  const equal = emit("product.updated", PRODUCT, productDoc([], "discontinued"), { timestamp: at(10) });
  assert.deepEqual(kinds((await applyBatch(pool, ops([equal]))).outcomes), ["applied"]);
  assert.deepEqual(await state(), {
    product: [{ status: "discontinued", event_timestamp: "2026-05-10 00:00:00.000000" }],
    variants: [],
  });
});

test("replacing variants keeps exactly the document's set; a kept variant is updated in place", async (t) => {
  const { db, pool } = await setup(t);
  const OTHER = "65a1f0c2e4b0a1b2c3d4e5f9";
  const variants = () =>
    db.query<{ product_id: string; variant_key: string; id: number; price_cents: number }>(
      "SELECT product_id, variant_key, id, price_cents FROM product_variants ORDER BY product_id, variant_key",
    );
  const both = ["small-white", "large-blue"];
  await applyBatch(
    pool,
    ops([
      emit("product.created", PRODUCT, productDoc(both), { timestamp: at(1) }),
      emit("product.created", OTHER, productDoc(both), { timestamp: at(1) }),
    ]),
  );
  const before = await variants();
  assert.equal(before.length, 4);
  // One statement round for both products: PRODUCT keeps one variant (with a new price), OTHER loses all.
  const cheaper = productDoc(["large-blue"]) as { variants: Record<string, { price_cents: number }> };
  (cheaper.variants["large-blue"] as { price_cents: number }).price_cents = 1;
  await applyBatch(
    pool,
    ops([
      emit("product.updated", PRODUCT, cheaper as never, { timestamp: at(2) }),
      emit("product.updated", OTHER, productDoc([]), { timestamp: at(2) }),
    ]),
  );
  const kept = before.find((v) => v.product_id === PRODUCT && v.variant_key === "large-blue");
  assert.deepEqual(await variants(), [
    { product_id: PRODUCT, variant_key: "large-blue", id: kept?.id, price_cents: 1 },
  ]);
});

test("rewriting children uses up no AUTO_INCREMENT values: stored rows keep their ids, a new one takes the next", async (t) => {
  const { db, pool } = await setup(t);
  const ids = async () =>
    Object.fromEntries(
      (await db.query<{ variant_key: string; id: number }>("SELECT variant_key, id FROM product_variants")).map((v) => [
        v.variant_key,
        Number(v.id),
      ]),
    );
  const both = ["small-white", "large-blue"];
  await applyBatch(pool, ops([emit("product.created", PRODUCT, productDoc(both), { timestamp: at(1) })]));
  const first = await ids();
  // Three rewrites of the same two variants, in separate transactions and in one.
  await applyBatch(pool, ops([emit("product.updated", PRODUCT, productDoc(both), { timestamp: at(2) })]));
  await applyBatch(
    pool,
    ops([
      emit("product.updated", PRODUCT, productDoc(both), { timestamp: at(3) }),
      emit("product.published", PRODUCT, productDoc(both), { timestamp: at(4) }),
    ]),
  );
  assert.deepEqual(await ids(), first);
  // An upsert on (product_id, variant_key) would have taken an id for every row written: 2 + 2 (+ 2 merged away).
  const withThird = productDoc(both) as { variants: Record<string, object> };
  withThird.variants["small-blue"] = { ...withThird.variants["small-white"], variant_id: "v-003" };
  await applyBatch(pool, ops([emit("product.updated", PRODUCT, withThird as never, { timestamp: at(5) })]));
  assert.deepEqual(await ids(), { ...first, "small-blue": Math.max(...Object.values(first)) + 1 });
});

test("a hard delete's tombstone stops older events; a newer restore brings the entity back", async (t) => {
  const { pool, state } = await setup(t);
  const created = emit("product.created", PRODUCT, productDoc(["small-white"]), { timestamp: at(1) });
  const deleted = emit("product.deleted", PRODUCT, { product_id: PRODUCT }, { timestamp: at(3) });
  const lateOld = emit("product.updated", PRODUCT, productDoc(["large-blue"]), { timestamp: at(2) });
  const restored = emit("product.restored", PRODUCT, productDoc(["large-blue"], "draft"), { timestamp: at(4) });
  assert.deepEqual(kinds((await applyBatch(pool, ops([created, deleted]))).outcomes), ["applied", "applied"]);
  assert.deepEqual(await state(), { product: [], variants: [] });
  assert.deepEqual(kinds((await applyBatch(pool, ops([lateOld]))).outcomes), ["skipped:stale"]);
  assert.deepEqual(await state(), { product: [], variants: [] });
  // A replay of the delete alone changes nothing; restore (newer) brings the product back.
  assert.deepEqual(kinds((await applyBatch(pool, ops([deleted, restored]))).outcomes), ["skipped:no_row", "applied"]);
  assert.deepEqual(await state(), {
    product: [{ status: "draft", event_timestamp: "2026-05-04 00:00:00.000000" }],
    variants: ["large-blue"],
  });
  // The whole history replayed in one batch ends in the same state.
  await applyBatch(pool, ops([created, deleted, lateOld, restored]));
  assert.deepEqual(await state(), {
    product: [{ status: "draft", event_timestamp: "2026-05-04 00:00:00.000000" }],
    variants: ["large-blue"],
  });
});

test("deleted and restored in one batch: the same rows as in separate batches, the deleted product's supplier and variants gone", async (t) => {
  const one = await setup(t);
  const apart = await setup(t);
  const doc = (variants: string[], supplier: string, name: string): never =>
    ({ ...(productDoc(variants) as Record<string, unknown>), supplier_id: supplier, name }) as never;
  const created = emit(
    "product.created",
    PRODUCT,
    doc(["small-white", "large-blue"], "65a1f0c2e4b0a1b2c3d4e5a1", "A"),
    {
      timestamp: at(1),
    },
  );
  const history = [
    emit("product.updated", PRODUCT, doc(["small-white"], "65a1f0c2e4b0a1b2c3d4e5a2", "B"), { timestamp: at(2) }),
    emit("product.deleted", PRODUCT, { product_id: PRODUCT }, { timestamp: at(3) }),
    emit("product.restored", PRODUCT, doc(["large-blue"], "65a1f0c2e4b0a1b2c3d4e5a3", "C"), { timestamp: at(4) }),
    emit("product.updated", PRODUCT, doc(["large-blue"], "65a1f0c2e4b0a1b2c3d4e5a4", "D"), { timestamp: at(5) }),
  ];
  for (const { pool } of [one, apart]) await applyBatch(pool, ops([created]));
  assert.deepEqual(kinds((await applyBatch(one.pool, ops(history))).outcomes), [
    "applied",
    "applied",
    "applied",
    "applied",
  ]);
  for (const e of history) await applyBatch(apart.pool, ops([e]));
  const rows = async (db: typeof one.db) => ({
    product: await db.query("SELECT * FROM products"),
    variants: await db.query(
      "SELECT product_id, variant_key, variant_id, variant_name, price_cents, quantity FROM product_variants",
    ),
    tombstones: await db.query("SELECT entity_type, entity_id, deleted_event_timestamp FROM entity_tombstones"),
  });
  const inOne = await rows(one.db);
  assert.deepEqual(inOne, await rows(apart.db));
  // As the restore inserted it: its supplier (an update keeps the one a product was created with).
  assert.deepEqual(
    (inOne.product as { supplier_id: string; name: string }[]).map((r) => [r.supplier_id, r.name]),
    [["65a1f0c2e4b0a1b2c3d4e5a3", "D"]],
  );
  assert.deepEqual(
    (inOne.variants as { variant_key: string }[]).map((v) => v.variant_key),
    ["large-blue"],
  );
});

test("a row the server rejects is isolated: its neighbours in the batch are applied", async (t) => {
  const { db, pool } = await setup(t);
  const good = (id: string, day: number) =>
    ops([emit("user.created", id, fixture("user.created").value.data as never, { timestamp: at(day) })])[0] as Op;
  const bad = structuredClone(good("65a1f0c2e4b0a1b2c3d4e502", 2)) as Op & { row: Record<string, unknown> };
  // Past validation (which would stop it) straight to the server, which refuses the value.
  bad.row = { ...bad.row, email: "e".repeat(300) };
  const batch = [good("65a1f0c2e4b0a1b2c3d4e501", 1), bad, good("65a1f0c2e4b0a1b2c3d4e503", 3)];
  const { outcomes } = await applyBatch(pool, batch);
  assert.deepEqual(kinds(outcomes), ["applied", "rejected", "applied"]);
  const rejected = outcomes[1];
  assert.ok(rejected?.kind === "rejected");
  assert.equal(rejected.error.reason, "rejected_by_database");
  assert.match(rejected.error.message, /^MySQL error 1406 \(ER_DATA_TOO_LONG\) on email$/);
  assert.deepEqual(await db.query("SELECT user_id FROM users ORDER BY user_id"), [
    { user_id: "65a1f0c2e4b0a1b2c3d4e501" },
    { user_id: "65a1f0c2e4b0a1b2c3d4e503" },
  ]);
});

test("a child table whose AUTO_INCREMENT ids are used up: the event that needs one is dead-lettered, its neighbours applied", async (t) => {
  const { db, pool } = await setup(t);
  // Ids are never reused: key renames, restores and rolled-back inserts use them up over a table's life.
  await db.query("ALTER TABLE product_variants AUTO_INCREMENT = 2147483647");
  const user = emit("user.created", "65a1f0c2e4b0a1b2c3d4e501", fixture("user.created").value.data as never, {
    timestamp: at(1),
  });
  const twoVariants = emit("product.created", PRODUCT, productDoc(["small-white", "large-blue"]), { timestamp: at(1) });
  const other = "65a1f0c2e4b0a1b2c3d4e5f9";
  const noVariants = emit("product.created", other, { ...(productDoc([]) as object), _id: other } as never, {
    timestamp: at(1),
  });
  const { outcomes } = await applyBatch(pool, ops([twoVariants, user, noVariants]));
  assert.deepEqual(kinds(outcomes), ["rejected", "applied", "applied"]);
  const rejected = outcomes[0];
  assert.ok(rejected?.kind === "rejected");
  assert.equal(rejected.error.reason, "rejected_by_database");
  // MariaDB refuses the id (error 167); MySQL gives out its largest again, a duplicate of PRIMARY.
  assert.match(rejected.error.message, /AUTO_INCREMENT ids are used up|^MySQL error 1062 \(ER_DUP_ENTRY\) on PRIMARY$/);
  assert.deepEqual(await db.query("SELECT product_id FROM products ORDER BY product_id"), [{ product_id: other }]);
  assert.deepEqual(await db.query("SELECT variant_key FROM product_variants"), []);
});

test("soft deletes of several rows in one batch: each row gets its own event's timestamp and id", async (t) => {
  const { db, pool } = await setup(t);
  const users = ["65a1f0c2e4b0a1b2c3d4e501", "65a1f0c2e4b0a1b2c3d4e502", "65a1f0c2e4b0a1b2c3d4e503"];
  const userDoc = (id: string) => ({ ...(fixture("user.created").value.data as object), id, _id: id }) as never;
  await applyBatch(
    pool,
    ops(users.map((id, i) => emit("user.created", id, userDoc(id), { timestamp: at(1), eventId: `c-${i}` }))),
  );
  const deletes = users
    .slice(0, 2)
    .map((id, i) => emit("user.deleted", id, { user_id: id } as never, { timestamp: at(3 + i), eventId: `d-${i}` }));
  assert.deepEqual(kinds((await applyBatch(pool, ops(deletes))).outcomes), ["applied", "applied"]);
  assert.deepEqual(
    await db.query("SELECT user_id, deleted_at, event_id, event_timestamp FROM users ORDER BY user_id"),
    [
      {
        user_id: users[0],
        deleted_at: "2026-05-03 00:00:00.000000",
        event_id: "d-0",
        event_timestamp: "2026-05-03 00:00:00.000000",
      },
      {
        user_id: users[1],
        deleted_at: "2026-05-04 00:00:00.000000",
        event_id: "d-1",
        event_timestamp: "2026-05-04 00:00:00.000000",
      },
      { user_id: users[2], deleted_at: null, event_id: "c-2", event_timestamp: "2026-05-01 00:00:00.000000" },
    ],
  );
});
