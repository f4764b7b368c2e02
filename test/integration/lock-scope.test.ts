import assert from "node:assert/strict";
import { test } from "node:test";
import type { Connection } from "mysql2/promise";
import { migrate } from "../../src/db/migrate.ts";
import { suppliersTable } from "../../src/domains/suppliers/table.ts";
import { emit } from "../../src/generate/emit.ts";
import type { Op } from "../../src/plan/ops.ts";
import { decodeValue } from "../../src/testing/domain-helpers.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  deleteByKey,
  type Statement,
  selectTombstones,
  selectVersions,
  updateRows,
} from "../../src/write/statements.ts";
import { executePlan } from "../../src/write/store.ts";
import { applyBatch } from "../../src/write/transaction.ts";
import { hexId, testDatabase, testPool } from "../support/helpers.ts";

// A batch locks the rows it names and no others. Two batches of different partitions touch
// different entities, so they can only deadlock if a statement locks rows it does not name: a
// table scan under REPEATABLE READ does, and both servers choose one for a key list that is a good
// part of a small table. Here another transaction holds one row, and each of the service's
// locking statements, on a hundred of the other rows, must go through without waiting for it.

const ROWS = 200;
const ids = Array.from({ length: ROWS }, (_, i) => hexId(i, "5c"));
/** Suppliers deleted before they were ever seen: only their tombstones are stored. */
const gone = Array.from({ length: ROWS }, (_, i) => hexId(i, "5d"));
const decodeOp = (e: { value: unknown }) => decodeValue(Buffer.from(JSON.stringify(e.value))).op as Op;

async function seed(t: import("node:test").TestContext) {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  await migrate(pool);
  const doc = fixture("supplier.created").value.data as never;
  const timestamp = "2026-05-01T00:00:00Z";
  const created = ids.map((id) => decodeOp(emit("supplier.created", id, doc, { timestamp })));
  const deleted = gone.map((id) => decodeOp(emit("supplier.deleted", id, {} as never, { timestamp })));
  const { outcomes } = await applyBatch(pool, [...created, ...deleted]);
  assert.equal(outcomes.filter((o) => o.kind === "applied").length, ROWS);
  assert.equal((await db.query("SELECT 1 FROM entity_tombstones")).length, ROWS);
  await db.query("ANALYZE TABLE suppliers, entity_tombstones");
  return db;
}

/** Runs `s` in a transaction that gives up after a second's wait for a lock. */
async function runBeside(conn: Connection, s: Statement): Promise<void> {
  await conn.query("SET SESSION innodb_lock_wait_timeout = 1");
  await conn.query("START TRANSACTION");
  try {
    await conn.query(s.sql, s.values);
  } finally {
    await conn.query("ROLLBACK");
  }
}

test("each locking statement locks only the rows it names, even on a small table", async (t) => {
  const db = await seed(t);
  const holder = await db.connect();
  const other = await db.connect();
  const held = ids[0] as string;
  await holder.query("START TRANSACTION");
  await holder.query("SELECT supplier_id FROM suppliers WHERE supplier_id = ? FOR UPDATE", [held]);
  await holder.query(
    "SELECT entity_id FROM entity_tombstones WHERE entity_type = 'suppliers' AND entity_id = ? FOR UPDATE",
    [gone[0]],
  );
  // Half the rows, from the far end of the key order: a scan from the start meets the held row first.
  const named = ids.slice(-ROWS / 2);
  const statements: [string, Statement][] = [
    ["selectVersions", selectVersions(suppliersTable, named)],
    ["selectTombstones", selectTombstones(suppliersTable, gone.slice(-ROWS / 2))],
    [
      "updateRows",
      updateRows(
        suppliersTable,
        ["city"],
        named.map((id) => ({ id, set: { city: "Haifa" } })),
      ),
    ],
    ["deleteByKey", deleteByKey(suppliersTable, named)],
  ];
  try {
    for (const [name, s] of statements) {
      await assert.doesNotReject(runBeside(other, s), `${name} waited for a row it does not name`);
    }
  } finally {
    // Before the database is dropped, which would wait for this transaction.
    await holder.query("ROLLBACK");
  }
});

test("a plan deleting all but one of a small table's rows deletes each by its key, never waiting on the one", async (t) => {
  const db = await seed(t);
  const holder = await db.connect();
  const other = await db.connect();
  await holder.query("START TRANSACTION");
  await holder.query("SELECT supplier_id FROM suppliers WHERE supplier_id = ? FOR UPDATE", [ids[0]]);
  // By a list of 199 of 200 keys, a DELETE scans the table whatever the index hint, and waited here.
  const deletes = ids.slice(1).map((id) => ({ kind: "delete" as const, table: suppliersTable, id }));
  try {
    await other.query("SET SESSION innodb_lock_wait_timeout = 1");
    await other.query("START TRANSACTION");
    await assert.doesNotReject(executePlan(other, { outcomes: [], rounds: [deletes], tombstones: [] }, 16 << 20));
    const [left] = await other.query("SELECT COUNT(*) AS n FROM suppliers");
    assert.deepEqual(left, [{ n: "1" }]);
  } finally {
    await other.query("ROLLBACK");
    await holder.query("ROLLBACK");
  }
});
