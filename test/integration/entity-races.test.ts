import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pool } from "mysql2/promise";
import { migrate } from "../../src/db/migrate.ts";
import { isBadDataError } from "../../src/db/server-errors.ts";
import { ConcurrentChangeError } from "../../src/errors.ts";
import { type EmittedEvent, emit } from "../../src/generate/emit.ts";
import type { Op, Outcome } from "../../src/plan/ops.ts";
import { plan } from "../../src/plan/plan.ts";
import { decodeValue } from "../../src/testing/domain-helpers.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { executePlan, loadState } from "../../src/write/store.ts";
import { applyBatch } from "../../src/write/transaction.ts";
import { testDatabase, testPool } from "../support/helpers.ts";

// Two transactions that write one entity, or one unique value, at the same time: an entity sent
// on two partitions (a crafted key), or an order number taken by another order in flight. The
// first reads before the other's row exists, so its planner can't see it, and writes after the
// other has committed: what that write does is what these tests pin down, in that order.

const ops = (events: EmittedEvent[]) => events.map((e) => decodeValue(Buffer.from(JSON.stringify(e.value))).op as Op);
const kinds = (outcomes: Outcome[]) => outcomes.map((o) => (o.kind === "skipped" ? `skipped:${o.reason}` : o.kind));
const at = (hour: number) => `2026-05-01T${String(hour).padStart(2, "0")}:00:00+00:00`;
const LIMIT = 16 * 1024 * 1024;
const DUPLICATE_ENTRY = 1062;

const isDuplicate = (err: { errno?: number }) => err.errno === DUPLICATE_ENTRY && isBadDataError(err);

/**
 * `late`'s transaction reads what it needs; `other` is applied and committed meanwhile; `late`'s
 * writes must then fail (`failure`: by default as bad data, a duplicate), never change what the
 * other wrote.
 */
async function lateWriteFails(
  pool: Pool,
  late: EmittedEvent,
  other: EmittedEvent,
  failure: (err: { errno?: number }) => boolean = isDuplicate,
): Promise<void> {
  const conn = await pool.getConnection();
  try {
    await conn.query("START TRANSACTION");
    const batch = ops([late]);
    const state = await loadState(conn, batch, LIMIT);
    // Applied, or for a delete of a row that is not there, skipped with its tombstone kept.
    assert.notEqual((await applyBatch(pool, ops([other]))).outcomes[0]?.kind, "rejected");
    await assert.rejects(executePlan(conn, plan(batch, state), LIMIT), failure);
  } finally {
    await conn.query("ROLLBACK");
    conn.release();
  }
}

/**
 * `pool`, but `other` is applied and committed right before the first statement that matches
 * `before` (after the batch's reads); `starts` counts the transactions begun through it.
 */
function racingPool(pool: Pool, other: EmittedEvent[], before: RegExp) {
  let starts = 0;
  let injected = false;
  const racing = {
    getConnection: async () => {
      const conn = await pool.getConnection();
      return new Proxy(conn, {
        get(target, prop) {
          if (prop !== "query") {
            const value = Reflect.get(target, prop);
            return typeof value === "function" ? value.bind(target) : value;
          }
          return async (sql: string, values?: unknown) => {
            if (sql === "START TRANSACTION") starts++;
            if (!injected && before.test(sql)) {
              injected = true;
              await applyBatch(pool, ops(other), { maxAllowedPacket: LIMIT });
            }
            return target.query(sql, values as never);
          };
        },
      });
    },
  } as unknown as Pool;
  return { pool: racing, starts: () => starts };
}

async function setup(t: import("node:test").TestContext) {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  await migrate(pool);
  return { db, pool };
}

const order = (id: string, orderNumber: string, status: string, hour: number) => {
  const e = fixture("order.created");
  const data = { ...(e.value.data as Record<string, unknown>), id, order_number: orderNumber, status };
  return emit("order.created", id, data as never, { timestamp: at(hour) });
};

test("an order number another transaction took meanwhile: the newcomer is dead-lettered, the other order's row is left alone", async (t) => {
  const { db, pool } = await setup(t);
  const victim = "65a1f0c2e4b0a1b2c3d4e5a1";
  const intruder = order("65a1f0c2e4b0a1b2c3d4e5b2", "ORD-RACE-1", "refunded", 11);
  // No items: nothing of the intruder's but its order row is written.
  (intruder.value.data as { items: unknown[] }).items = [];
  await lateWriteFails(pool, intruder, order(victim, "ORD-RACE-1", "pending", 10));
  // What applyBatch does after that error: the event again, in a transaction of its own.
  const { outcomes } = await applyBatch(pool, ops([intruder]));
  assert.equal(outcomes[0]?.kind, "rejected");
  assert.match(
    outcomes[0]?.kind === "rejected" ? outcomes[0].error.message : "",
    /order_number already belongs to orders row/,
  );
  assert.deepEqual(await db.query("SELECT order_id, status FROM orders ORDER BY order_id"), [
    { order_id: victim, status: "pending" },
  ]);
});

test("an entity another transaction created meanwhile with a newer event: the older one is skipped, not written over it", async (t) => {
  const { db, pool } = await setup(t);
  const id = "65a1f0c2e4b0a1b2c3d4e5f6";
  const user = (name: string, hour: number) => {
    const e = fixture("user.created");
    const data = structuredClone(e.value.data) as { profile: { display_name: string } };
    data.profile.display_name = name;
    return emit("user.created", id, data as never, { timestamp: at(hour) });
  };
  await lateWriteFails(pool, user("older", 9), user("newer", 12));
  assert.deepEqual(kinds((await applyBatch(pool, ops([user("older", 9)]))).outcomes), ["skipped:stale"]);
  assert.deepEqual(await db.query("SELECT display_name, event_timestamp FROM users"), [
    { display_name: "newer", event_timestamp: "2026-05-01 12:00:00.000000" },
  ]);
});

test("an entity another transaction deleted meanwhile with a newer event: the older one does not bring it back", async (t) => {
  const { db, pool } = await setup(t);
  const id = "65a1f0c2e4b0a1b2c3d4e5f7";
  const data = { ...(fixture("supplier.created").value.data as object), id };
  const older = emit("supplier.updated", id, data as never, { timestamp: at(10) });
  const deleted = emit("supplier.deleted", id, { supplier_id: id }, { timestamp: at(11) });
  // The delete finds no row, and leaves only its tombstone: nothing for the insert to collide with.
  await lateWriteFails(pool, older, deleted, (err) => err instanceof ConcurrentChangeError);
  // applyBatch runs such a transaction again: it then reads the tombstone.
  assert.deepEqual(kinds((await applyBatch(pool, ops([older]))).outcomes), ["skipped:stale"]);
  assert.deepEqual(await db.query("SELECT supplier_id FROM suppliers"), []);
});

test("a batch that meets a row another transaction inserted meanwhile is run once more whole, not event by event", async (t) => {
  const { db, pool } = await setup(t);
  const user = (id: string) =>
    emit("user.created", id, { ...(fixture("user.created").value.data as object), id, _id: id } as never, {
      timestamp: at(9),
    });
  const users = ["65a1f0c2e4b0a1b2c3d4e511", "65a1f0c2e4b0a1b2c3d4e512", "65a1f0c2e4b0a1b2c3d4e513"].map(user);
  const newcomer = order("65a1f0c2e4b0a1b2c3d4e5b3", "ORD-RACE-2", "pending", 11);
  (newcomer.value.data as { items: unknown[] }).items = [];
  const other = order("65a1f0c2e4b0a1b2c3d4e5a3", "ORD-RACE-2", "pending", 10);
  // The other order commits right before the batch's first write to orders, after its reads.
  const racing = racingPool(pool, [other], /^INSERT INTO `orders`/);
  const { outcomes } = await applyBatch(racing.pool, ops([...users, newcomer]), { maxAllowedPacket: LIMIT });
  assert.deepEqual(kinds(outcomes), ["applied", "applied", "applied", "rejected"]);
  assert.equal(racing.starts(), 2, "the batch, then the batch again");
  assert.deepEqual(await db.query("SELECT order_id FROM orders"), [{ order_id: "65a1f0c2e4b0a1b2c3d4e5a3" }]);
  assert.equal((await db.query("SELECT user_id FROM users")).length, 3);
});

test("an entity another transaction created meanwhile with an older event while this one deletes it: the delete is not lost", async (t) => {
  const { db, pool } = await setup(t);
  const id = "65a1f0c2e4b0a1b2c3d4e5f8";
  const created = emit("supplier.created", id, { ...(fixture("supplier.created").value.data as object), id } as never, {
    timestamp: at(10),
  });
  const deleted = emit("supplier.deleted", id, { supplier_id: id }, { timestamp: at(11) });
  // The delete reads no row and writes only its tombstone; the create's row appeared after its read.
  await lateWriteFails(pool, deleted, created, (err) => err instanceof ConcurrentChangeError);
  // Run again, the delete finds the row, older than itself, and deletes it.
  assert.deepEqual(kinds((await applyBatch(pool, ops([deleted]))).outcomes), ["applied"]);
  assert.deepEqual(await db.query("SELECT supplier_id FROM suppliers"), []);
  assert.deepEqual(await db.query("SELECT entity_id, deleted_event_timestamp FROM entity_tombstones"), [
    { entity_id: id, deleted_event_timestamp: "2026-05-01 11:00:00.000000" },
  ]);
});

test("a row left older than its tombstone (a delete lost that way before) is deleted with the entity's next batch, which applies", async (t) => {
  const { db, pool } = await setup(t);
  const supplier = (id: string, type: "supplier.created" | "supplier.updated", hour: number) =>
    emit(type, id, { ...(fixture("supplier.created").value.data as object), id } as never, { timestamp: at(hour) });
  const lost = "65a1f0c2e4b0a1b2c3d4e5f9";
  const neighbour = "65a1f0c2e4b0a1b2c3d4e5fa";
  await applyBatch(pool, ops([supplier(lost, "supplier.created", 1)]));
  await db.query(
    "INSERT INTO entity_tombstones (entity_type, entity_id, deleted_event_timestamp, event_id) VALUES ('suppliers', ?, ?, 'lost-delete')",
    [lost, "2026-05-01 05:00:00.000000"],
  );
  // A delete and an update older than the tombstone, then another supplier: this batch once
  // failed at every run (its insert met the newer tombstone) and stopped the partition.
  const batch = [
    emit("supplier.deleted", lost, { supplier_id: lost }, { timestamp: at(2) }),
    supplier(lost, "supplier.updated", 3),
    supplier(neighbour, "supplier.created", 4),
  ];
  assert.deepEqual(kinds((await applyBatch(pool, ops(batch))).outcomes), [
    "skipped:no_row",
    "skipped:stale",
    "applied",
  ]);
  assert.deepEqual(await db.query("SELECT supplier_id FROM suppliers"), [{ supplier_id: neighbour }]);
  // An event as new as the delete brings the entity back.
  assert.deepEqual(kinds((await applyBatch(pool, ops([supplier(lost, "supplier.updated", 5)]))).outcomes), ["applied"]);
  assert.equal((await db.query("SELECT supplier_id FROM suppliers")).length, 2);
});

// A create and a delete of an entity with no row fold into nothing to write. A DELETE sent for it
// anyway, by key and with no lock from the batch's read (there was no row to lock), removed a row
// another partition's transaction committed meanwhile, however much newer.
const FIRST_WRITE = /^(INSERT|DELETE|UPDATE)\b/;

const product = (id: string, type: "product.created" | "product.updated", name: string, hour: number) =>
  emit(type, id, { ...(fixture("product.created").value.data as object), id, name } as never, { timestamp: at(hour) });

test("a product created and deleted in one batch while it has no row leaves alone the newer row another transaction commits meanwhile", async (t) => {
  const { db, pool } = await setup(t);
  const id = "65a1f0c2e4b0a1b2c3d4e5c1";
  const batch = [product(id, "product.created", "first", 10), emit("product.deleted", id, {}, { timestamp: at(11) })];
  const racing = racingPool(pool, [product(id, "product.updated", "newer", 12)], FIRST_WRITE);
  const { outcomes } = await applyBatch(racing.pool, ops(batch), { maxAllowedPacket: LIMIT });
  assert.deepEqual(kinds(outcomes), ["applied", "applied"]);
  assert.deepEqual(await db.query("SELECT name, event_timestamp FROM products"), [
    { name: "newer", event_timestamp: "2026-05-01 12:00:00.000000" },
  ]);
  assert.equal((await db.query("SELECT id FROM product_variants")).length, 2);
});

test("a product created and deleted in one batch while it has no row still deletes the older row another transaction commits meanwhile", async (t) => {
  const { db, pool } = await setup(t);
  const id = "65a1f0c2e4b0a1b2c3d4e5c3";
  const batch = [product(id, "product.created", "first", 10), emit("product.deleted", id, {}, { timestamp: at(11) })];
  const racing = racingPool(pool, [product(id, "product.updated", "older", 5)], FIRST_WRITE);
  assert.deepEqual(kinds((await applyBatch(racing.pool, ops(batch), { maxAllowedPacket: LIMIT })).outcomes), [
    "applied",
    "applied",
  ]);
  assert.deepEqual(await db.query("SELECT product_id FROM products"), []);
  assert.deepEqual(await db.query("SELECT id FROM product_variants"), []);
});

test("a supplier created, deleted and created again in one batch while it has no row does not replace the newer row another transaction commits meanwhile", async (t) => {
  const { db, pool } = await setup(t);
  const id = "65a1f0c2e4b0a1b2c3d4e5c2";
  const supplier = (type: "supplier.created" | "supplier.updated", legal: string, hour: number) => {
    const data = structuredClone(fixture("supplier.created").value.data) as { company_info: { legal_name: string } };
    data.company_info.legal_name = legal;
    return emit(type, id, data as never, { timestamp: at(hour) });
  };
  const batch = [
    supplier("supplier.created", "first", 10),
    emit("supplier.deleted", id, {}, { timestamp: at(11) }),
    supplier("supplier.updated", "older", 13),
  ];
  const racing = racingPool(pool, [supplier("supplier.updated", "newer", 20)], FIRST_WRITE);
  const { outcomes } = await applyBatch(racing.pool, ops(batch), { maxAllowedPacket: LIMIT });
  // Run again against the other's row (a duplicate key), the batch's events are all older than it.
  assert.deepEqual(kinds(outcomes), ["skipped:stale", "skipped:stale", "skipped:stale"]);
  assert.deepEqual(await db.query("SELECT legal_name, event_timestamp FROM suppliers"), [
    { legal_name: "newer", event_timestamp: "2026-05-01 20:00:00.000000" },
  ]);
});
