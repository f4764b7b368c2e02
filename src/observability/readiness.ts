import type { Consumer } from "@platformatic/kafka";
import type { Pool } from "../db/pool.ts";
import type { GroupSettlingState } from "../read/group-database.ts";
import type { Outage } from "../retry.ts";

// What /readyz says: whether the service can do its job now, and if not, why.

/** Joined the group: it has a member id and an assignment (empty, with more instances than partitions). */
export const isMember = (consumer: Consumer) => Boolean(consumer.memberId && consumer.assignments);

/** Why the service can't do its job now (for /readyz); empty when it can. */
export async function notReadyReasons(
  pool: Pick<Pool, "getConnection">,
  outages: { database: Outage; kafka: Outage; group?: Outage },
  consumer: Consumer | null,
  groupSettling?: GroupSettlingState,
  progress?: DatabaseProgress,
) {
  const reasons: string[] = [];
  if (!(await databaseAnswers(pool, undefined, undefined, progress))) reasons.push("MySQL does not answer");
  if (outages.database.active) reasons.push("paused: waiting for MySQL");
  if (outages.kafka.active) reasons.push("paused: waiting for Kafka");
  if (outages.group?.active) reasons.push("waiting: a member of the consumer group writes to another database");
  if (groupSettling?.since != null)
    reasons.push("waiting: the consumer group is rebalancing; it is joined once it settles");
  if (consumer === null || !isMember(consumer)) reasons.push("not a member of the consumer group yet");
  return reasons;
}

/**
 * The `SELECT 1` of each pool still waiting for its answer. A probe that comes meanwhile waits for
 * it rather than queue one of its own: while every connection is held (transactions waiting out a
 * lock, a server that stopped answering) each query waits in the pool's queue, which has no
 * bound, until a connection is free, long after its probe gave up: impatient probes would fill
 * the heap, and the writes would queue behind them.
 */
const pings = new WeakMap<object, Promise<boolean>>();

/**
 * How long the shared ping may wait for its answer on a connection it holds before that
 * connection is taken for dead and destroyed. Every later probe waits for the one ping: kept, a
 * connection that went silent (a dropped NAT entry, a failed-over address) held /readyz at "MySQL
 * does not answer" until TCP gave up on it, a quarter of an hour, while the writes went on on the others.
 */
export const DEAD_PING_MS = 10000;

/**
 * When MySQL last answered the service's own work (a batch's transaction committed). While the
 * service drains a backlog every connection is held by its transactions, and the ping waits in
 * the pool's queue behind them, past its second: the batches' answers say that MySQL answers.
 */
export class DatabaseProgress {
  #at = Number.NEGATIVE_INFINITY;
  answered(): void {
    this.#at = performance.now();
  }
  /** Whether the last answer came within `ms`. */
  within(ms: number): boolean {
    return performance.now() - this.#at <= ms;
  }
}

/**
 * How recent the service's last answer must be to stand for a ping still waiting. Longer than
 * a batch's transaction takes (up to seconds in a backlog), so that with every connection held
 * one of them comes back within it; as long as a silent connection is given: a server that stops
 * answering with every connection held is said not to answer this much later than at once.
 */
export const RECENT_ANSWER_MS = DEAD_PING_MS;

/**
 * A quick `SELECT 1` that gives up after a second rather than waiting on a dead server. A ping
 * still waiting then (for a connection, or its answer) counts as answered if the service's own
 * work was answered within `recentMs`; a ping that failed never does.
 */
export async function databaseAnswers(
  pool: Pick<Pool, "getConnection">,
  waitMs = 1000,
  deadMs = DEAD_PING_MS,
  progress?: Pick<DatabaseProgress, "within">,
  recentMs = RECENT_ANSWER_MS,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(progress?.within(recentMs) ?? false), waitMs);
  });
  let ping = pings.get(pool);
  if (ping === undefined) {
    ping = pingOnce(pool, deadMs).finally(() => pings.delete(pool));
    pings.set(pool, ping);
  }
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `SELECT 1` on a connection of the pool; one that holds no answer for `deadMs` is destroyed. */
async function pingOnce(pool: Pick<Pool, "getConnection">, deadMs: number): Promise<boolean> {
  let conn: Awaited<ReturnType<Pool["getConnection"]>>;
  try {
    conn = await pool.getConnection();
  } catch {
    return false;
  }
  let timer: NodeJS.Timeout | undefined;
  const dead = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => {
      conn.destroy();
      resolve(false);
    }, deadMs);
    timer.unref();
  });
  try {
    return await Promise.race([
      conn.query("SELECT 1").then(
        () => true,
        () => false,
      ),
      dead,
    ]);
  } finally {
    clearTimeout(timer);
    conn.release();
  }
}
