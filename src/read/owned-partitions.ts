import { partitionKey } from "./batch-reader.ts";

// Whether this member owns a partition, asked for each partition of every batch and of every
// commit. The client replaces its list of assignments at each rebalance and never changes one in
// place, so the keys of the list it holds are made once per list: walking the list for each key
// made a commit of every partition cost partitions × partitions (5 topics of 1,000 partitions:
// half a second of the event loop for the first commit of where the partitions stand).
//
// Owning a partition now is not owning it since: a partition taken away by one rebalance and
// handed back by the next was another member's in between, which may have written its later
// events and committed past them. A batch read before then, or an offset marked before then,
// belongs to a tenure that ended. Each partition's tenure is the number of the list it was last
// handed to this member in; `observe` is called at every join, so no list goes unseen.

export interface Assignment {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export class OwnedPartitions {
  readonly #assignments: () => readonly Assignment[] | null | undefined;
  #of: readonly Assignment[] | null = null;
  #keys = new Set<string>();
  /** Each owned partition's tenure: the number of the list it was last handed to this member in. */
  readonly #since = new Map<string, number>();
  #lists = 0;

  /** `assignments`: the client's current list (`consumer.assignments`), null before it has joined. */
  constructor(assignments: () => readonly Assignment[] | null | undefined) {
    this.#assignments = assignments;
  }

  owns(key: string): boolean {
    this.observe();
    return this.#keys.has(key);
  }

  /** The partition's tenure; undefined when it is not this member's. The same number means owned throughout. */
  since(key: string): number | undefined {
    this.observe();
    return this.#since.get(key);
  }

  /** Reads the client's list, if it is a new one: called at each join (`consumer:group:join`, `consumer:group:leave`). */
  observe(): void {
    const assignments = this.#assignments() ?? null;
    if (assignments === this.#of) return;
    this.#of = assignments;
    this.#keys = new Set((assignments ?? []).flatMap((a) => a.partitions.map((p) => partitionKey(a.topic, p))));
    this.#lists++;
    for (const key of this.#since.keys()) if (!this.#keys.has(key)) this.#since.delete(key);
    for (const key of this.#keys) if (!this.#since.has(key)) this.#since.set(key, this.#lists);
  }

  /** The group dropped this member: whatever it is handed from now on, it is handed anew. */
  endTenures(): void {
    this.#of = null;
    this.#keys = new Set();
    this.#since.clear();
  }
}
