import type { Admin } from "@platformatic/kafka";
import { afterOutcome, KafkaUnavailableError, messageOf } from "../errors.ts";
import { listedTopics, topicIds } from "../kafka/topics.ts";
import type { Logger } from "../log.ts";
import { type Lag, readLag } from "./lag.ts";

// Which source topics the group's stream reads: those that exist. A topic not created yet (an
// upstream that has not produced its first event) or deleted under the service must not hold
// back the others, as it does not in a Java consumer subscribed to a list: the stream is opened
// on the topics that exist, and the group joins again when one appears (service.ts watches).

export class SourceTopics {
  readonly #all: readonly string[];
  readonly #admin: Pick<Admin, "listTopics" | "metadata" | "listOffsets" | "close">;
  readonly #log: Logger;
  readonly #explain: (err: unknown) => string;
  /** The missing topics last logged, so a change is said once. */
  #reported = "";

  /** `admin`: a client of its own, closed with this; `explain`: a failure to reach Kafka as one line. */
  constructor(
    admin: Pick<Admin, "listTopics" | "metadata" | "listOffsets" | "close">,
    all: readonly string[],
    log: Logger,
    explain: (err: unknown) => string = messageOf,
  ) {
    this.#all = all;
    this.#admin = admin;
    this.#log = log;
    this.#explain = explain;
  }

  /**
   * The source topics that exist now, for a stream to read; a change in the missing ones is
   * logged once. None existing is an outage: the stream can't be opened on nothing.
   */
  async forStream(): Promise<string[]> {
    const { existing, missing } = await this.list();
    const now = missing.join(", ");
    if (now !== this.#reported) {
      this.#reported = now;
      if (missing.length > 0 && existing.length > 0) {
        this.#log.warn(
          { missing },
          `source ${missing.length > 1 ? "topics" : "topic"} ${now} not found (not created yet, deleted, or hidden from this Kafka user): reading the others, and ${missing.length > 1 ? "these" : "it"} once ${missing.length > 1 ? "they exist" : "it exists"}`,
        );
      } else if (missing.length === 0) this.#log.info("every source topic exists: reading all of them");
    }
    if (existing.length === 0) {
      throw new KafkaUnavailableError(`no source topic exists (${now}): reading waits until one does`);
    }
    return existing;
  }

  /** Which source topics exist and which don't; the broker not answering is an outage. */
  async list(): Promise<{ existing: string[]; missing: string[] }> {
    try {
      return await listedTopics(this.#admin, this.#all);
    } catch (err) {
      throw new KafkaUnavailableError(this.#explain(err), err);
    }
  }

  /** Each existing source topic's id, by name. */
  async ids(): Promise<Map<string, string>> {
    const { existing } = await this.list();
    if (existing.length === 0) return new Map();
    return topicIds((await this.#admin.metadata({ topics: [...existing] })).topics);
  }

  /** The lag of `topics` (existing ones) against `committed`, asked once of their leaders (read/lag.ts). */
  lag(topics: readonly string[], committed: ReadonlyMap<string, bigint>): Promise<Lag> {
    return readLag(this.#admin, topics, committed);
  }

  close(): Promise<void> {
    return afterOutcome("closing the source topics' admin client", this.#admin.close());
  }
}

/**
 * Every `intervalMs`, until stopped: a source topic that exists but that the stream does not read
 * makes the group join again (`rejoin`), and the lag of the topics that exist is read and handed
 * to `onLag` (the metrics and the partition watch). A failure is left to the stream to report as
 * an outage; here it only waits for the next turn.
 */
export function watchSourceTopics(
  topics: SourceTopics,
  pipeline: {
    reads(topic: string): boolean;
    rejoin(why: string): void;
    /** The offsets the open stream's partitions have committed, by `topic:partition`. */
    committed(): ReadonlyMap<string, bigint>;
  },
  onLag: (lag: Lag) => void,
  log: Logger,
  intervalMs = 5000,
): () => void {
  let busy = false;
  const turn = async () => {
    if (busy) return;
    busy = true;
    try {
      const { existing } = await topics.list();
      const unread = existing.filter((t) => !pipeline.reads(t));
      if (unread.length > 0) {
        const [what, verb] = unread.length > 1 ? ["topics", "exist"] : ["topic", "exists"];
        pipeline.rejoin(`source ${what} ${unread.join(", ")} ${verb} now`);
      }
      if (existing.length > 0) {
        const report = await topics.lag(existing, pipeline.committed());
        if (report.failures.length > 0) {
          const err = report.failures.map(messageOf).join("; ");
          log.debug({ err, partitions: report.unread.size }, "the lag of some partitions could not be read this time");
        }
        onLag(report);
      }
    } catch (err) {
      log.debug({ err: messageOf(err) }, "the source topics and their lag could not be read this time");
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void turn(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
