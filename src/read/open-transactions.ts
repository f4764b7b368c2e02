import type { Logger } from "../log.ts";
import { partitionKey } from "./batch-reader.ts";
import type { Lag } from "./lag.ts";

// The group reads committed records only (READ_COMMITTED), up to each partition's last stable
// offset: a transaction left open upstream holds back every later record of its partition, of
// any producer, until it commits or aborts (the broker aborts it at the producer's
// transaction.timeout.ms; a hanging one, never). The lag is read to the same offset, so such a
// partition showed a lag of 0, /readyz ready and nothing in the log while its events waited.
// This says it: one line once a partition has been held so for `afterMs`, one when it moves on.

/** How long a partition's last stable offset may hold back records before it is said. */
export const OPEN_TRANSACTION_WARN_MS = 5 * 60_000;
/** Partitions named in one line; the rest are counted. */
const NAMED = 10;

export class OpenTransactionWatch {
  readonly #log: Logger;
  readonly #afterMs: number;
  readonly #now: () => number;
  /** Held partitions by `topic:partition`: the stable offset, since when, and whether it was said. */
  readonly #held = new Map<string, { stable: bigint; since: number; said: boolean }>();

  constructor(log: Logger, afterMs = OPEN_TRANSACTION_WARN_MS, now = () => Date.now()) {
    this.#log = log;
    this.#afterMs = afterMs;
    this.#now = now;
  }

  /** `unread`: partitions whose lag was not read this turn (read/lag.ts): whether held or not, unknown. */
  observe(held: Lag["held"], unread: ReadonlySet<string> = new Set()): void {
    const now = this.#now();
    const seen = new Set<string>();
    const due: Lag["held"] = [];
    const ended: { key: string; ms: number }[] = [];
    for (const h of held) {
      const key = partitionKey(h.topic, h.partition);
      seen.add(key);
      const was = this.#held.get(key);
      if (was === undefined || was.stable !== h.stable) {
        if (was?.said) ended.push({ key, ms: now - was.since });
        this.#held.set(key, { stable: h.stable, since: now, said: false });
        continue;
      }
      if (!was.said && now - was.since >= this.#afterMs) {
        was.said = true;
        due.push(h);
      }
    }
    for (const [key, was] of this.#held) {
      if (seen.has(key) || unread.has(key)) continue;
      if (was.said) ended.push({ key, ms: now - was.since });
      this.#held.delete(key);
    }
    this.#ended(ended);
    if (due.length === 0) return;
    const named = due
      .slice(0, NAMED)
      .map((h) => `${h.topic} partition ${h.partition} at offset ${h.stable} (${h.end - h.stable} records behind it)`);
    const rest = due.length > NAMED ? ` and ${due.length - NAMED} more partitions` : "";
    this.#log.warn(
      {
        partitions: due.slice(0, NAMED).map((h) => ({ ...h, stable: String(h.stable), end: String(h.end) })),
        more: due.length - Math.min(due.length, NAMED),
      },
      `an upstream transaction left open for ${Math.round(this.#afterMs / 1000)} s or more holds back ${named.join(", ")}${rest}: the group reads committed records only, so these wait (and show no lag) until its producer commits or aborts it, or the broker aborts it at the producer's transaction.timeout.ms; kafka-transactions.sh find-hanging lists hanging ones, abort ends one`,
    );
  }

  /**
   * One line for the partitions said held that moved on (or away) in this report: one transaction
   * of a producer that writes every partition ends on all of them at once, and a line each made
   * thousands.
   */
  #ended(ended: readonly { key: string; ms: number }[]): void {
    if (ended.length === 0) return;
    const secs = (ms: number) => Math.round(ms / 1000);
    if (ended.length === 1) {
      const [{ key, ms }] = ended as [{ key: string; ms: number }];
      this.#log.info({ partition: key }, `${key}: no longer held back by an open transaction (held for ${secs(ms)} s)`);
      return;
    }
    const named = ended.slice(0, NAMED).map(({ key, ms }) => `${key} (held for ${secs(ms)} s)`);
    const rest = ended.length > NAMED ? ` and ${ended.length - NAMED} more partitions` : "";
    this.#log.info(
      { partitions: ended.slice(0, NAMED).map(({ key }) => key), more: ended.length - named.length },
      `no longer held back by an open transaction: ${named.join(", ")}${rest}`,
    );
  }
}
