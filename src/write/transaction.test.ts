import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pool } from "mysql2/promise";
import { ConcurrentChangeError, ConfigError, DatabaseUnavailableError } from "../errors.ts";
import { defineTable, type UpsertOp } from "../plan/ops.ts";
import { AbandonedError, PartitionMovedError } from "../retry.ts";
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
  let commits = 0;
  const onCommit = () => commits++;
  const result = await applyBatch(p, [op], { maxAllowedPacket: 1 << 20, onDeadlock: () => counted++, onCommit });
  assert.deepEqual(result.outcomes, [{ kind: "applied" }]);
  assert.equal(counted, 2);
  assert.equal(commits, 1, "only the COMMIT MySQL took tells /readyz it answers");
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

test("a change under the transaction that comes back at every run is the event's, dead-lettered as concurrent_change, never an outage", async () => {
  // Waited out as an outage, it stopped the partition for ever (a row older than its tombstone, before store.ts read both).
  const why = "suppliers row s1 was deleted by another transaction (2026-01-01 00:00:05.000000) after this one read it";
  const { pool: p, log } = pool(Number.POSITIVE_INFINITY, new ConcurrentChangeError(why));
  const result = await applyBatch(p, [op], { maxAllowedPacket: 1 << 20 });
  const [failed] = result.outcomes;
  // Not a bug: the breaker does not count it, and no stack is logged.
  assert.ok(failed?.kind === "rejected" && failed.unexpected === undefined);
  assert.equal(failed.error.reason, "concurrent_change");
  assert.equal(failed.error.message, why);
  assert.equal(log.filter((s) => s === "COMMIT").length, 6, "six runs of the batch, the event alone: not six more");
});

test("an event the code fails on while writing is dead-lettered alone as unexpected_error; its neighbours apply", async () => {
  const { pool: p, log } = pool(0);
  // A value no validated document can hold: building its statement throws a TypeError (a bug's stand-in).
  const broken: UpsertOp = { ...op, id: "u2", row: { ...op.row, user_id: Symbol("u2") as never } };
  const result = await applyBatch(p, [op, broken, { ...op, id: "u3" }], { maxAllowedPacket: 1 << 20 });
  assert.deepEqual(result.outcomes[0], { kind: "applied" });
  assert.deepEqual(result.outcomes[2], { kind: "applied" });
  const [, failed] = result.outcomes;
  assert.equal(failed?.kind, "rejected");
  assert.ok(failed?.kind === "rejected" && failed.unexpected instanceof TypeError);
  assert.equal(failed.error.reason, "unexpected_error");
  assert.equal(failed.error.message, "unexpected TypeError while writing the event");
  // The batch, then its halves ([op, broken] and [u3]), the failing half's halves.
  assert.equal(log.filter((s) => s === "START").length, 5);
  assert.equal(log.filter((s) => s === "COMMIT").length, 2, "the two good events");
});

test("one bad event in a large batch costs a few transactions, not one per event: the batch is halved down to it", async () => {
  const { pool: p, log } = pool(0);
  const events = Array.from({ length: 64 }, (_, i) => ({ ...op, id: `u${i}`, row: { ...op.row, user_id: `u${i}` } }));
  events[41] = { ...op, id: "u41", row: { ...op.row, user_id: Symbol("u41") as never } };
  const result = await applyBatch(p, events, { maxAllowedPacket: 1 << 20 });
  assert.deepEqual(
    result.outcomes.map((o) => o.kind),
    events.map((_, i) => (i === 41 ? "rejected" : "applied")),
  );
  // The batch, then two halves on each of log2(64) levels: 13 transactions, where one per event made 65.
  assert.equal(log.filter((s) => s === "START").length, 13);
  // Each good event committed once, in as few transactions as the halving leaves.
  assert.equal(log.filter((s) => s === "COMMIT").length, 6);
});

test("the driver's and the network's errors stay outages, whatever their class", async () => {
  for (const failure of [
    Object.assign(new TypeError("Cannot read properties of null (reading 'write')"), { fatal: true }),
    Object.assign(new RangeError("Lost connection to MySQL server during query"), { errno: 2013 }),
    Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:3306"), { code: "ECONNREFUSED" }),
    Object.assign(new RangeError("The value of offset is out of range"), { code: "ERR_OUT_OF_RANGE" }),
    new Error("Pool is closed."),
  ]) {
    const { pool: p } = pool(1, failure);
    await assert.rejects(applyBatch(p, [op], { maxAllowedPacket: 1 << 20 }), DatabaseUnavailableError, failure.message);
  }
});

test("a batch is halved by its events, not its items: the outcomes among them cost no transaction", async () => {
  const { pool: p, log } = pool(0);
  const skipped = { kind: "skipped", reason: "unknown_type" } as const;
  const broken: UpsertOp = { ...op, id: "u2", row: { ...op.row, user_id: Symbol("u2") as never } };
  const result = await applyBatch(p, [...Array(10).fill(skipped), op, broken], { maxAllowedPacket: 1 << 20 });
  assert.deepEqual(
    result.outcomes.map((o) => o.kind),
    [...Array(10).fill("skipped"), "applied", "rejected"],
  );
  // The batch, then its two events apart; halved by items, [op, broken] was tried twice more.
  assert.equal(log.filter((s) => s === "START").length, 3);
});

test("in the batch applied in halves, a duplicate key is run once more (another transaction's row); one that comes back is dead-lettered", async () => {
  const badData = Object.assign(new Error("Column 'x' cannot be null"), { errno: 1048 });
  const duplicate = Object.assign(new Error("Duplicate entry 'u1' for key 'PRIMARY'"), { errno: 1062 });
  /** A pool whose successive COMMITs fail as `failures` says (undefined: succeeds). */
  const failing = (failures: (Error | undefined)[]) => {
    const conn = {
      query: async (sql: string) => {
        if (sql === "COMMIT" && failures.length > 0) {
          const failure = failures.shift();
          if (failure) throw failure;
        }
        return [[], []];
      },
      release: () => {},
      destroy: () => {},
    };
    return { getConnection: async () => conn } as unknown as Pool;
  };
  const other: UpsertOp = { ...op, id: "u2", row: { ...op.row, user_id: "u2" } };
  // The batch fails for the other event; this one's own transaction meets a row inserted meanwhile, then applies.
  const raced = await applyBatch(failing([badData, duplicate, undefined, badData]), [op, other], {
    maxAllowedPacket: 1 << 20,
  });
  assert.deepEqual(
    raced.outcomes.map((o) => (o.kind === "rejected" ? o.error.reason : o.kind)),
    ["applied", "rejected_by_database"],
  );
  const twice = await applyBatch(failing([badData, duplicate, duplicate]), [op, other], { maxAllowedPacket: 1 << 20 });
  assert.deepEqual(
    twice.outcomes.map((o) => (o.kind === "rejected" ? o.error.reason : o.kind)),
    ["rejected_by_database", "applied"],
  );
});

test("a write refused for want of a right (a grant revoked) stops the service in one line, not an outage waited out", async () => {
  const refused = Object.assign(new Error("x"), {
    errno: 1142,
    sqlMessage: "INSERT command denied to user 'svc'@'%' for table `analytics`.`users`",
  });
  const { pool: p } = pool(1, refused);
  await assert.rejects(
    applyBatch(p, [op], { maxAllowedPacket: 1 << 20 }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message ===
        "MySQL: INSERT command denied to user 'svc'@'%' for table `analytics`.`users`; grant SELECT, INSERT, UPDATE, DELETE on the MYSQL_DATABASE database to the MYSQL_USER account, then start the service again",
  );
});

test("one entity's events written as one row too large for a statement: applied in halves down to single events, never sent whole", async () => {
  const limit = 64 * 1024;
  const wide = defineTable("users", "user_id", ["user_id", "a", "b", "event_timestamp"]);
  const event = (n: number, row: Record<string, string>): UpsertOp => ({
    kind: "upsert",
    table: wide,
    id: "u1",
    ts: `2026-01-01 00:00:0${n}.000000`,
    eventId: `e${n}`,
    row: { user_id: "u1", a: "", b: "", event_timestamp: `2026-01-01 00:00:0${n}.000000`, ...row },
    update: ["b", "event_timestamp"],
  });
  // Created with a 40 KB `a`, then updated with a 40 KB `b`: the row inserted once holds both.
  const batch = [event(1, { a: "x".repeat(40_000) }), event(2, { b: "y".repeat(40_000) })];
  const sent: number[] = [];
  const conn = {
    query: async (sql: string) => {
      const bytes = Buffer.byteLength(sql) + 1;
      sent.push(bytes);
      // What the server does with a packet it refuses: it may simply close the connection.
      if (bytes >= limit)
        throw Object.assign(new Error("Connection lost"), { code: "PROTOCOL_CONNECTION_LOST", fatal: true });
      return [[], []];
    },
    release: () => {},
    destroy: () => {},
  };
  const p = { getConnection: async () => conn } as unknown as Pool;
  const { outcomes } = await applyBatch(p, batch, { maxAllowedPacket: limit });
  assert.deepEqual(outcomes, [{ kind: "applied" }, { kind: "applied" }]);
  assert.ok(Math.max(...sent) < limit, `largest statement sent: ${Math.max(...sent)} bytes`);
});

test("a transaction whose partition moves while it waits (for a connection, a lock) is rolled back, not committed", async () => {
  const { pool: p, log } = pool(0);
  let owned = true;
  const waiting = {
    // The question is asked, then the pool has no connection free until a rebalance has come and gone.
    getConnection: async () => {
      owned = false;
      return (p as unknown as { getConnection: () => Promise<unknown> }).getConnection();
    },
  } as unknown as Pool;
  await assert.rejects(
    applyBatch(waiting, [op], {
      maxAllowedPacket: 1 << 20,
      owned: { held: () => owned, confirmed: async () => owned, confirmedNow: () => owned },
    }),
    (err: unknown) => err instanceof PartitionMovedError,
  );
  assert.equal(log.includes("COMMIT"), false, "nothing committed for a partition another member owns");
  assert.equal(log.includes("ROLLBACK"), true);
});

test("the lease is confirmed before a transaction takes a connection, not while it holds locks; one that runs out mid-transaction rolls it back and runs it again", async () => {
  const { pool: p, log } = pool(0);
  const asked: string[] = [];
  let lease = true;
  let lapses = 1;
  const result = await applyBatch(p, [op], {
    maxAllowedPacket: 1 << 20,
    owned: {
      held: () => true,
      confirmed: async () => {
        asked.push(`confirmed after ${log.length} statements`);
        lease = true;
        return true;
      },
      // A rebalance begins while the first run's writes are out: the lease does not hold at its commit.
      confirmedNow: () => {
        asked.push(`now after ${log.at(-1)}`);
        if (lapses-- > 0) lease = false;
        return lease;
      },
    },
  });
  assert.deepEqual(result.outcomes, [{ kind: "applied" }]);
  assert.deepEqual(asked, [
    "confirmed after 0 statements",
    "now after INSERT",
    `confirmed after ${log.indexOf("ROLLBACK") + 1} statements`,
    "now after INSERT",
  ]);
  assert.deepEqual(
    log.filter((q) => q === "COMMIT" || q === "ROLLBACK"),
    ["ROLLBACK", "COMMIT"],
  );
});

test("a transaction whose lease is not confirmed again is rolled back and dropped, never committed", async () => {
  const { pool: p, log } = pool(0);
  let confirms = 0;
  await assert.rejects(
    applyBatch(p, [op], {
      maxAllowedPacket: 1 << 20,
      owned: {
        held: () => true,
        confirmed: async () => confirms++ === 0,
        confirmedNow: () => false,
      },
    }),
    (err: unknown) => err instanceof PartitionMovedError,
  );
  assert.equal(confirms, 2, "run again once, and its wait for the lease said no");
  assert.equal(log.includes("COMMIT"), false);
  assert.equal(log.filter((q) => q === "ROLLBACK").length, 1);
});

test("shutdown during the wait for the lease abandons the batch: no transaction, not an outage", async () => {
  const { pool: p, log } = pool(0);
  await assert.rejects(
    applyBatch(p, [op], {
      maxAllowedPacket: 1 << 20,
      owned: {
        held: () => true,
        confirmed: async () => {
          throw new AbandonedError();
        },
        confirmedNow: () => true,
      },
    }),
    (err: unknown) => err instanceof AbandonedError,
  );
  assert.deepEqual(log, []);
});
