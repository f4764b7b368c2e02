import type { Pool, PoolConnection } from "mysql2/promise";
import { describeBadData, isBadDataError } from "../db/pool.ts";
import { BadEventError, BadEventReasons, DatabaseUnavailableError, messageOf } from "../errors.ts";
import type { Op } from "./ops.ts";
import { type Outcome, plan } from "./plan.ts";
import { executePlan, loadState, type RowCounts } from "./store.ts";

// Applies one partition's batch: one transaction for all of it. If the server rejects the data,
// the batch is replayed one event per transaction, so only the event it rejects is dead-lettered
// and every neighbour is applied. Any other database error is the database's problem, not the
// event's: it is thrown as retryable and the caller waits it out.

export interface BatchResult {
  outcomes: Outcome[];
  rows: RowCounts;
}

export async function applyBatch(pool: Pool, items: readonly (Op | Outcome)[]): Promise<BatchResult> {
  if (!items.some(isOp)) return { outcomes: items as Outcome[], rows: new Map() };
  try {
    return await inTransaction(pool, items);
  } catch (err) {
    if (!isBadDataError(err)) throw unavailable(err);
  }
  const outcomes: Outcome[] = [];
  const rows: RowCounts = new Map();
  for (const item of items) {
    try {
      const one = await inTransaction(pool, [item]);
      outcomes.push(one.outcomes[0] as Outcome);
      for (const [k, n] of one.rows) rows.set(k, (rows.get(k) ?? 0) + n);
    } catch (err) {
      if (!isBadDataError(err)) throw unavailable(err);
      outcomes.push({
        kind: "rejected",
        error: new BadEventError(BadEventReasons.REJECTED_BY_DATABASE, describeBadData(err)),
      });
    }
  }
  return { outcomes, rows };
}

const isOp = (item: Op | Outcome): item is Op => "table" in item;

async function inTransaction(pool: Pool, items: readonly (Op | Outcome)[]): Promise<BatchResult> {
  const conn = await pool.getConnection();
  let healthy = false;
  try {
    await conn.query("START TRANSACTION");
    const state = await loadState(conn, items.filter(isOp));
    const p = plan(items, state);
    const rows = await executePlan(conn, p);
    await conn.query("COMMIT");
    healthy = true;
    return { outcomes: p.outcomes, rows };
  } catch (err) {
    healthy = await rollback(conn);
    throw err;
  } finally {
    // A connection whose rollback failed may hold a half-open transaction: never reuse it.
    if (healthy) conn.release();
    else conn.destroy();
  }
}

async function rollback(conn: PoolConnection): Promise<boolean> {
  try {
    await conn.query("ROLLBACK");
    return true;
  } catch {
    // The error that made us roll back is the one to report; this connection is discarded.
    return false;
  }
}

function unavailable(err: unknown): DatabaseUnavailableError {
  return err instanceof DatabaseUnavailableError ? err : new DatabaseUnavailableError(`MySQL: ${messageOf(err)}`, err);
}
