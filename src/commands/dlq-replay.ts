import { Admin } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import type { DeadLetterEntry } from "../dead-letter/letter.ts";
import { NewestLetters } from "../dead-letter/newest-letters.ts";
import { reliableProducer, sendAll } from "../dead-letter/publish.ts";
import { CHUNK, deadLetters, kafkaError } from "../dead-letter/topic-reader.ts";
import { afterOutcome, BadEventReasons, ConfigError } from "../errors.ts";
import { kafkaBaseOptions } from "../kafka/client-options.ts";
import { steered } from "../kafka/command-clients.ts";
import { recordBytes } from "../kafka/records.ts";
import { partitionCounts, prefixed, SOURCE_TOPICS } from "../kafka/topics.ts";
import { parseIsoTime, parseOptions, UsageError } from "./args.ts";
import { DEFAULT_LIST_LIMIT, formatLetters } from "./dlq-list.ts";

// `analytics-service dlq replay`: putting chosen letters back on their source topic once whatever
// made them fail is fixed (a configuration limit, a column widened by a migration, a handler
// fixed in a release). Re-publishing is safe to repeat: the sink is idempotent and never goes
// backwards, so an event it has already applied changes nothing.

export interface ReplayOptions {
  /** Only letters that failed at or after this instant (ms since the epoch). */
  since?: number;
  /** Only letters with this dlq.error.code. */
  reason?: string;
  dryRun: boolean;
  /**
   * Sends without the source record's time, so the broker stamps the replay's: for letters whose
   * record time was wrong (0, say, from a producer without a clock), which replay would otherwise
   * judge as the first reading did. The guard then judges each event against now.
   */
  restamp?: boolean;
}

const REASON_CODES: readonly string[] = Object.values(BadEventReasons);

/** `dlq replay [--since ISO-time] [--reason code] [--restamp] [--dry-run]`; a bad value is a UsageError. */
export function replayOptions(args: readonly string[], now = Date.now()): ReplayOptions {
  const raw = parseOptions("dlq replay", args, {
    since: "string",
    reason: "string",
    "dry-run": "boolean",
    restamp: "boolean",
  });
  const options: ReplayOptions = { dryRun: raw["dry-run"] === true };
  if (raw.restamp === true) options.restamp = true;
  if (raw.since !== undefined) {
    const since = parseIsoTime(raw.since);
    if (since === undefined) {
      throw new UsageError(
        `dlq replay: --since "${raw.since}" is not an ISO-8601 time (e.g. 2026-02-11 or 2026-02-11T09:30:00Z)`,
      );
    }
    // No letter has failed yet at a later time: the replay would choose none and say so as a success.
    if (since > now) {
      throw new UsageError(
        `dlq replay: --since "${raw.since}" is in the future: no letter has failed that late (e.g. 2026-02-11 or 2026-02-11T09:30:00Z)`,
      );
    }
    options.since = since;
  }
  if (raw.reason !== undefined) {
    if (!REASON_CODES.includes(raw.reason)) {
      throw new UsageError(`dlq replay: --reason "${raw.reason}" is not one of ${REASON_CODES.join(", ")}`);
    }
    options.reason = raw.reason;
  }
  return options;
}

/**
 * What `replay` does with one letter: sends it (chosen), or passes over it because it does not
 * match the filters, holds a truncated copy of its value (dlq.value.truncated), stands for a
 * record of an unreadable batch (it holds no event), has no usable
 * source topic and partition, names a topic the service does not read or a partition that topic
 * does not have (foreign: a crafted letter would otherwise publish into another team's topic, or
 * the dead-letter topic itself), or repeats a source message already chosen.
 */
export type Verdict = "chosen" | "filtered" | "truncated" | "unreadable" | "no_source" | "foreign" | "duplicate";

/** The partitions of each source topic: where a letter may be sent back to. */
export type SourcePartitions = ReadonlyMap<string, number>;

/** Sources of chosen letters remembered to tell repeats (a repeat is a letter's twin written in the same outage or rewind). */
export const REMEMBERED = 100_000;

/**
 * Judges letters one by one, as they are read: those matching the filters are chosen once per
 * source message, except truncated copies (their whole value is gone) and letters without a
 * source. Remembers the sources of the last REMEMBERED letters chosen to tell repeats: a repeat
 * further back is sent twice, which the idempotent sink applies as once, and memory stays bounded
 * however many letters the topic holds.
 */
export function replayChooser(
  options: Omit<ReplayOptions, "dryRun">,
  sources: SourcePartitions,
): (e: DeadLetterEntry) => Verdict {
  const seen = new Set<string>();
  return (e) => {
    if (options.reason !== undefined && e.code !== options.reason) return "filtered";
    if (options.since !== undefined) {
      const failed = e.failedAt === null ? Number.NaN : Date.parse(e.failedAt);
      if (!(failed >= options.since)) return "filtered";
    }
    if (e.sourceTopic === null || e.sourcePartition === null) return "no_source";
    if (!(e.sourcePartition < (sources.get(e.sourceTopic) ?? 0))) return "foreign";
    if (e.truncated) return "truncated";
    // It stands for a record of a batch that could not be read: it holds nothing to send back.
    if (e.code === BadEventReasons.UNREADABLE_BATCH) return "unreadable";
    const id = `${e.sourceTopic}\u0000${e.sourcePartition}\u0000${e.sourceOffset ?? `dlq:${e.dlqPartition}:${e.dlqOffset}`}`;
    if (seen.has(id)) return "duplicate";
    seen.add(id);
    if (seen.size > REMEMBERED) seen.delete(seen.values().next().value as string);
    return "chosen";
  };
}

/** The original message, back to the partition it was read from, with its record's timestamp when the letter kept it. */
export function replayMessage(e: DeadLetterEntry, restamp = false) {
  if (e.sourceTopic === null || e.sourcePartition === null) throw new Error("a dead letter without a source");
  return {
    topic: e.sourceTopic,
    partition: e.sourcePartition,
    ...(e.sourceTimestamp === null || restamp ? {} : { timestamp: e.sourceTimestamp }),
    key: e.key ?? undefined,
    value: e.value ?? undefined,
    headers: new Map(e.originalHeaders),
  };
}

/** The most bytes of chosen letters a replay keeps before it sends them (with at most CHUNK letters). */
const CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * A chosen letter as the replay keeps it until it is sent: its key, value and headers copied out
 * of the buffer they were read in. They are views of their batch's, a compressed one's
 * decompressed to up to 32 MiB, which a view kept would keep alive: a letter of a few hundred
 * bytes behind another writer's record of 30 MB held those 30 MB until its chunk was sent.
 */
function owned(e: DeadLetterEntry): DeadLetterEntry {
  return {
    ...e,
    key: e.key === null ? null : Buffer.from(e.key),
    value: e.value === null ? null : Buffer.from(e.value),
    originalHeaders: e.originalHeaders.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]),
  };
}

/**
 * `dlq replay`: reads the letters once, in the order they are read, and sends the chosen ones in
 * chunks of CHUNK letters or CHUNK_BYTES as it goes; only a dry run keeps the chosen letters, to
 * print them.
 */
export async function runDlqReplay(
  config: Config,
  options: ReplayOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const sources = await sourcePartitions(config);
  if (sources.size === 0) {
    throw new ConfigError(
      `dlq replay: none of the source topics (${prefixed(config.kafkaTopicPrefix, SOURCE_TOPICS).join(", ")}) exists at ${config.kafkaBrokers.join(",")}: check KAFKA_TOPIC_PREFIX (now "${config.kafkaTopicPrefix}")`,
    );
  }
  const choose = replayChooser(options, sources);
  let read = 0;
  let sent = 0;
  /** Letters of a request that failed: the brokers may have written those of some partitions. */
  let unsure = 0;
  const tally: Record<Verdict, number> = {
    chosen: 0,
    filtered: 0,
    truncated: 0,
    unreadable: 0,
    no_source: 0,
    foreign: 0,
    duplicate: 0,
  };
  const chosen = new NewestLetters(DEFAULT_LIST_LIMIT);
  const topics = new Set<string>();
  let chunk: DeadLetterEntry[] = [];
  let chunkBytes = 0;
  const producer = options.dryRun ? null : steered(reliableProducer(config, "dlq-replay"));
  const send = async () => {
    if (!producer || chunk.length === 0) return;
    unsure = chunk.length;
    await sendAll(
      producer,
      chunk.map((e) => replayMessage(e, options.restamp)),
    ).catch((err: unknown) => Promise.reject(kafkaError(err, config, "publishing")));
    sent += chunk.length;
    unsure = 0;
    for (const e of chunk) topics.add(e.sourceTopic as string);
    chunk = [];
    chunkBytes = 0;
  };
  let finished = false;
  try {
    for await (const e of deadLetters(config)) {
      read++;
      const verdict = choose(e);
      tally[verdict]++;
      if (verdict !== "chosen") continue;
      if (options.dryRun) chosen.add(e);
      else {
        const kept = owned(e);
        chunk.push(kept);
        chunkBytes += recordBytes({
          key: kept.key ?? undefined,
          value: kept.value ?? undefined,
          headers: kept.originalHeaders,
        });
        if (chunk.length >= CHUNK || chunkBytes >= CHUNK_BYTES) await send();
      }
    }
    await send();
    finished = true;
  } finally {
    if (producer !== null) await afterOutcome("closing the replay's producer", producer.close());
    const ended = !finished ? "stopped" : options.dryRun ? "dry run" : "sent";
    out.write(
      replaySummary({ ended, tally, read, sent, unsure, topics, sources, dlqTopic: config.kafkaDlqTopic, chosen }),
    );
  }
  return 0;
}

/** What a replay did, in the lines it prints: what it skipped and why, then what it sent. */
function replaySummary(r: {
  ended: "stopped" | "dry run" | "sent";
  tally: Record<Verdict, number>;
  read: number;
  sent: number;
  unsure: number;
  topics: ReadonlySet<string>;
  sources: ReadonlyMap<string, number>;
  dlqTopic: string;
  chosen: NewestLetters;
}): string {
  const { tally, read, sent } = r;
  const lines: string[] = [];
  if (tally.truncated > 0) {
    lines.push(
      `skipped ${tally.truncated} letter(s) holding a truncated copy of their value (the whole value is not in ${r.dlqTopic}; publish it again from the source)`,
    );
  }
  if (tally.unreadable > 0) {
    lines.push(
      `skipped ${tally.unreadable} unreadable_batch letter(s): they hold no event; republish the batches their reasons name from the source`,
    );
  }
  if (tally.no_source > 0)
    lines.push(`skipped ${tally.no_source} letter(s) without dlq.source.topic/partition headers`);
  if (tally.foreign > 0) {
    lines.push(
      `skipped ${tally.foreign} letter(s) naming a topic or partition other than the source topics' (${[...r.sources.keys()].join(", ")})`,
    );
  }
  if (tally.duplicate > 0)
    lines.push(`${tally.duplicate} letter(s) repeat a source message already chosen; it is sent once`);
  const skipped = lines.map((l) => `${l}\n`).join("");
  const to = sent > 0 ? ` to ${[...r.topics].join(", ")}` : "";
  // What a replay that failed midway did; one that failed before reading did nothing, and the
  // error's own line says why.
  // A request refused for one partition's letters may have been written for the others'.
  const maybe = r.unsure > 0 ? `; of the ${r.unsure} in the request that failed, some may have been written` : "";
  if (r.ended === "stopped")
    return read > 0 ? `${skipped}stopped after ${read} dead letter(s) read; ${sent} sent${to}${maybe}\n` : skipped;
  if (r.ended === "dry run") {
    const shown = r.chosen.summary();
    const listed = shown === "" ? "" : `, listed: ${shown}`;
    return `${skipped}${formatLetters(r.chosen.letters())}dry run: ${tally.chosen} of ${read} dead letter(s) chosen${listed}; nothing sent\n`;
  }
  if (tally.chosen === 0) return `${skipped}0 of ${read} dead letter(s) chosen; nothing sent\n`;
  return `${skipped}${tally.chosen} of ${read} dead letter(s) chosen; ${sent} sent${to}\n`;
}

/** The source topics that exist, with their partition counts. */
async function sourcePartitions(config: Config): Promise<Map<string, number>> {
  const admin = steered(new Admin({ ...kafkaBaseOptions(config, "dlq-replay"), retries: 2 }));
  try {
    return await partitionCounts(admin, prefixed(config.kafkaTopicPrefix, SOURCE_TOPICS));
  } catch (err) {
    throw kafkaError(err, config, "describing");
  } finally {
    await afterOutcome("closing the Kafka admin client", admin.close());
  }
}
