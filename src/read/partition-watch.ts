import type { Consumer } from "@platformatic/kafka";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import { RateLimitedWarnings } from "../observability/bounded.ts";
import type { Lag } from "./lag.ts";

// A partition added to a source topic while the service runs must be read. Under the classic
// group protocol nothing tells the group: the Java client's leader notices it in its metadata and
// rebalances; this client does not. The lag monitor already lists every partition of each source
// topic every few seconds (read/lag.ts), so the watch compares those counts with the ones known
// when the group was joined, and the pipeline rejoins on growth: the group's leader, which runs
// the same watch, then assigns the new partitions.

/** Partition counts per topic, as first known and as seen since. */
export class PartitionWatch {
  readonly #known: Map<string, number>;
  /** Each topic's id as last seen: a topic deleted and created again under its name has a new one. */
  readonly #ids: Map<string, string>;

  /** `known`, `ids`: the counts and the topics' ids read before the group was first joined. */
  constructor(known: ReadonlyMap<string, number>, ids: ReadonlyMap<string, string> = new Map()) {
    this.#known = new Map(known);
    this.#ids = new Map(ids);
  }

  /**
   * The topics whose partition count grew since the last call, or that were created again under
   * their name, as lines for the log: the lag monitor's map has an entry per partition of each
   * topic it asked about; `ids` (from the metadata the lag was read with) the topics' ids.
   */
  grown(lag: ReadonlyMap<string, readonly unknown[]>, ids: ReadonlyMap<string, string> = new Map()): string[] {
    const grown: string[] = [];
    for (const [topic, partitions] of lag) {
      const before = this.#known.get(topic) ?? 0;
      const id = ids.get(topic);
      const previousId = this.#ids.get(topic);
      if (id !== undefined) this.#ids.set(topic, id);
      // A topic created again may have fewer partitions than the one deleted: its count is the
      // one growth is measured from from now on, or partitions added to it up to the old count
      // would never be read. Its partitions are not those the group was given: join again.
      if (id !== undefined && previousId !== undefined && id !== previousId) {
        grown.push(`${topic} (created again: ${before} → ${partitions.length})`);
        this.#known.set(topic, partitions.length);
        continue;
      }
      // Kafka never takes partitions away: a smaller count is a stale answer, and is not kept,
      // or a broker flapping between two answers would make the group rejoin each time.
      if (partitions.length <= before) continue;
      grown.push(`${topic} (${before} → ${partitions.length})`);
      this.#known.set(topic, partitions.length);
    }
    return grown;
  }
}

/**
 * What to do with each lag report (read/lag.ts): when the watch finds a source topic grown or
 * created again, the pipeline joins the group again. Before the rejoin the group's metadata is
 * refreshed, as the leader assigns from it and may still hold the topic as it was (the one
 * deleted, or fewer partitions).
 */
export function rejoinOnPartitionChanges(
  group: Pick<Consumer, "metadata">,
  watch: PartitionWatch,
  rejoin: (why: string) => void,
  log: Logger,
): (report: Lag) => Promise<void> {
  return async ({ lag, ids }) => {
    const changed = watch.grown(lag, ids);
    if (changed.length === 0) return;
    try {
      await group.metadata({ topics: [...lag.keys()], forceUpdate: true });
    } catch (err) {
      log.debug({ err: messageOf(err) }, "refreshing the source topics' metadata");
    }
    rejoin(`source topics changed: ${changed.join(", ")}`);
  };
}

/**
 * Hears the group consumer's own 'error' events: the client emits one when a rejoin it began by
 * itself (a heartbeat found the group rebalancing) fails, as when a source topic it still tracks
 * was deleted meanwhile. Unheard, an 'error' event throws: the process stopped. The pipeline
 * consumes again from the committed offsets, joining the group with the topics that exist; the
 * line is said at most once a minute. `flushWarnings` logs how many lines were left out, if any:
 * the caller calls it at shutdown, once the group is closed, so the count is not lost.
 */
export function rejoinOnGroupErrors(
  group: Pick<Consumer, "on">,
  rejoin: (why: string) => void,
  explain: (err: unknown) => string,
  log: Logger,
): { flushWarnings(): void } {
  const warnings = new RateLimitedWarnings(log, { perWindow: 1, windowMs: 60_000 });
  group.on("error", (err: unknown) => {
    const why = `the consumer group could not be joined again: ${explain(err)}`;
    warnings.warn({ err: messageOf(err) }, `Kafka: ${why}; consuming again from the committed offsets`);
    rejoin(why);
  });
  return { flushWarnings: () => warnings.flush() };
}
