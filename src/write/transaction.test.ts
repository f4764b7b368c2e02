import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pool } from "mysql2/promise";
import { ConcurrentChangeError, DatabaseUnavailableError } from "../errors.ts";
import { defineTable, type UpsertOp } from "./ops.ts";
import { applyBatch } from "./transaction.ts";

// A deadlock victim is run again and counted, not reported as an outage; one that keeps coming
// back is handed on as the database's trouble. The pool is a stand-in that fails COMMIT on cue.

const users = defineTable("users", "user_id", ["user_id", "event_timestamp"]);
const op: UpsertOp = {
  kind: "upsert",
  table: users,
  id: "u1",
  ts: "2026-01-01 00:00:00.000000",
  eventId: "e",
  row: { user_id: "u1", event_timestamp: "2026-01-01 00:00:00.000000" },
  update: ["event_timestamp"],
};
const deadlock = Object.assign(new Error("Deadlock found when trying to get lock"), { errno: 1213 });

/** A pool whose COMMIT fails with a deadlock (or `failure`) the first `deadlocks` times. */
function pool(deadlocks: number, failure: Error = deadlock) {
  const log: string[] = [];
  let left = deadlocks;
  const conn = {
    query: async (sql: string) => {
      log.push(sql.split(" ")[0] as string);
      if (sql === "COMMIT" && left-- > 0) throw failure;
      return [[], []];
    },
    release: () => {},
    destroy: () => {},
  };
  return { pool: { getConnection: async () => conn } as unknown as Pool, log };
}

test("a deadlock victim is run again and counted; the batch is applied", async () => {
  const { pool: p, log } = pool(2);
  let counted = 0;
  const result = await applyBatch(p, [op], { maxAllowedPacket: 1 << 20, onDeadlock: () => counted++ });
  assert.deepEqual(result.outcomes, [{ kind: "applied" }]);
  assert.equal(counted, 2);
  assert.equal(log.filter((s) => s === "ROLLBACK").length, 2);
  assert.equal(log.filter((s) => s === "COMMIT").length, 3);
});

test("a deadlock that keeps coming back is an outage, after five runs again", async () => {
  const { pool: p } = pool(100);
  let counted = 0;
  await assert.rejects(
    applyBatch(p, [op], { maxAllowedPacket: 1 << 20, onDeadlock: () => counted++ }),
    (err: unknown) => err instanceof DatabaseUnavailableError && /Deadlock/.test(err.message),
  );
  assert.equal(counted, 5);
});

test("a transaction another one changed the ground under is run again, not counted as a deadlock", async () => {
  const { pool: p, log } = pool(1, new ConcurrentChangeError("users row u1 was deleted by another transaction"));
  let counted = 0;
  const result = await applyBatch(p, [op], { maxAllowedPacket: 1 << 20, onDeadlock: () => counted++ });
  assert.deepEqual(result.outcomes, [{ kind: "applied" }]);
  assert.equal(counted, 0);
  assert.equal(log.filter((s) => s === "COMMIT").length, 2);
});
