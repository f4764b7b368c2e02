// Batches in hand, per partition. A batch may hold several partitions; it is written once every
// batch handed out before it for any of its partitions has finished, so each partition's events
// are written in the order they were read, while different partitions' are written side by side.

export class PartitionScheduler {
  /** Batches handed out and not yet finished, per partition. */
  readonly #claims = new Map<string, number>();
  /** Each partition's newest batch: the partition's next batch waits for it. */
  readonly #tails = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #onRelease: () => void;

  /** `onRelease` runs whenever a batch finishes (the reader may then take more of its partitions). */
  constructor(onRelease: () => void = () => {}) {
    this.#onRelease = onRelease;
  }

  /** Batches in hand. */
  get size(): number {
    return this.#inFlight.size;
  }

  /** Batches in hand that hold events of `key`. */
  claims(key: string): number {
    return this.#claims.get(key) ?? 0;
  }

  /**
   * Hands out a batch of `keys`: `work` gets the batches it must wait for and must not reject
   * (the caller turns its failures into its own state).
   */
  add(keys: readonly string[], work: (before: Promise<void>[]) => Promise<void>): void {
    const unique = [...new Set(keys)];
    const before = unique.flatMap((key) => this.#tails.get(key) ?? []);
    // `task` is the settled end of the chain: what the next batch of these partitions waits for,
    // and what #tails and #inFlight hold (and compare) until it has cleaned up.
    const task: Promise<void> = work(before).finally(() => this.#release(unique, task));
    for (const key of unique) {
      this.#claims.set(key, this.claims(key) + 1);
      this.#tails.set(key, task);
    }
    this.#inFlight.add(task);
  }

  /** Resolves when any batch in hand finishes. */
  async any(): Promise<void> {
    await Promise.race(this.#inFlight);
  }

  /** Resolves when every batch in hand, and every batch they handed out meanwhile, has finished. */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #release(keys: readonly string[], task: Promise<void>) {
    for (const key of keys) {
      const claims = this.claims(key) - 1;
      if (claims > 0) this.#claims.set(key, claims);
      else this.#claims.delete(key);
      if (this.#tails.get(key) === task) this.#tails.delete(key);
    }
    this.#inFlight.delete(task);
    this.#onRelease();
  }
}
