// A partition added to a source topic while the service runs must be read. Under the classic
// group protocol nothing tells the group: the Java client's leader notices it in its metadata and
// rebalances; this client does not. The lag monitor already lists every partition of each source
// topic every few seconds, so the watch compares those counts with the ones known when the group
// was joined, and the pipeline rejoins on growth: the group's leader, which runs the same watch,
// then assigns the new partitions.

/** Partition counts per topic, as first known and as seen since. */
export class PartitionWatch {
  readonly #known: Map<string, number>;

  /** `known`: the counts read before the group was first joined. */
  constructor(known: ReadonlyMap<string, number>) {
    this.#known = new Map(known);
  }

  /**
   * The topics whose partition count grew since the last call, as lines for the log: the lag
   * monitor's map has an entry per partition of each topic it asked about.
   */
  grown(lag: ReadonlyMap<string, readonly unknown[]>): string[] {
    const grown: string[] = [];
    for (const [topic, partitions] of lag) {
      const before = this.#known.get(topic) ?? 0;
      // Kafka never takes partitions away: a smaller count is a stale answer, and is not kept,
      // or a broker flapping between two answers would make the group rejoin each time.
      if (partitions.length <= before) continue;
      grown.push(`${topic} (${before} → ${partitions.length})`);
      this.#known.set(topic, partitions.length);
    }
    return grown;
  }
}
