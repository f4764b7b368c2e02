import { type Admin, FetchIsolationLevels, ResponseError } from "@platformatic/kafka";
import { getOrCreate } from "../collections.ts";
import { topicIds } from "../kafka/topics.ts";
import { partitionKey } from "./batch-reader.ts";

// The lag of the source topics, read every few seconds for the metrics and the partition watch.
// The group consumer's own getLag asks each partition's leader as its metadata last said, and
// retries the same broker six times at 30 s each: after a broker stopped answering and its
// partitions moved, it kept asking the silent one for three minutes, which held the Kafka outage
// (kafka/broker-silence.ts) long after the stream read from the new leaders. Here each turn asks
// once, from fresh metadata, on a client without retries; a turn that fails leaves the next to try.
// The end offsets are the last stable ones (READ_COMMITTED), as the group consumer's were and as
// the stream reads: the records of a transaction still open are not readable yet, and counting
// them showed lag on a caught-up instance for as long as an upstream transaction stayed open.
// Each leader is asked for its own partitions apart: the client asks them all in one call that
// fails whole when one leader fails, so one broker down, or partitions just added and without a
// leader yet, left every partition's lag unread, the open-transaction watch blind, and the
// partition watch (which counts from this report) late. A partition whose leader did not answer
// this turn, or that has none, is reported unread; its count still comes from the metadata. The
// client fails a whole metadata request for one partition without a leader, and `listOffsets`
// makes its own for the topics it is given: the partitions are counted from that failed answer,
// and a topic with a partition without a leader is not asked about (the call could only fail).

/** A partition's lag; -1 when not this member's; undefined when its end offset was not read this turn. */
export type LagFigure = bigint | undefined;

export interface Lag {
  /** Per topic, each partition's lag (an entry for each partition the metadata lists). */
  lag: Map<string, LagFigure[]>;
  /** Each topic's id, as the metadata the lag was read with says. */
  ids: Map<string, string>;
  /**
   * This member's partitions read up to their last stable offset behind which later records
   * wait: an open transaction (read/open-transactions.ts). `stable` is the last stable offset,
   * `end` the high watermark.
   */
  held: { topic: string; partition: number; stable: bigint; end: bigint }[];
  /** `topic:partition` of the partitions whose leader did not answer this turn, or that had none. */
  unread: ReadonlySet<string>;
  /** Why: each failed leader's error (a partition without a leader has none). */
  failures: unknown[];
}

/** The end offsets of each topic's partitions, as `listOffsets` answers. */
type ListedOffsets = readonly { name: string; partitions: readonly { partitionIndex: number; offset: bigint }[] }[];

/** Owned partitions whose committed offset is at the last stable offset, below the high watermark. */
export function heldOf(
  stable: ListedOffsets,
  ends: ListedOffsets,
  committed: ReadonlyMap<string, bigint>,
): Lag["held"] {
  const high = new Map<string, bigint>();
  for (const { name, partitions } of ends)
    for (const p of partitions) high.set(partitionKey(name, p.partitionIndex), p.offset);
  const held: Lag["held"] = [];
  for (const { name, partitions } of stable) {
    for (const { partitionIndex, offset } of partitions) {
      const key = partitionKey(name, partitionIndex);
      const end = high.get(key);
      const at = committed.get(key);
      if (end !== undefined && at !== undefined && at >= offset && end > offset) {
        held.push({ topic: name, partition: partitionIndex, stable: offset, end });
      }
    }
  }
  return held;
}

/**
 * The end offsets of `topics`' partitions, as `listOffsets` answers, less what `committed` (by
 * `topic:partition`) holds: an entry for each of `counts`' partitions (and any answered past it);
 * one of this member's that `ends` does not answer for is undefined.
 */
export function lagOf(
  ends: ListedOffsets,
  committed: ReadonlyMap<string, bigint>,
  counts: ReadonlyMap<string, number> = new Map(),
): Map<string, LagFigure[]> {
  const listed = new Map<string, bigint>();
  const lengths = new Map(counts);
  for (const { name, partitions } of ends) {
    for (const { partitionIndex, offset } of partitions) {
      listed.set(partitionKey(name, partitionIndex), offset);
      lengths.set(name, Math.max(lengths.get(name) ?? 0, partitionIndex + 1));
    }
  }
  const lag = new Map<string, LagFigure[]>();
  for (const [name, length] of lengths) {
    const figures = Array.from({ length }, (_, partition): LagFigure => {
      const at = committed.get(partitionKey(name, partition));
      if (at === undefined) return -1n;
      const end = listed.get(partitionKey(name, partition));
      return end === undefined ? undefined : end - at;
    });
    lag.set(name, figures);
  }
  return lag;
}

/** What readLag needs of a topic's metadata: its id, and each partition's leader (-1: none). */
type Layout = Map<string, { id?: string; partitionsCount: number; partitions?: ({ leader: number } | undefined)[] }>;

/** A metadata answer's topics, as the client parses them before it checks their errors. */
interface RawMetadata {
  topics: {
    name: string | null;
    topicId: string;
    partitions: { errorCode: number; partitionIndex: number; leaderId: number }[];
  }[];
}

/**
 * The metadata of `topics`, fresh. The client fails the whole request when a partition has no
 * leader (LEADER_NOT_AVAILABLE: just added, or its brokers down); its answer is read then, such
 * a partition's leader as -1. Any other failure (a topic's own error, no answer) is thrown.
 */
export async function layoutOf(admin: Pick<Admin, "metadata">, topics: readonly string[]): Promise<Layout> {
  try {
    return (await admin.metadata({ topics: [...topics], forceUpdate: true })).topics;
  } catch (err) {
    const raw = partitionErrorsOnly(err);
    if (raw === undefined) throw err;
    const layout: Layout = new Map();
    for (const t of raw.topics) {
      if (t.name === null || !topics.includes(t.name)) continue;
      const partitions: { leader: number }[] = [];
      for (const p of t.partitions) partitions[p.partitionIndex] = { leader: p.errorCode === 0 ? p.leaderId : -1 };
      layout.set(t.name, { id: t.topicId, partitionsCount: t.partitions.length, partitions });
    }
    return layout;
  }
}

/** The answer of a metadata request that failed for its partitions' errors alone. */
function partitionErrorsOnly(err: unknown): RawMetadata | undefined {
  if (!(err instanceof ResponseError)) return undefined;
  const onPartitions = err.errors.every((e: { path?: unknown }) =>
    /^\/topics\/\d+\/partitions\/\d+$/.test(String(e.path)),
  );
  const response = (err as { response?: Partial<RawMetadata> }).response;
  return onPartitions && Array.isArray(response?.topics) ? (response as RawMetadata) : undefined;
}

/**
 * Each topic's partitions, by the leader the metadata names; -1 holds those of topics with a
 * partition without a leader, which the client can't be asked about.
 */
function byLeader(
  layout: Layout,
  topics: readonly string[],
): { counts: Map<string, number>; leaders: Map<number, Map<string, number[]>> } {
  const counts = new Map<string, number>();
  const leaders = new Map<number, Map<string, number[]>>();
  for (const name of topics) {
    const topic = layout.get(name);
    const count = topic?.partitionsCount ?? 0;
    if (count > 0) counts.set(name, count);
    const leaderOf = (p: number) => topic?.partitions?.[p]?.leader ?? -1;
    const leaderless = Array.from({ length: count }, (_, p) => leaderOf(p)).some((l) => l < 0);
    for (let partition = 0; partition < count; partition++) {
      const own = getOrCreate(leaders, leaderless ? -1 : leaderOf(partition), () => new Map<string, number[]>());
      getOrCreate(own, name, () => []).push(partition);
    }
  }
  return { counts, leaders };
}

/**
 * The lag of every partition of `topics`, each leader asked once for its own (`admin` makes no
 * retries). Fails when no leader answered; otherwise the partitions of those that did not are
 * `unread`.
 */
export async function readLag(
  admin: Pick<Admin, "metadata" | "listOffsets">,
  topics: readonly string[],
  committed: ReadonlyMap<string, bigint>,
): Promise<Lag> {
  const layout = await layoutOf(admin, topics);
  const { counts, leaders } = byLeader(layout, topics);
  const unread = new Set<string>();
  const asked: Map<string, number[]>[] = [];
  for (const [leader, partitions] of leaders) {
    if (leader >= 0) asked.push(partitions);
    else for (const [name, ps] of partitions) for (const p of ps) unread.add(partitionKey(name, p));
  }
  const answers = await Promise.allSettled(
    asked.map((partitions) => {
      const request = [...partitions].map(([name, ps]) => ({
        name,
        partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp: -1n })),
      }));
      // The high watermarks too: past the last stable offset, records an open transaction holds back.
      return Promise.all([
        admin.listOffsets({ topics: request, isolationLevel: FetchIsolationLevels.READ_COMMITTED }),
        admin.listOffsets({ topics: request, isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED }),
      ]);
    }),
  );
  const ends: ListedOffsets[number][] = [];
  const highs: ListedOffsets[number][] = [];
  const failures: unknown[] = [];
  answers.forEach((answer, i) => {
    if (answer.status === "fulfilled") {
      ends.push(...answer.value[0]);
      highs.push(...answer.value[1]);
      return;
    }
    failures.push(answer.reason);
    for (const [name, ps] of asked[i] ?? []) for (const p of ps) unread.add(partitionKey(name, p));
  });
  // No leader answered: as the one call failed before, the turn fails and the next tries again.
  if (failures.length > 0 && failures.length === asked.length) throw failures[0];
  return {
    lag: lagOf(ends, committed, counts),
    ids: topicIds(layout),
    held: heldOf(ends, highs, committed),
    unread,
    failures,
  };
}
