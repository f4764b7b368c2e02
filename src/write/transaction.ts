import { setTimeout } from "node:timers/promises";
import type { Pool, PoolConnection } from "mysql2/promise";
import { readMaxAllowedPacket } from "../db/pool.ts";
import { isRightRefused, rightsError } from "../db/rights.ts";
import { outageAdvice } from "../db/schema-drift.ts";
import { describeBadData, errnoOf, isBadDataError, isConnectionGone } from "../db/server-errors.ts";
import {
  BadEventError,
  BadEventReasons,
  ConcurrentChangeError,
  type ConfigError,
  DatabaseUnavailableError,
  messageOf,
} from "../errors.ts";
import type { Op, Outcome } from "../plan/ops.ts";
import { plan } from "../plan/plan.ts";
import { AbandonedError, MembershipUnconfirmedError, PartitionMovedError } from "../retry.ts";
import { StatementTooLargeError, tooLarge } from "./row-size.ts";
import { addRowCounts, executePlan, loadState, type RowCounts } from "./store.ts";

// Applies one partition's batch: one transaction for all of it. If the server rejects the data,
// or the code that plans and writes it fails (a bug an event's content may reach), the batch is
// applied again in halves, and a half that fails in halves again, so only the event that fails is
// dead-lettered and every neighbour is applied. Any other database error is the database's
// problem, not the event's: it is thrown as retryable and the caller waits it out.

export interface BatchResult {
  outcomes: Outcome[];
  rows: RowCounts;
}

export interface ApplyOptions {
  /**
   * The server's limit on one statement; without it, it is read from the server on the pool's
   * first batch and kept until a batch fails (the server may have been restarted with another
   * limit), then read again.
   */
  maxAllowedPacket?: number;
  /** Called for each transaction InnoDB rolled back as a deadlock victim and that is run again. */
  onDeadlock?: () => void;
  /** Whether the batch's partitions are still this member's (PartitionMovedError when not). */
  owned?: Ownership;
  /** Called for each transaction MySQL committed: /readyz takes it as MySQL answering. */
  onCommit?: () => void;
}

/** Whether a batch's partitions are still this member's. */
export interface Ownership {
  /** As far as the member has heard. */
  held(): boolean;
  /**
   * Held, and the group's coordinator has heard from the member within its session timeout and no
   * rebalance is under way (read/membership-lease.ts): asked before each transaction, waiting for
   * the coordinator's answer when need be, so that no transaction holds locks while it waits.
   */
  confirmed(): Promise<boolean>;
  /** The same without waiting: asked right before each commit. */
  confirmedNow(): boolean;
}

const ALWAYS_OWNED: Ownership = { held: () => true, confirmed: async () => true, confirmedNow: () => true };

export async function applyBatch(
  pool: Pool,
  items: readonly (Op | Outcome)[],
  options: ApplyOptions = {},
): Promise<BatchResult> {
  if (!items.some(isOp)) return { outcomes: items as Outcome[], rows: new Map() };
  const limit = options.maxAllowedPacket ?? (await packetLimit(pool));
  const transaction = (batch: readonly (Op | Outcome)[]) =>
    rerunningWhenRolledBack(() => inTransaction(pool, batch, limit, options), options.onDeadlock);
  // An event with a row no statement can carry is refused before anything is sent.
  const checked = items.map((item): Op | Outcome => {
    if (!isOp(item)) return item;
    const why = tooLarge(item, limit);
    return why === undefined ? item : { kind: "rejected", error: new BadEventError(BadEventReasons.TOO_LARGE, why) };
  });
  // A duplicate key is first taken for a race (another partition's transaction inserted the row
  // or took the unique value after this one read it): run again, the whole batch is planned
  // against it. Halved at once, a race would cost transactions for nothing.
  return await tried(checked, transaction);
}

type Transaction = (batch: readonly (Op | Outcome)[]) => Promise<BatchResult>;

/**
 * `items` in one transaction, or, when some event is to blame for its failure, in halves, each
 * tried the same way in order: down to the one event to blame, whose outcome the failure gives,
 * while its neighbours apply. One bad event costs a batch of n about 2·log2(n) transactions, not
 * one per event (a producer sending one event the server refuses in each batch held the drain to
 * a transaction per event); a batch of bad events about twice as many as its events.
 */
async function tried(items: readonly (Op | Outcome)[], transaction: Transaction): Promise<BatchResult> {
  const ops = items.filter(isOp).length;
  if (ops === 0) return { outcomes: items as Outcome[], rows: new Map() };
  try {
    return await onceMoreOnDuplicate(() => transaction(items));
  } catch (err) {
    const rejected = blame(err);
    if (rejected === undefined) throw unavailable(err);
    if (ops === 1) return { outcomes: items.map((item) => (isOp(item) ? rejected : item)), rows: new Map() };
  }
  // Halved by events, not items: the outcomes among them (skipped, refused before sending) cost nothing.
  let middle = 0;
  for (let seen = 0; seen < Math.ceil(ops / 2); middle++) if (isOp(items[middle] as Op | Outcome)) seen++;
  const first = await tried(items.slice(0, middle), transaction);
  const second = await tried(items.slice(middle), transaction);
  const rows: RowCounts = new Map(first.rows);
  addRowCounts(rows, second.rows);
  return { outcomes: [...first.outcomes, ...second.outcomes], rows };
}

const isOp = (item: Op | Outcome): item is Op => "table" in item;

/**
 * What an error gives the events of its transaction when they are to blame: the server refused
 * their data, a statement of theirs can't be sent, or this code failed on them. Undefined when it
 * is the database's trouble, not theirs: an outage to wait out. Said of a batch, it is applied in
 * halves; of one event, it is that event's outcome.
 */
function blame(err: unknown): Outcome | undefined {
  if (isCodeFault(err)) return faulted(err);
  // Run again as many times as a deadlock, and still changed under it: the entity is written by
  // another partition as fast as this one retries. Waited out as an outage, that stopped the
  // partition for ever; counted as a bug, a producer could trip the breaker with it.
  if (err instanceof ConcurrentChangeError) {
    return { kind: "rejected", error: new BadEventError(BadEventReasons.CONCURRENT_CHANGE, err.message) };
  }
  if (err instanceof StatementTooLargeError) {
    return { kind: "rejected", error: new BadEventError(BadEventReasons.TOO_LARGE, err.message) };
  }
  if (isBadDataError(err)) {
    return { kind: "rejected", error: new BadEventError(BadEventReasons.REJECTED_BY_DATABASE, describeBadData(err)) };
  }
  return undefined;
}

/** ER_DUP_ENTRY. */
const DUPLICATE_ENTRY = 1062;

/**
 * A transaction that failed on a duplicate key is run once more. The key may be a row another
 * transaction inserted after this one read it as free (an entity sent on two partitions, an order
 * number taken in flight): run again, the events are planned against that row (stale, an update,
 * or a rejection naming its owner). A duplicate that comes back is the events' own.
 */
async function onceMoreOnDuplicate(transaction: () => Promise<BatchResult>): Promise<BatchResult> {
  try {
    return await transaction();
  } catch (err) {
    if (errnoOf(err) !== DUPLICATE_ENTRY) throw err;
    return await transaction();
  }
}

/**
 * JavaScript's own errors, thrown by this code while it reads, plans or writes: a bug, not the
 * database's trouble. Retried as an outage, an event that reaches it would stop its partition for
 * ever. An error with a code (the driver's, the network's, Node's own ERR_*) is taken for the
 * database's or the connection's trouble and waited out as an outage.
 */
function isCodeFault(err: unknown): err is Error {
  if (!(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError)) return false;
  return !("errno" in err) && !("sqlState" in err) && !("fatal" in err) && !("code" in err);
}

/** The event whose own transaction failed in the code: dead-lettered, named by class only (a message may quote the event). */
function faulted(err: Error): Outcome {
  const message = `unexpected ${err.name} while writing the event`;
  return { kind: "rejected", error: new BadEventError(BadEventReasons.UNEXPECTED_ERROR, message), unexpected: err };
}

/** ER_LOCK_DEADLOCK: InnoDB rolled the whole transaction back, and asks for it to be run again. */
const DEADLOCK = 1213;
/** Runs of one transaction after a deadlock before it counts as the database's trouble (an outage). */
const DEADLOCK_RETRIES = 5;

/**
 * A deadlock is not an outage: the server resolved it by rolling one transaction back, and
 * running that again is the cure. Locks are taken in one global order (store.ts), so this is
 * rare; it is counted, and only a deadlock that keeps coming back is handed on as an outage. A
 * row deleted by another transaction after this one read it (ConcurrentChangeError) is cured the
 * same way: run again, the transaction reads the delete.
 */
async function rerunningWhenRolledBack<T>(work: () => Promise<T>, onDeadlock?: () => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      // Rolled back for a lease that ran out mid-transaction: the next run first waits to confirm it.
      if (err instanceof MembershipUnconfirmedError && attempt <= DEADLOCK_RETRIES) continue;
      const deadlock = errnoOf(err) === DEADLOCK;
      if ((!deadlock && !(err instanceof ConcurrentChangeError)) || attempt > DEADLOCK_RETRIES) throw err;
      if (deadlock) onDeadlock?.();
      // A short random pause, so the two transactions do not meet again in the same step.
      await setTimeout(Math.random() * 10 * attempt);
    }
  }
}

const packetLimits = new WeakMap<Pool, number>();

async function packetLimit(pool: Pool): Promise<number> {
  const known = packetLimits.get(pool);
  if (known !== undefined) return known;
  let limit: number;
  try {
    limit = await readMaxAllowedPacket(pool);
  } catch (err) {
    throw unavailable(err);
  }
  packetLimits.set(pool, limit);
  return limit;
}

async function inTransaction(
  pool: Pool,
  items: readonly (Op | Outcome)[],
  limit: number,
  { owned = ALWAYS_OWNED, onCommit }: Pick<ApplyOptions, "owned" | "onCommit">,
): Promise<BatchResult> {
  // Asked before the transaction's waits (a connection, row locks), which may outlast a rebalance,
  // and again after them, before the commit: the new owner may have written the partition's later
  // events meanwhile. Asked first, a moved batch takes no connection and no lock. Every write
  // precedes the last question, so a new owner's writes of the same rows wait for this commit.
  if (!owned.held() || !(await owned.confirmed())) throw new PartitionMovedError();
  const conn = await pool.getConnection();
  let healthy = false;
  try {
    await conn.query("START TRANSACTION");
    const state = await loadState(conn, items.filter(isOp), limit);
    const p = plan(items, state);
    const rows = await executePlan(conn, p, limit);
    if (!owned.confirmedNow()) throw owned.held() ? new MembershipUnconfirmedError() : new PartitionMovedError();
    await conn.query("COMMIT");
    healthy = true;
    onCommit?.();
    return { outcomes: p.outcomes, rows };
  } catch (err) {
    // Whatever failed, the next batch reads the limit again: a server restarted with a smaller
    // one would otherwise be sent statements it drops the connection over, again and again.
    packetLimits.delete(pool);
    healthy = !isConnectionGone(err) && (await rollback(conn));
    throw err;
  } finally {
    // A connection whose rollback failed may hold a half-open transaction, and one the server
    // closed (an oversized packet) is dead: never reuse either.
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

/** What a database error means for the service: an outage to wait out, unless a grant is missing (that stops it). */
function unavailable(err: unknown): DatabaseUnavailableError | ConfigError | PartitionMovedError | AbandonedError {
  // Neither is the database's: the batch moved away, or shutdown ended the wait for the lease.
  if (err instanceof PartitionMovedError || err instanceof AbandonedError) return err;
  if (isRightRefused(err)) return rightsError(err);
  if (err instanceof DatabaseUnavailableError) return err;
  return new DatabaseUnavailableError(`MySQL: ${messageOf(err)}${outageAdvice(err)}`, err);
}
