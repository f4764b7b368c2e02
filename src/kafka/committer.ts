import type { CommitOptionsPartition } from "@platformatic/kafka";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";

// Offsets are committed off the write path, the way Kafka Connect flushes offsets: a batch marks
// its partitions' next offsets once its rows are in MySQL and its dead letters acknowledged, and
// its partitions' next batches are written at once. One commit request is in flight at a time;
// what is marked meanwhile goes into the next one, newest offset per partition. A commit that
// fails (rebalance, coordinator moved) is logged: those events are read again and applied
// idempotently. Committing later never loses an event, it only widens what a restart re-reads.

export type CommitOffset = CommitOptionsPartition;

export interface CommitterDeps {
  commit: (offsets: CommitOffset[]) => Promise<void>;
  /** Whether this member still owns the partition; a partition that moved is the new owner's to commit. */
  owns: (key: string) => boolean;
  log: Logger;
}

export class OffsetCommitter {
  readonly #d: CommitterDeps;
  readonly #pending = new Map<string, CommitOffset>();
  #running: Promise<void> | null = null;

  constructor(deps: CommitterDeps) {
    this.#d = deps;
  }

  /** Marks `offset` (the next one to read) of the partition `key` for the next commit. */
  mark(key: string, offset: CommitOffset): void {
    this.#pending.set(key, offset);
    this.#kick();
  }

  /** Resolves once everything marked so far has been committed (or its commit has failed). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  #kick() {
    if (this.#running || this.#pending.size === 0) return;
    this.#running = this.#commitPending().finally(() => {
      this.#running = null;
      this.#kick();
    });
  }

  async #commitPending() {
    const offsets = [...this.#pending].filter(([key]) => this.#d.owns(key)).map(([, offset]) => offset);
    this.#pending.clear();
    if (offsets.length === 0) return;
    try {
      await this.#d.commit(offsets);
    } catch (err) {
      // The group moved on or the coordinator is away: the new owner, or this member after
      // rejoining, re-reads from the last committed offset and applies idempotently.
      this.#d.log.warn({ err: messageOf(err) }, "offset commit failed; these events will be read again");
    }
  }
}
