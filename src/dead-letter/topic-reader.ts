import { randomBytes } from "node:crypto";
import { Consumer, type Message } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import { AppError, afterOutcome, ConfigError, KafkaUnavailableError, messageOf } from "../errors.ts";
import { CONSUME_TUNING, kafkaBaseOptions } from "../kafka/client-options.ts";
import { steered } from "../kafka/command-clients.ts";
import { brokerErrors, explainKafkaFailure } from "../kafka/kafka-errors.ts";
import { MAX_HEADERS_PER_RECORD, type RecordHeaders } from "../kafka/records.ts";
import { BatchReader } from "../read/batch-reader.ts";
import type { FetchedPartition } from "../read/client-fixes/aborted-transactions.ts";
import { correctingFetches } from "../read/client-fixes/corrected-fetch.ts";
import { heldBytes, unreadHeaders } from "../read/client-fixes/record-headers.ts";
import { type DeadLetterEntry, decodeLetter, type RawMessage } from "./letter.ts";
import { refusedForSize } from "./publish.ts";

// Reading the dead-letter topic back, for `dlq list` and `dlq replay`: every letter from the
// beginning up to the end it had when asked, with bounded memory however many there are.

/** A one-line explanation of a failure to read the dead-letter topic or publish to a source topic. */
export function kafkaError(err: unknown, config: Config, doing: "reading" | "publishing" | "describing"): AppError {
  if (err instanceof AppError) return err;
  const message = messageOf(err);
  const brokers = config.kafkaBrokers.join(",");
  if (doing === "reading" && /unknown topic/i.test(message)) {
    return new ConfigError(
      `KAFKA_DLQ_TOPIC: the dead-letter topic ${config.kafkaDlqTopic} does not exist at ${brokers}; create it or set KAFKA_DLQ_TOPIC to a topic that does`,
    );
  }
  // The brokers answered, and refused: that is what to say, not that they could not be reached.
  const refused = doing === "publishing" ? brokerErrors(err) : [];
  if (refused.length > 0) {
    const hint = refused.includes("INVALID_TIMESTAMP")
      ? ": a source topic refuses the letters' record times (its message.timestamp.before.max.ms or after.max.ms); replay with --restamp to let the broker stamp them, or leave those letters out with --since or --reason"
      : refusedForSize(err)
        ? ": a letter is larger than its source topic's max.message.bytes; raise it"
        : "";
    return new KafkaUnavailableError(
      `Kafka: the brokers refused the replayed events (${refused.join(", ")})${hint}`,
      err,
    );
  }
  const what = {
    reading: `reading ${config.kafkaDlqTopic}`,
    publishing: "publishing the replayed events",
    describing: "reading the source topics' partitions",
  }[doing];
  // The same line as the service's and rewind's for the same settings: TLS, SASL, an unreachable host.
  return new KafkaUnavailableError(`Kafka: ${what} failed: ${explainKafkaFailure(err, config)}`, err);
}

/** How long the reader waits for letters before it looks whether what it fetched reached the ends. */
const QUIET_MS = 500;

/** Letters handed on at a time; the reader pauses the topic when it holds twice this many. */
export const CHUNK = 500;

/**
 * The letters of the dead-letter topic, from the beginning up to the end offsets it had when
 * called, as they are read (the partitions interleaved). Reads with a throwaway group that never
 * commits, in flowing mode (docs/decisions.md); while the caller is busy with a letter the reader
 * holds at most 2 × CHUNK more, so memory is bounded however many letters the topic holds.
 * Fails when nothing arrives for `stallMs` while a partition is short of its end.
 */
export async function* deadLetters(config: Config, stallMs = 60000): AsyncGenerator<DeadLetterEntry> {
  // Per partition, the last offset a fetch has gone past, with batches no letter comes of (a
  // transaction's commit or abort marker, an aborted transaction's records) included.
  const fetchedThrough = new Map<number, bigint>();
  const consumer = steered(readerConsumer(config, fetchedThrough));
  // The client emits 'error' when a rejoin of its own fails (read/partition-watch.ts rejoinOnGroupErrors);
  // unheard, it throws past every catch. The read fails with it, in one line.
  let groupError: unknown;
  consumer.on("error", (err: unknown) => {
    groupError ??= err;
  });
  try {
    const { ends, pending } = await lettersToRead(consumer, config);
    const groupFailure = () => groupError;
    const read: Reading = {
      consumer,
      config,
      stallMs,
      ends,
      pending,
      fetchedThrough,
      unreadLast: new Set(),
      groupFailure,
    };
    let from: ReadAgain | null = null;
    while (pending.size > 0) from = yield* readPass(read, from);
  } finally {
    await afterOutcome("closing the dead-letter reader", consumer.close(true));
  }
}

type ReaderConsumer = ReturnType<typeof readerConsumer>;
/** Per partition, the offset to read again from, in the next pass. */
type ReadAgain = Map<number, bigint>;

/** What the passes over the topic share. */
interface Reading {
  consumer: ReaderConsumer;
  config: Config;
  stallMs: number;
  /** The end offset of each partition when the read began. */
  ends: bigint[];
  /** Partitions still to read, and the last offset each must reach. */
  pending: Map<number, bigint>;
  fetchedThrough: Map<number, bigint>;
  /** Partitions whose last letter came without its headers, and was read again or handed on so. */
  unreadLast: Set<number>;
  /** What failed the group, if anything has. */
  groupFailure: () => unknown;
}

/** The end offsets of the dead-letter topic's partitions, and those with letters to read. */
async function lettersToRead(consumer: ReaderConsumer, config: Config) {
  const topic = config.kafkaDlqTopic;
  let ends: bigint[];
  let starts: bigint[];
  try {
    ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
    starts = (await consumer.listOffsets({ topics: [topic], timestamp: -2n })).get(topic) ?? [];
  } catch (err) {
    throw kafkaError(err, config, "reading");
  }
  const pending = new Map<number, bigint>();
  ends.forEach((end, partition) => {
    if (end > (starts[partition] ?? 0n)) pending.set(partition, end - 1n);
  });
  return { ends, pending };
}

/**
 * One pass over the topic: from the beginning (`from` null), or the partitions `from` names from
 * their offsets. A letter read past its fetch's header budget (read/client-fixes/fetch-budget.ts)
 * comes without its headers, which are the letter: its partition is read again from it in the
 * next pass, which begins with its batch. A letter that comes so again before any of its
 * partition came with its headers is handed on as it is (its batch alone holds more headers than
 * a fetch is read with), so each pass reads a fetch's worth of headers, however the letters were
 * written. Returns what the next pass reads again.
 */
async function* readPass(read: Reading, from: ReadAgain | null): AsyncGenerator<DeadLetterEntry, ReadAgain> {
  const { config, pending, stallMs, unreadLast } = read;
  const topic = config.kafkaDlqTopic;
  const deferred: ReadAgain = new Map();
  for (const partition of from?.keys() ?? []) read.fetchedThrough.delete(partition);
  const stream = await read.consumer
    .consume(
      from === null
        ? { topics: [topic], mode: "earliest", autocommit: false }
        : {
            topics: [topic],
            mode: "manual",
            autocommit: false,
            // The partitions not read again start at their end, where nothing is read.
            offsets: read.ends.map((end, partition) => ({ topic, partition, offset: from.get(partition) ?? end })),
          },
    )
    .catch((err: unknown) => Promise.reject(kafkaError(err, config, "reading")));
  // The reader listens for the stream's failures and throws them from `next`.
  const reader = new BatchReader<ReadLetter>(stream, 2 * CHUNK, HELD_BYTES, (m) => m.bytes, rawLetter);
  const reading = () => [...pending.keys()].some((partition) => !deferred.has(partition));
  try {
    let quietSince = Date.now();
    while (reading()) {
      const batch = await nextLetters(reader, read);
      if (batch.length === 0) {
        // Every letter fetched is in hand: a partition fetched past its last offset ends in
        // records no letter comes of (a transactional writer's marker, an aborted transaction).
        for (const [partition, last] of pending) {
          if (!deferred.has(partition) && (read.fetchedThrough.get(partition) ?? -1n) >= last)
            pending.delete(partition);
        }
        if (!reading() || Date.now() - quietSince < stallMs) continue;
        throw new KafkaUnavailableError(
          `Kafka: reading ${topic} stalled: nothing arrived for ${stallMs / 1000} s with ${pending.size} partition(s) short of their end`,
        );
      }
      quietSince = Date.now();
      for (const m of batch) {
        const last = pending.get(m.partition);
        if (last === undefined || deferred.has(m.partition)) continue; // read to its end, or read again later
        if (from !== null && m.offset < (from.get(m.partition) ?? 0n)) continue; // handed on in an earlier pass
        const unread = unreadHeaders(m.headers);
        if (unread === undefined) unreadLast.delete(m.partition);
        else if (unread.count <= MAX_HEADERS_PER_RECORD && !unreadLast.has(m.partition)) {
          unreadLast.add(m.partition);
          deferred.set(m.partition, m.offset);
          continue;
        }
        if (m.offset >= last) pending.delete(m.partition);
        if (m.offset <= last) yield decodeLetter(m); // later ones were written after we started
      }
    }
  } finally {
    await afterOutcome("closing the dead-letter stream", stream.close());
  }
  return deferred;
}

/** The next letters the stream has, none when it has had none for QUIET_MS; fails as the read's failure. */
async function nextLetters(reader: BatchReader<ReadLetter>, read: Reading): Promise<ReadLetter[]> {
  let batch: ReadLetter[];
  try {
    batch = await reader.next({
      max: CHUNK,
      lingerMs: 0,
      signal: AbortSignal.timeout(Math.min(QUIET_MS, read.stallMs)),
      claims: () => 0,
    });
  } catch (err) {
    throw kafkaError(err, read.config, "reading");
  }
  const groupError = read.groupFailure();
  if (groupError !== undefined) throw kafkaError(groupError, read.config, "reading");
  return batch;
}

/** The throwaway group's consumer; `fetchedThrough` hears how far each fetch went, per partition. */
function readerConsumer(config: Config, fetchedThrough: Map<number, bigint>) {
  return correctingFetches(
    new Consumer({
      ...kafkaBaseOptions(config, "dlq-reader"),
      groupId: `${config.kafkaGroupId}-dlq-reader-${randomBytes(6).toString("hex")}`,
      autocommit: false,
      retries: 2,
      retryDelay: 500,
      ...CONSUME_TUNING,
    }),
    (response) => {
      for (const t of response.responses) {
        for (const p of t.partitions as readonly (FetchedPartition & { partitionIndex: number })[]) {
          for (const batch of p.records ?? []) {
            const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
            if (last > (fetchedThrough.get(p.partitionIndex) ?? -1n)) fetchedThrough.set(p.partitionIndex, last);
          }
        }
      }
    },
  );
}

/**
 * The most bytes of letters the reader holds before it pauses (with at most 2 × CHUNK letters):
 * a letter may be as large as the topic allows, 1 MiB by default, each in a fetch of its own.
 */
const HELD_BYTES = 64 * 1024 * 1024;

type ReadLetter = RawMessage & { topic: string; bytes: number };

/** A consumed letter as decodeLetter reads it: its headers in their order, a name given twice kept twice. */
function rawLetter(delivered: unknown): ReadLetter {
  const m = delivered as Message<Buffer, Buffer, Buffer, Buffer>;
  const { topic, partition, offset, key, value } = m;
  const headers = m.headerEntries as RecordHeaders;
  return { topic, partition, offset, key, value, headers, bytes: heldBytes({ key, value, headers }) };
}
