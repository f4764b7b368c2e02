import { type Consumer, findErrorBy } from "@platformatic/kafka";
import { getOrCreate } from "../collections.ts";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";

// A fetch offset no longer in its partition's log: the data was deleted by retention before the
// group read it, or the topic was deleted and created again. The client then reads on from the
// log's start (KAFKA_AUTO_OFFSET_RESET=earliest) or end (latest), as Kafka's consumers do, and
// says nothing; the service says which offsets it never read.

/** ProtocolError OFFSET_OUT_OF_RANGE's code in a partition's answer. */
const OFFSET_OUT_OF_RANGE = 1;

export interface OutOfRange {
  topic: string;
  partition: number;
  /** The offset asked for. */
  requested: bigint;
}

/** Where a partition's log starts and ends (its high watermark). */
export interface LogBounds {
  logStart: bigint;
  end: bigint;
}

interface FetchRequest {
  topics?: { topicId: string; partitions: { partition: number; fetchOffset: bigint }[] }[];
}
interface FetchAnswer {
  responses?: {
    topicId: string;
    partitions: { partitionIndex: number; errorCode: number }[];
  }[];
}

/** The partitions a failed fetch asked for past their log, named by `topicOf(topicId)`. */
export function outOfRange(
  request: unknown,
  error: unknown,
  topicOf: (id: string) => string | undefined,
): OutOfRange[] {
  const failure = findErrorBy(error as Error, "apiId", "OFFSET_OUT_OF_RANGE") as { response?: FetchAnswer } | null;
  const answer = failure === null ? undefined : ((error as { response?: FetchAnswer }).response ?? failure.response);
  // The client's stream asks for each partition in an entry of its own, so one topic's partitions
  // are spread over as many entries as it has partitions: each is looked up by topic and partition.
  const asked = new Map<string, bigint>();
  for (const a of (request as FetchRequest).topics ?? []) {
    for (const p of a.partitions) asked.set(`${a.topicId}:${p.partition}`, p.fetchOffset);
  }
  const out: OutOfRange[] = [];
  for (const t of answer?.responses ?? []) {
    for (const p of t.partitions) {
      if (p.errorCode !== OFFSET_OUT_OF_RANGE) continue;
      const requested = asked.get(`${t.topicId}:${p.partitionIndex}`);
      if (requested === undefined) continue;
      const topic = topicOf(t.topicId) ?? `topic id ${t.topicId}`;
      out.push({ topic, partition: p.partitionIndex, requested });
    }
  }
  return out;
}

/**
 * The bounds of the logs of `topic`'s partitions now, by partition (the broker's answer to the
 * fetch gives none: -1), read as the client reads them to read on: two requests per topic,
 * however many of its partitions a fetch found past their log.
 */
export async function logBounds(consumer: Pick<Consumer, "listOffsets">, topic: string): Promise<LogBounds[]> {
  const at = async (timestamp: bigint) => (await consumer.listOffsets({ topics: [topic], timestamp })).get(topic) ?? [];
  const [starts, ends] = await Promise.all([at(-2n), at(-1n)]);
  return starts.map((logStart, partition) => ({ logStart, end: ends[partition] ?? -1n }));
}

/** The line for `r`: which offsets the group will never read, and where it reads on. */
export function outOfRangeLine(o: OutOfRange, b: LogBounds, reset: "earliest" | "latest"): string {
  const r = { ...o, ...b };
  const at = `${r.topic}/${r.partition}: offset ${r.requested} is no longer in the log (offsets ${r.logStart}–${r.end - 1n} are)`;
  const from = reset === "earliest" ? r.logStart : r.end;
  const lost =
    r.requested < r.logStart
      ? `offsets ${r.requested}–${r.logStart - 1n} were deleted (retention) before the group read them`
      : "the topic was deleted and created again, or its log cut back";
  const skipped =
    reset === "latest" && from > r.logStart ? `; the ${from - r.logStart} still in the log are skipped too` : "";
  return `${at}: ${lost}; reading on from ${from} (KAFKA_AUTO_OFFSET_RESET=${reset})${skipped}`;
}

/** Partitions of one topic said a line each; the rest of them one line together. */
export const LINES_PER_TOPIC = 10;

/**
 * Says which offsets of each partition in `found` (those one fetch found past their log) the
 * group will never read, once the client reads on past them: a line per partition, the bounds
 * read once per topic. Retention passing a stopped group deletes offsets on every partition at
 * once: past LINES_PER_TOPIC, one line says how many more partitions, and offsets, went.
 */
export async function warnOutOfRange(
  consumer: Pick<Consumer, "listOffsets">,
  found: readonly OutOfRange[],
  reset: "earliest" | "latest",
  log: Logger,
) {
  const byTopic = new Map<string, OutOfRange[]>();
  for (const r of found) getOrCreate(byTopic, r.topic, () => []).push(r);
  await Promise.all(
    [...byTopic].map(async ([topic, partitions]) => {
      let bounds: LogBounds[] | Error;
      try {
        bounds = await logBounds(consumer, topic);
      } catch (err) {
        bounds = err instanceof Error ? err : new Error(messageOf(err));
      }
      const boundsOf = (partition: number) => (bounds instanceof Error ? undefined : bounds[partition]);
      const from = reset === "earliest" ? "start" : "end";
      const told = partitions.slice(0, LINES_PER_TOPIC);
      const rest = partitions.slice(LINES_PER_TOPIC);
      if (rest.length > 0) log.warn({ topic, partitions: rest.length }, restLine(topic, rest, boundsOf, from, reset));
      for (const r of told) {
        const where = { topic: r.topic, partition: r.partition };
        const b = boundsOf(r.partition);
        if (b !== undefined && b.logStart >= 0n && b.end >= 0n) {
          log.warn(where, outOfRangeLine(r, b, reset));
          continue;
        }
        const why = bounds instanceof Error ? messageOf(bounds) : "the broker did not name them";
        log.warn(
          where,
          `${r.topic}/${r.partition}: offset ${r.requested} is no longer in the log; reading on from its ${from} (KAFKA_AUTO_OFFSET_RESET=${reset}); its bounds could not be read: ${why}`,
        );
      }
    }),
  );
}

/** One line for the partitions of `topic` past LINES_PER_TOPIC. */
function restLine(
  topic: string,
  rest: readonly OutOfRange[],
  boundsOf: (partition: number) => LogBounds | undefined,
  from: string,
  reset: string,
): string {
  let deleted = 0n;
  for (const r of rest) {
    const b = boundsOf(r.partition);
    if (b !== undefined && r.requested < b.logStart) deleted += b.logStart - r.requested;
  }
  const counted = deleted > 0n ? `, ${deleted} offsets in all deleted (retention) before the group read them` : "";
  return `${topic}: ${rest.length} more partitions had their offsets no longer in the log${counted}; each reads on from its ${from} (KAFKA_AUTO_OFFSET_RESET=${reset})`;
}
