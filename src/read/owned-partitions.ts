import { partitionKey } from "./batch-reader.ts";

// Whether this member owns a partition, asked for each partition of every batch and of every
// commit. The client replaces its list of assignments at each rebalance and never changes one in
// place, so the keys of the list it holds are made once per list: walking the list for each key
// made a commit of every partition cost partitions × partitions (5 topics of 1,000 partitions:
// half a second of the event loop for the first commit of where the partitions stand).

export interface Assignment {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export class OwnedPartitions {
  readonly #assignments: () => readonly Assignment[] | null | undefined;
  #of: readonly Assignment[] | null = null;
  #keys = new Set<string>();

  /** `assignments`: the client's current list (`consumer.assignments`), null before it has joined. */
  constructor(assignments: () => readonly Assignment[] | null | undefined) {
    this.#assignments = assignments;
  }

  owns(key: string): boolean {
    const assignments = this.#assignments();
    if (!assignments) return false;
    if (assignments !== this.#of) {
      this.#of = assignments;
      this.#keys = new Set(assignments.flatMap((a) => a.partitions.map((p) => partitionKey(a.topic, p))));
    }
    return this.#keys.has(key);
  }
}
