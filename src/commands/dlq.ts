import { randomBytes } from "node:crypto";
import { Consumer } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import { BatchReader } from "../consume/batch-reader.ts";
import { CONSUME_TUNING, kafkaBaseOptions } from "../consume/kafka-options.ts";
import { type DeadLetterEntry, decodeLetter, type RawMessage } from "../dead-letter/letter.ts";
import { reliableProducer, sendAll } from "../dead-letter/publish.ts";
import { AppError, BadEventReasons, ConfigError, KafkaUnavailableError, messageOf } from "../errors.ts";
import { parseIsoTime, parseOptions, UsageError } from "./args.ts";
import { formatTable } from "./table.ts";

// `analytics-service dlq list|replay`: what is in the dead-letter topic, and putting chosen
// letters back on their source topic once whatever made them fail is fixed (a configuration
// limit, a column widened by a migration, a handler fixed in a release). Re-publishing is safe
// to repeat: the sink is idempotent and never goes backwards, so an event it has already applied
// changes nothing.

export const sourceOf = (e: DeadLetterEntry) =>
  e.sourceTopic === null ? null : `${e.sourceTopic}/${e.sourcePartition ?? "?"}@${e.sourceOffset ?? "?"}`;

/** The JSON form of `dlq list --json`: headers decoded, the value left out (it may hold secrets). */
export function letterJson(e: DeadLetterEntry) {
  return {
    failed_at: e.failedAt,
    source_topic: e.sourceTopic,
    source_partition: e.sourcePartition,
    source_offset: e.sourceOffset === null ? null : Number(e.sourceOffset),
    event_type: e.eventType,
    code: e.code,
    reason: e.reason,
    key: e.key === null ? null : e.key.toString(),
    value_bytes: e.valueBytes,
    /** The value is only the first value_bytes of original_bytes (null: a legacy letter that did not say). */
    truncated: e.truncated,
    original_bytes: e.originalBytes,
    dlq_partition: e.dlqPartition,
    dlq_offset: Number(e.dlqOffset),
  };
}

export function formatLetters(letters: readonly DeadLetterEntry[]): string {
  return formatTable(
    [
      { key: "time" },
      { key: "source" },
      { key: "event_type", title: "event type" },
      { key: "code" },
      { key: "copy" },
      { key: "reason" },
    ],
    letters.map((e) => ({
      time: e.failedAt,
      source: sourceOf(e),
      event_type: e.eventType,
      code: e.code,
      // Whether the letter holds the whole value (it can be replayed) or only its first bytes.
      copy: e.truncated ? "truncated" : "whole",
      reason: e.reason,
    })),
  );
}

/** Letters in the order they failed (the topic's partitions interleaved by time). */
export function sortLetters(letters: DeadLetterEntry[]): DeadLetterEntry[] {
  return letters.sort(
    (a, b) =>
      (a.failedAt ?? "").localeCompare(b.failedAt ?? "") ||
      a.dlqPartition - b.dlqPartition ||
      (a.dlqOffset < b.dlqOffset ? -1 : a.dlqOffset > b.dlqOffset ? 1 : 0),
  );
}

export interface ReplayOptions {
  /** Only letters that failed at or after this instant (ms since the epoch). */
  since?: number;
  /** Only letters with this dlq.error.code. */
  reason?: string;
  dryRun: boolean;
}

const REASON_CODES: readonly string[] = Object.values(BadEventReasons);

/** `dlq replay [--since ISO-time] [--reason code] [--dry-run]`; a bad value is a UsageError. */
export function replayOptions(args: readonly string[]): ReplayOptions {
  const raw = parseOptions("dlq replay", args, { since: "string", reason: "string", "dry-run": "boolean" });
  const options: ReplayOptions = { dryRun: raw["dry-run"] === true };
  if (raw.since !== undefined) {
    const since = parseIsoTime(raw.since);
    if (since === undefined) {
      throw new UsageError(
        `dlq replay: --since "${raw.since}" is not an ISO-8601 time (e.g. 2026-02-11 or 2026-02-11T09:30:00Z)`,
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

export interface ListOptions {
  json: boolean;
}

export function listOptions(args: readonly string[]): ListOptions {
  return { json: parseOptions("dlq list", args, { json: "boolean" }).json === true };
}

/**
 * What `replay` does with one letter: sends it (chosen), or passes over it because it does not
 * match the filters, holds a truncated copy of its value (dlq.value.truncated), has no usable
 * source topic and partition, or repeats a source message already chosen (dead-lettered more
 * than once).
 */
export type Verdict = "chosen" | "filtered" | "truncated" | "no_source" | "duplicate";

/**
 * Judges letters one by one, as they are read: those matching the filters are chosen once per
 * source message, except truncated copies (their whole value is gone) and letters without a
 * source. Remembers the source of each letter chosen (a few dozen bytes each) to tell repeats.
 */
export function replayChooser(options: Omit<ReplayOptions, "dryRun">): (e: DeadLetterEntry) => Verdict {
  const seen = new Set<string>();
  return (e) => {
    if (options.reason !== undefined && e.code !== options.reason) return "filtered";
    if (options.since !== undefined) {
      const failed = e.failedAt === null ? Number.NaN : Date.parse(e.failedAt);
      if (!(failed >= options.since)) return "filtered";
    }
    if (e.sourceTopic === null || e.sourcePartition === null) return "no_source";
    if (e.truncated) return "truncated";
    const id = `${e.sourceTopic}\u0000${e.sourcePartition}\u0000${e.sourceOffset ?? `dlq:${e.dlqPartition}:${e.dlqOffset}`}`;
    if (seen.has(id)) return "duplicate";
    seen.add(id);
    return "chosen";
  };
}

/** The original message, back to the partition it was read from. */
export function replayMessage(e: DeadLetterEntry) {
  if (e.sourceTopic === null || e.sourcePartition === null) throw new Error("a dead letter without a source");
  return {
    topic: e.sourceTopic,
    partition: e.sourcePartition,
    key: e.key ?? undefined,
    value: e.value ?? undefined,
    headers: new Map(e.originalHeaders),
  };
}

/** A one-line explanation of a failure to read the dead-letter topic or publish to a source topic. */
function kafkaError(err: unknown, config: Config, doing: "reading" | "publishing"): AppError {
  if (err instanceof AppError) return err;
  const message = messageOf(err);
  const brokers = config.kafkaBrokers.join(",");
  if (doing === "reading" && /unknown topic/i.test(message)) {
    return new ConfigError(
      `KAFKA_DLQ_TOPIC: the dead-letter topic ${config.kafkaDlqTopic} does not exist at ${brokers}`,
    );
  }
  const what = doing === "reading" ? `reading ${config.kafkaDlqTopic}` : "publishing the replayed events";
  return new KafkaUnavailableError(
    `Kafka: ${what} at ${brokers} failed (${message.replace(/\.$/, "")}); check that Kafka runs and KAFKA_BOOTSTRAP_SERVERS`,
    err,
  );
}

/** Letters handed on at a time; the reader pauses the topic when it holds twice this many. */
const CHUNK = 500;

/**
 * The letters of the dead-letter topic, from the beginning up to the end offsets it had when
 * called, as they are read (the partitions interleaved). Reads with a throwaway group that never
 * commits, in flowing mode (docs/decisions.md); while the caller is busy with a letter the reader
 * holds at most 2 × CHUNK more, so memory is bounded however many letters the topic holds.
 * Fails when nothing arrives for `stallMs` while a partition is short of its end.
 */
export async function* deadLetters(config: Config, stallMs = 60000): AsyncGenerator<DeadLetterEntry> {
  const topic = config.kafkaDlqTopic;
  const consumer = new Consumer({
    ...kafkaBaseOptions(config, "dlq-reader"),
    groupId: `${config.kafkaGroupId}-dlq-reader-${randomBytes(6).toString("hex")}`,
    autocommit: false,
    retries: 2,
    retryDelay: 500,
    ...CONSUME_TUNING,
  });
  try {
    let ends: bigint[];
    let starts: bigint[];
    try {
      ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
      starts = (await consumer.listOffsets({ topics: [topic], timestamp: -2n })).get(topic) ?? [];
    } catch (err) {
      throw kafkaError(err, config, "reading");
    }
    // Partitions still to read, and the last offset each must reach.
    const pending = new Map<number, bigint>();
    ends.forEach((end, partition) => {
      if (end > (starts[partition] ?? 0n)) pending.set(partition, end - 1n);
    });
    if (pending.size === 0) return;

    const stream = await consumer
      .consume({ topics: [topic], mode: "earliest", autocommit: false })
      .catch((err: unknown) => Promise.reject(kafkaError(err, config, "reading")));
    // The reader listens for the stream's failures and throws them from `next`.
    const reader = new BatchReader<RawMessage & { topic: string }>(stream, 2 * CHUNK);
    try {
      while (pending.size > 0) {
        let batch: (RawMessage & { topic: string })[];
        try {
          batch = await reader.next(CHUNK, 0, AbortSignal.timeout(stallMs), () => 0);
        } catch (err) {
          throw kafkaError(err, config, "reading");
        }
        if (batch.length === 0) {
          throw new KafkaUnavailableError(
            `Kafka: reading ${topic} stalled: nothing arrived for ${stallMs / 1000} s with ${pending.size} partition(s) short of their end`,
          );
        }
        for (const m of batch) {
          const last = pending.get(m.partition);
          if (last === undefined) continue; // a partition already read to its end
          if (m.offset >= last) pending.delete(m.partition);
          if (m.offset <= last) yield decodeLetter(m); // later ones were written after we started
        }
      }
    } finally {
      await stream.close().catch(() => undefined);
    }
  } finally {
    await consumer.close(true).catch(() => undefined);
  }
}

/**
 * A letter without its value and original headers, for a list of them all. The key is copied:
 * the client's buffers are views of whole fetch responses, which a view kept would keep.
 */
const listed = (e: DeadLetterEntry): DeadLetterEntry => ({
  ...e,
  key: e.key === null ? null : Buffer.from(e.key),
  value: null,
  originalHeaders: [],
});

/** Every letter, in the order they failed: for `list`, which prints them all. */
export async function readDeadLetters(config: Config): Promise<DeadLetterEntry[]> {
  const letters: DeadLetterEntry[] = [];
  for await (const e of deadLetters(config)) letters.push(listed(e));
  return sortLetters(letters);
}

export async function runDlqList(
  config: Config,
  options: ListOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const letters = await readDeadLetters(config);
  if (options.json) out.write(`${JSON.stringify(letters.map(letterJson), null, 2)}\n`);
  else {
    out.write(formatLetters(letters));
    out.write(`${letters.length} dead letter(s) in ${config.kafkaDlqTopic}\n`);
  }
  return 0;
}

/**
 * `dlq replay`: reads the letters once, in the order they are read, and sends the chosen ones in
 * chunks of CHUNK as it goes; only a dry run keeps the chosen letters, to print them.
 */
export async function runDlqReplay(
  config: Config,
  options: ReplayOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const choose = replayChooser(options);
  let read = 0;
  let sent = 0;
  const tally: Record<Verdict, number> = { chosen: 0, filtered: 0, truncated: 0, no_source: 0, duplicate: 0 };
  const chosen: DeadLetterEntry[] = [];
  const topics = new Set<string>();
  let chunk: DeadLetterEntry[] = [];
  const producer = options.dryRun ? null : reliableProducer(config, "dlq-replay");
  const send = async () => {
    if (!producer || chunk.length === 0) return;
    await sendAll(producer, chunk.map(replayMessage)).catch((err: unknown) =>
      Promise.reject(kafkaError(err, config, "publishing")),
    );
    sent += chunk.length;
    for (const e of chunk) topics.add(e.sourceTopic as string);
    chunk = [];
  };
  let finished = false;
  try {
    for await (const e of deadLetters(config)) {
      read++;
      const verdict = choose(e);
      tally[verdict]++;
      if (verdict !== "chosen") continue;
      if (options.dryRun) chosen.push(listed(e));
      else {
        chunk.push(e);
        if (chunk.length >= CHUNK) await send();
      }
    }
    await send();
    finished = true;
  } finally {
    await producer?.close().catch(() => undefined);
    if (tally.truncated > 0) {
      out.write(
        `skipped ${tally.truncated} letter(s) holding a truncated copy of their value (the whole value is not in ${config.kafkaDlqTopic}; publish it again from the source)\n`,
      );
    }
    if (tally.no_source > 0) {
      out.write(`skipped ${tally.no_source} letter(s) without dlq.source.topic/partition headers\n`);
    }
    if (tally.duplicate > 0) {
      out.write(`${tally.duplicate} letter(s) repeat a source message already chosen; it is sent once\n`);
    }
    const to = sent > 0 ? ` to ${[...topics].join(", ")}` : "";
    if (!finished) {
      out.write(`stopped after ${read} dead letter(s) read; ${sent} sent${to}\n`);
    } else if (options.dryRun) {
      out.write(formatLetters(sortLetters(chosen)));
      out.write(`dry run: ${tally.chosen} of ${read} dead letter(s) chosen; nothing sent\n`);
    } else if (tally.chosen === 0) {
      out.write(`0 of ${read} dead letter(s) chosen; nothing sent\n`);
    } else {
      out.write(`${tally.chosen} of ${read} dead letter(s) chosen; ${sent} sent${to}\n`);
    }
  }
  return 0;
}
