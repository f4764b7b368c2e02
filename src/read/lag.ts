import { type Admin, FetchIsolationLevels } from "@platformatic/kafka";
import { topicIds } from "../kafka/topics.ts";

// The lag of the source topics, read every few seconds for the metrics and the partition watch.
// The group consumer's own getLag asks each partition's leader as its metadata last said, and
// retries the same broker six times at 30 s each: after a broker stopped answering and its
// partitions moved, it kept asking the silent one for three minutes, which held the Kafka outage
// (kafka/broker-silence.ts) long after the stream read from the new leaders. Here each turn asks
// once, from fresh metadata, on a client without retries; a turn that fails leaves the next to try.
// The end offsets are the last stable ones (READ_COMMITTED), as the group consumer's were and as
// the stream reads: the records of a transaction still open are not readable yet, and counting
// them showed lag on a caught-up instance for as long as an upstream transaction stayed open.

export interface Lag {
  /** Per topic, each partition's lag: its end offset less the committed one; -1 when not this member's. */
  lag: Map<string, bigint[]>;
  /** Each topic's id, as the metadata the lag was read with says. */
  ids: Map<string, string>;
  /**
   * This member's partitions read up to their last stable offset behind which later records
   * wait: an open transaction (read/open-transactions.ts). `stable` is the last stable offset,
   * `end` the high watermark.
   */
  held: { topic: string; partition: number; stable: bigint; end: bigint }[];
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
    for (const p of partitions) high.set(`${name}:${p.partitionIndex}`, p.offset);
  const held: Lag["held"] = [];
  for (const { name, partitions } of stable) {
    for (const { partitionIndex, offset } of partitions) {
      const key = `${name}:${partitionIndex}`;
      const end = high.get(key);
      const at = committed.get(key);
      if (end !== undefined && at !== undefined && at >= offset && end > offset) {
        held.push({ topic: name, partition: partitionIndex, stable: offset, end });
      }
    }
  }
  return held;
}

/** The end offsets of `topics`' partitions, as `listOffsets` answers, less what `committed` (by `topic:partition`) holds. */
export function lagOf(ends: ListedOffsets, committed: ReadonlyMap<string, bigint>): Map<string, bigint[]> {
  const lag = new Map<string, bigint[]>();
  for (const { name, partitions } of ends) {
    const figures: bigint[] = [];
    for (const { partitionIndex, offset } of partitions) {
      const at = committed.get(`${name}:${partitionIndex}`);
      figures[partitionIndex] = at === undefined ? -1n : offset - at;
    }
    lag.set(
      name,
      Array.from(figures, (f) => f ?? -1n),
    );
  }
  return lag;
}

/** The lag of every partition of `topics`, asked of their leaders once (`admin` makes no retries). */
export async function readLag(
  admin: Pick<Admin, "metadata" | "listOffsets">,
  topics: readonly string[],
  committed: ReadonlyMap<string, bigint>,
): Promise<Lag> {
  const metadata = await admin.metadata({ topics: [...topics], forceUpdate: true });
  const requests = [...topics].map((name) => ({
    name,
    partitions: Array.from({ length: metadata.topics.get(name)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({
      partitionIndex,
      timestamp: -1n,
    })),
  }));
  const asked = requests.filter((r) => r.partitions.length > 0);
  // The high watermarks too: past the last stable offset, records an open transaction holds back.
  const [ends, highs] = await Promise.all([
    admin.listOffsets({ topics: asked, isolationLevel: FetchIsolationLevels.READ_COMMITTED }),
    admin.listOffsets({ topics: asked, isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED }),
  ]);
  return { lag: lagOf(ends, committed), ids: topicIds(metadata.topics), held: heldOf(ends, highs, committed) };
}
