import { randomBytes } from "node:crypto";
import { Consumer, FetchIsolationLevels, findErrorBy, IS_CONTROL, ListOffsetTimestamps } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import { AppError, afterOutcome, ConfigError, KafkaUnavailableError } from "../errors.ts";
import { kafkaBaseOptions } from "../kafka/client-options.ts";
import { explainKafkaFailure } from "../kafka/kafka-errors.ts";
import { correctingFetches } from "../read/client-fixes/corrected-fetch.ts";

// generate refuses topics that hold a record it did not write: they are then a platform's real
// topics (KAFKA_TOPIC_PREFIX and KAFKA_BOOTSTRAP_SERVERS left as in production), read by every
// consumer of them, not only by this service, and fake users and orders would reach them all.
// Every record generate writes carries GENERATED_HEADER; the last record of each partition says
// who writes there, read for the price of ListOffsets and about one fetch a partition. Empty
// topics, and topics generate alone filled (a demo run twice, the tests), pass.

/** The header every generated record carries (value "true"); the service ignores it. */
export const GENERATED_HEADER = "analytics.generated";
const GENERATED_KEY = Buffer.from(GENERATED_HEADER);
const GENERATED_VALUE = Buffer.from("true");
export const GENERATED_HEADERS: ReadonlyMap<Buffer, Buffer> = new Map([[GENERATED_KEY, GENERATED_VALUE]]);

/** The option that writes into topics holding records generate did not write. */
export const FORCE_OPTION = "into-nonempty-topics";

/** What the search reads of a fetched record batch (the client's RecordsBatch). */
export interface FetchedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  attributes: number;
  records: readonly { offsetDelta: number; headers: readonly (readonly [unknown, unknown])[] }[];
}

/** A partition's last record and whether generate wrote it. */
export interface LastRecord {
  offset: bigint;
  generated: boolean;
}

/** The most fetches the search makes in one partition before it gives up, in one line. */
export const MAX_FETCHES = 64;

// The value too: another producer may say of its real records `analytics.generated: false`.
const isGenerated = (headers: readonly (readonly [unknown, unknown])[]) =>
  headers.some(
    ([key, value]) =>
      Buffer.isBuffer(key) && key.equals(GENERATED_KEY) && Buffer.isBuffer(value) && value.equals(GENERATED_VALUE),
  );

/**
 * The last record at or after `start` and below `end` (the partition's log start and end), read
 * through `fetchAt` (the batches a fetch from an offset returns); undefined when there is none.
 * One fetch at end - 1 finds it, unless that offset holds none: a transaction's marker (a control
 * batch), a record compaction removed, or a batch emptied. Then it looks back 16, 256, ... offsets
 * and reads each window to its end, past responses cut short by the fetch's byte limit (the first
 * records of a window are not its last). A
 * partition whose records are all gone (deleted, compacted away) has none: it counts as empty.
 */
export async function lastRecord(
  fetchAt: (offset: bigint) => Promise<readonly FetchedBatch[]>,
  start: bigint,
  end: bigint,
): Promise<LastRecord | undefined> {
  if (end <= start) return undefined;
  let limit = end; // [limit, end) holds no record
  let windowStart = end - 1n;
  let from = windowStart;
  let span = 1n;
  // The latest record read so far in the window: the last one only once the window is read to its end.
  let found: LastRecord | undefined;
  for (let fetches = 0; fetches < MAX_FETCHES; fetches++) {
    const batches = await fetchAt(from);
    let reached = from - 1n;
    for (const batch of batches) {
      const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
      if (last > reached) reached = last;
      if (batch.attributes & IS_CONTROL) continue;
      for (const r of batch.records) {
        const offset = batch.firstOffset + BigInt(r.offsetDelta);
        if (offset < start || offset >= limit || (found !== undefined && offset <= found.offset)) continue;
        found = { offset, generated: isGenerated(r.headers) };
      }
    }
    // Cut short by the byte limit, before the window's end: the rest of the window is read next,
    // whether or not this part held a record, as a later one in the window may be another writer's.
    if (batches.length > 0 && reached + 1n < limit) {
      from = reached + 1n;
      continue;
    }
    if (found !== undefined) return found;
    if (windowStart <= start) return undefined;
    limit = windowStart;
    span *= 16n;
    windowStart = limit - span > start ? limit - span : start;
    from = windowStart;
  }
  throw new SearchExhausted();
}

/** lastRecord found no record in MAX_FETCHES fetches: the end of the log is all markers or emptied batches. */
export class SearchExhausted extends Error {
  override name = "SearchExhausted";
}

/** A record generate did not write, where it was found. */
export interface ForeignRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** No record was found near the end (MAX_FETCHES fetches of markers or gaps): who writes there can't be told. */
  undetermined?: boolean;
}

/** The first partition of `topics` (in their order) whose last record generate did not write. */
export async function findForeignRecord(config: Config, topics: readonly string[]): Promise<ForeignRecord | undefined> {
  const consumer = correctingFetches(
    new Consumer({
      ...kafkaBaseOptions(config, "generator-check"),
      // Never joins: it lists offsets and fetches, and commits nothing.
      groupId: `${config.kafkaGroupId}-generator-check-${randomBytes(6).toString("hex")}`,
      autocommit: false,
      retries: 2,
      // Aborted and still-open transactions' records count: someone else writes there.
      isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
    }),
  );
  try {
    const list = [...topics];
    const ends = await consumer.listOffsets({ topics: list, isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED });
    const starts = await consumer.listOffsets({ topics: list, timestamp: ListOffsetTimestamps.EARLIEST });
    const metadata = await consumer.metadata({ topics: list, forceUpdate: true });
    for (const topic of topics) {
      const layout = metadata.topics.get(topic);
      const topicEnds = ends.get(topic) ?? [];
      for (const [partition, end] of topicEnds.entries()) {
        const start = starts.get(topic)?.[partition] ?? 0n;
        const leader = layout?.partitions[partition]?.leader;
        if (end <= start) continue;
        if (layout === undefined || leader === undefined || leader < 0) {
          throw new KafkaUnavailableError(`generate: ${topic} partition ${partition} has no leader; try again`);
        }
        const fetchAt = fetcher(consumer, { topic, topicId: layout.id, partition, leader });
        const last = await lastRecord(fetchAt, start, end).catch((err: unknown) => {
          if (!(err instanceof SearchExhausted)) throw err;
          return "undetermined" as const;
        });
        // Who writes there can't be told: refused like a foreign record, the option says how to go on.
        if (last === "undetermined") return { topic, partition, offset: end - 1n, undetermined: true };
        if (last !== undefined && !last.generated) return { topic, partition, offset: last.offset };
      }
    }
    return undefined;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new KafkaUnavailableError(
      `generate: reading the last records of ${topics.join(", ")} failed: ${explainKafkaFailure(err, config)}`,
      err,
    );
  } finally {
    await afterOutcome("closing the Kafka client that read the topics' last records", consumer.close(true));
  }
}

/** A function that fetches one partition from an offset: the batches the broker returns. */
function fetcher(
  consumer: Pick<Consumer, "fetch">,
  at: { topic: string; topicId: string; partition: number; leader: number },
): (offset: bigint) => Promise<readonly FetchedBatch[]> {
  return async (offset) => {
    const partitions = [
      {
        partition: at.partition,
        fetchOffset: offset,
        currentLeaderEpoch: -1,
        lastFetchedEpoch: -1,
        partitionMaxBytes: FETCH_BYTES,
      },
    ];
    const request = {
      node: at.leader,
      topics: [{ topicId: at.topicId, partitions }],
      minBytes: 1,
      maxBytes: FETCH_BYTES,
      maxWaitTime: 100,
    };
    const response = await consumer.fetch(request).catch((err: unknown) => {
      // Retention moved the log start past the offset between the listing and the fetch.
      if (!findErrorBy(err as Error, "apiId", "OFFSET_OUT_OF_RANGE")) throw err;
      throw new KafkaUnavailableError(
        `generate: the log start of ${at.topic} partition ${at.partition} moved past offset ${offset} while its last record was read (retention deleting records); run generate again`,
        err,
      );
    });
    return response.responses.flatMap((t) => t.partitions.flatMap((p) => p.records ?? []));
  };
}

/** What one fetch may return: a batch larger than this comes whole all the same (KIP-74). */
const FETCH_BYTES = 1024 * 1024;

/** Refuses, in one line, to write into `topics` when one holds a record generate did not write. */
export async function refuseForeignTopics(config: Config, topics: readonly string[]): Promise<void> {
  const found = await findForeignRecord(config, topics);
  if (found === undefined) return;
  throw new ConfigError(foreignTopicLine(config, found));
}

/** The refusal's line: what was found, why it stops generate, and what to do. */
export function foreignTopicLine(
  config: Pick<Config, "kafkaTopicPrefix" | "kafkaBrokers">,
  found: ForeignRecord,
): string {
  const prefix = config.kafkaTopicPrefix ? `(now ${config.kafkaTopicPrefix}) ` : "";
  const what = found.undetermined
    ? `may hold records generate did not write (partition ${found.partition}: no record among ${MAX_FETCHES} reads back from offset ${found.offset}, only transaction markers or compacted gaps, so who writes there can't be told)`
    : `holds records generate did not write (partition ${found.partition}, offset ${found.offset}, without the ${GENERATED_HEADER} header)`;
  return `generate: ${found.topic} on ${config.kafkaBrokers.join(",")} ${what}: these look like real topics, read by every consumer of them, and fake events would reach them all; set KAFKA_TOPIC_PREFIX ${prefix}to a prefix of test topics, or pass --${FORCE_OPTION} if you mean to write into these`;
}
