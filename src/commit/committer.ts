import type { CommitOptionsPartition } from "@platformatic/kafka";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";

// Offsets are committed off the write path, the way Kafka Connect flushes offsets: a batch marks
// its partitions' next offsets once its rows are in MySQL and its dead letters acknowledged, and
// its partitions' next batches are written at once. One commit request is in flight at a time;
// what is marked meanwhile goes into the next one, newest offset per partition. A commit that
// fails (coordinator moved or away) is logged and retried after a backoff, together with what was
// marked since, so an idle group's committed offsets still catch up with its rows (lag monitors
// read them). A partition that moved away is left to its new owner. Committing later never loses
// an event, it only widens what a restart re-reads, idempotently.

export type CommitOffset = CommitOptionsPartition;

export interface CommitterDeps {
  commit: (offsets: CommitOffset[]) => Promise<void>;
  /** Whether this member still owns the partition; a partition that moved is the new owner's to commit. */
  owns: (key: string) => boolean;
  /**
   * The partition's tenure (read/owned-partitions.ts): an offset marked in one is not committed in
   * another, as the partition was another member's in between, which may have committed further.
   */
  since?: (key: string) => number | undefined;
  /** How long to wait before the next attempt after `failures` failed commits in a row. */
  retryDelayMs: (failures: number) => number;
  log: Logger;
}

export class OffsetCommitter {
  readonly #d: CommitterDeps;
  readonly #pending = new Map<string, Marked>();
  #running: Promise<void> | null = null;
  /** Set while waiting to retry a failed commit: marks wait for it rather than hammer a broker that failed. */
  #retry: NodeJS.Timeout | null = null;
  #failures = 0;
  /** Counts forget(): a commit in flight when it was called puts nothing back if it fails. */
  #era = 0;

  constructor(deps: CommitterDeps) {
    this.#d = deps;
  }

  /** Marks `offset` (the next one to read) of the partition `key` for the next commit. */
  mark(key: string, offset: CommitOffset): void {
    this.#pending.set(key, { offset, since: this.#d.since?.(key) });
    this.#kick();
  }

  /**
   * Drops what is marked and not yet committed: the group dropped this member, and another may
   * have committed further on its partitions since (a rejoin that gets them back would otherwise
   * move their committed offsets back), as Kafka Connect drops a lost partition's offsets. What
   * they cover is read again from the group's committed offsets.
   */
  forget(): void {
    this.#pending.clear();
    this.#era++;
  }

  /**
   * Resolves once everything marked so far has been committed, or its commit has failed: a retry
   * that is waiting is tried at once, and only once, so shutdown never hangs on a broker that is away.
   * `last` (shutdown): no commit comes after, and a failure says so.
   */
  async flush({ last = false } = {}): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#retry === null) return;
    clearTimeout(this.#retry);
    this.#retry = null;
    await this.#attempt(false, last);
    while (this.#running) await this.#running;
  }

  #kick() {
    if (this.#running || this.#retry || this.#pending.size === 0) return;
    this.#attempt(true);
  }

  #attempt(retryOnFailure: boolean, last = false): Promise<void> {
    this.#running = this.#commitPending(last).then((committed) => {
      this.#running = null;
      if (committed) {
        this.#failures = 0;
        this.#kick();
      } else if (retryOnFailure) {
        this.#retry = setTimeout(
          () => {
            this.#retry = null;
            this.#kick();
          },
          this.#d.retryDelayMs(this.#failures++),
        );
        // A retry alone must not keep a process that is done from exiting.
        this.#retry.unref();
      }
    });
    return this.#running;
  }

  /** Commits what is pending; false if the commit failed, its offsets back in pending unless overtaken. */
  async #commitPending(last: boolean): Promise<boolean> {
    const batch = [...this.#pending].filter(([key, marked]) => this.#stillHeld(key, marked));
    this.#pending.clear();
    if (batch.length === 0) return true;
    const era = this.#era;
    try {
      await this.#d.commit(batch.map(([, marked]) => marked.offset));
      return true;
    } catch (err) {
      // An offset marked meanwhile is newer and takes the failed one's place; after forget(), none does.
      let dropped = 0;
      for (const [key, marked] of batch) {
        if (era !== this.#era || !this.#stillHeld(key, marked)) dropped++;
        else if (!this.#pending.has(key)) this.#pending.set(key, marked);
      }
      this.#d.log.warn(
        { err: messageOf(err), partitions: batch.length, dropped },
        last ? LAST_COMMIT_FAILED : failedCommitLine(batch.length, dropped),
      );
      return false;
    }
  }

  /** Owned, and never lost since the offset was marked. */
  #stillHeld(key: string, marked: Marked): boolean {
    return this.#d.owns(key) && this.#d.since?.(key) === marked.since;
  }
}

interface Marked {
  offset: CommitOffset;
  /** The partition's tenure when the offset was marked. */
  since: number | undefined;
}

const LAST_COMMIT_FAILED =
  "offset commit failed at shutdown; their events are read again from the group's committed offsets, at the next start or by their partitions' new owner";

/**
 * What became of a failed commit's offsets. Those of partitions no longer this member's, or marked
 * before the group dropped it (forget), are not tried again: saying they go with the next commit
 * would have an operator wait for a commit that never comes.
 */
function failedCommitLine(partitions: number, dropped: number): string {
  const readAgain = "their events are read again from the group's committed offsets";
  if (dropped === 0) {
    return "offset commit failed; its offsets go with the next commit (a restart before then reads their events again)";
  }
  if (dropped === partitions) {
    return `offset commit failed; its offsets are dropped, not retried (their partitions moved away or the group dropped this member): ${readAgain}`;
  }
  return `offset commit failed; ${partitions - dropped} of its ${partitions} offsets go with the next commit, ${dropped} are dropped (their partitions moved away): ${readAgain}`;
}
