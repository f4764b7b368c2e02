import { getOrCreate } from "../collections.ts";
import type { CommitOffset } from "../commit/committer.ts";
import type { DeadLetter, SourceMessage } from "../dead-letter/letter.ts";
import type { Decoded } from "../decode/decode.ts";
import type { UnknownEnumValue } from "../domains/domain.ts";
import type { Logger } from "../log.ts";
import { RateLimitedWarnings } from "../observability/bounded.ts";
import type { Op, Outcome } from "../plan/ops.ts";
import { partitionKey } from "../read/batch-reader.ts";
import { AbandonedError, PartitionMovedError } from "../retry.ts";
import { addRowCounts, type RowCounts } from "../write/store.ts";
import type { BatchResult, Ownership } from "../write/transaction.ts";
import { UnexpectedErrorBreaker } from "./breaker.ts";

// One batch, from decoded events to marked offsets: split it by partition, drop what belongs to
// partitions this member no longer owns, apply each group of partitions in one transaction,
// dead-letter what was rejected, and only then mark each partition's next offset for the
// committer. I/O comes in through BatchDeps, so this runs in unit tests without Kafka or MySQL.

/** A consumed record, as much of it as a batch needs: what a letter keeps, and the epoch a commit carries. */
export interface BatchMessage extends SourceMessage {
  leaderEpoch: number;
}

/** What happened to one event, for metrics and tests. */
export interface EventReport {
  topic: string;
  partition: number;
  offset: bigint;
  eventType: string | undefined;
  /** The event's timestamp as DATETIME(6) UTC text, when it could be read. */
  eventTs: string | undefined;
  outcome: Outcome;
  unknownEnums: UnknownEnumValue[];
  keyMismatch?: boolean | undefined;
}

export interface BatchReport {
  events: EventReport[];
  rows: RowCounts;
  seconds: number;
}

export interface BatchDeps {
  /** One transaction's events; waits out a database outage (AbandonedError on shutdown). */
  apply(items: readonly (Op | Outcome)[], signal: AbortSignal, owned: Ownership): Promise<BatchResult>;
  /** Sends letters, acknowledged; waits out a Kafka outage (AbandonedError on shutdown). */
  deadLetter(letters: readonly DeadLetter[], signal: AbortSignal): Promise<void>;
  owns(key: string): boolean;
  /** Whether the group's coordinator still counts this member in (read/membership-lease.ts). */
  membership: {
    /** Now, without waiting. */
    holds(): boolean;
    /** Waiting for the coordinator's next answer when the lease has run out. */
    confirm(signal: AbortSignal): Promise<boolean>;
  };
  /** Marks the partition's next offset to read for the committer. */
  mark(key: string, offset: CommitOffset): void;
  /** Transactions a batch is split into at most (the pool's connections). */
  transactions: number;
  maxUnexpectedErrors: number;
  log: Logger;
  onBatch?: ((report: BatchReport) => void) | undefined;
}

interface Slice<M> {
  messages: M[];
  decoded: Decoded[];
}

/** Deals partition slices into at most `n` groups of similar size, largest first. */
export function groupSlices<T extends { messages: unknown[] }>(slices: [string, T][], n: number): [string, T][][] {
  const groups: [string, T][][] = Array.from({ length: Math.max(1, Math.min(n, slices.length)) }, () => []);
  const sizes = groups.map(() => 0);
  for (const slice of [...slices].sort((a, b) => b[1].messages.length - a[1].messages.length)) {
    const smallest = sizes.indexOf(Math.min(...sizes));
    groups[smallest]?.push(slice);
    sizes[smallest] = (sizes[smallest] ?? 0) + slice[1].messages.length;
  }
  return groups.filter((g) => g.length > 0);
}

/** What applying a batch's groups produced, before the dead letters are sent. */
interface Applied<M> {
  events: EventReport[];
  rows: RowCounts;
  /** Each partition's last message, once its group is in MySQL. */
  done: Map<string, M>;
  letters: DeadLetter[];
  /** Events whose handling threw something unforeseen, with where it happened. */
  unexpected: Unexpected<M>[];
  abandoned: boolean;
  /** A group's partitions moved away before one of its transactions: its events were dropped. */
  moved: boolean;
}

interface Unexpected<M> {
  m: M;
  eventType: string | undefined;
  stage: "decoding" | "writing";
  err: unknown;
}

export class BatchProcessor<M extends BatchMessage> {
  readonly #d: BatchDeps;
  readonly #breaker: UnexpectedErrorBreaker;
  /** Per-event warnings (dead letters): a flood of bad events must not flood the log. */
  readonly #warnings: RateLimitedWarnings;

  constructor(deps: BatchDeps) {
    this.#d = deps;
    this.#breaker = new UnexpectedErrorBreaker(deps.maxUnexpectedErrors);
    this.#warnings = new RateLimitedWarnings(deps.log, { perWindow: 20, windowMs: 10_000 });
  }

  /**
   * Applies and dead-letters a batch and marks its offsets. Returns true when it dropped events
   * of partitions no longer owned (they are the new owner's; the caller reads again from the
   * committed offsets). `current`: whether the batch's events of a partition are still to be
   * written (the pipeline's stream, and the partition this member's throughout since they were
   * read); a partition that is not has nothing marked, even once written: it was another
   * member's meanwhile, which may have committed further. Throws what stops the service;
   * AbandonedError on shutdown.
   */
  async process(
    batch: readonly M[],
    decoded: readonly Decoded[],
    signal: AbortSignal,
    current: (key: string) => boolean = () => true,
  ): Promise<boolean> {
    const started = performance.now();
    const { slices, dropped } = this.#slice(batch, decoded);
    const applied = await this.#applyGroups(slices, signal, current);
    await this.#keepLettersOfOwnPartitions(applied, signal, current);
    if (!(await this.#sendLetters(applied, signal))) applied.abandoned = true;
    for (const [key, m] of applied.done) {
      if (!current(key) || !this.#d.owns(key)) continue;
      this.#d.mark(key, { topic: m.topic, partition: m.partition, offset: m.offset + 1n, leaderEpoch: m.leaderEpoch });
    }
    this.#d.onBatch?.({ events: applied.events, rows: applied.rows, seconds: (performance.now() - started) / 1000 });
    if (this.#d.log.isLevelEnabled("debug")) {
      for (const e of applied.events) {
        this.#d.log.debug({ ...e, offset: String(e.offset), outcome: e.outcome.kind }, "event");
      }
    }
    if (applied.abandoned) throw new AbandonedError();
    // After the letters are out and the offsets marked: a stop here loses nothing.
    for (const u of applied.unexpected) this.#unexpected(u);
    return dropped || applied.moved;
  }

  /** Logs how many dead-letter lines were left out, if any: at shutdown, so the count is not lost. */
  flushWarnings(): void {
    this.#warnings.flush();
  }

  /** The batch by partition, without the partitions this member no longer owns. */
  #slice(batch: readonly M[], decoded: readonly Decoded[]) {
    const slices = new Map<string, Slice<M>>();
    batch.forEach((m, i) => {
      const slice = getOrCreate(slices, partitionKey(m.topic, m.partition), () => ({ messages: [], decoded: [] }));
      slice.messages.push(m);
      slice.decoded.push(decoded[i] as Decoded);
    });
    let dropped = false;
    for (const [key, slice] of slices) {
      if (this.#d.owns(key)) continue;
      this.#d.log.debug(
        { partition: key, events: slice.messages.length },
        "dropped events of a partition no longer owned",
      );
      dropped = true;
      slices.delete(key);
    }
    return { slices, dropped };
  }

  /**
   * Whole partitions go into as many transactions as the pool has connections: each commit costs
   * a log flush, so fewer, larger transactions; partitions never split between them.
   */
  async #applyGroups(
    slices: Map<string, Slice<M>>,
    signal: AbortSignal,
    current: (key: string) => boolean,
  ): Promise<Applied<M>> {
    const out: Applied<M> = {
      events: [],
      rows: new Map(),
      done: new Map(),
      letters: [],
      unexpected: [],
      abandoned: false,
      moved: false,
    };
    const results = await Promise.allSettled(
      groupSlices([...slices], this.#d.transactions).map(async (group) => {
        const messages = group.flatMap(([, slice]) => slice.messages);
        const decoded = group.flatMap(([, slice]) => slice.decoded);
        const held = () => group.every(([key]) => current(key) && this.#d.owns(key));
        const owned: Ownership = {
          held,
          confirmed: async () => {
            const confirmed = await this.#d.membership.confirm(signal);
            // A wait for the lease that shutdown ended is a batch abandoned, not one that moved.
            if (signal.aborted) throw new AbandonedError();
            return confirmed && held();
          },
          confirmedNow: () => this.#d.membership.holds() && held(),
        };
        let result: BatchResult;
        try {
          result = await this.#d.apply(
            decoded.map((d) => d.op),
            signal,
            owned,
          );
        } catch (err) {
          if (!(err instanceof PartitionMovedError)) throw err;
          this.#d.log.debug({ partitions: group.map(([key]) => key) }, "dropped a batch whose partitions moved away");
          out.moved = true;
          return;
        }
        result.outcomes.forEach((outcome, i) => {
          this.#record(out, messages[i] as M, decoded[i] as Decoded, outcome);
        });
        addRowCounts(out.rows, result.rows);
        for (const [key, slice] of group) out.done.set(key, slice.messages.at(-1) as M);
      }),
    );
    const failure = results.find((r) => r.status === "rejected" && !(r.reason instanceof AbandonedError));
    if (failure?.status === "rejected") throw failure.reason;
    out.abandoned = results.some((r) => r.status === "rejected");
    return out;
  }

  #record(out: Applied<M>, m: M, d: Decoded, outcome: Outcome) {
    out.events.push({
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      eventType: d.eventType,
      eventTs: d.ts,
      outcome,
      unknownEnums: d.unknownEnums,
      keyMismatch: d.keyMismatch,
    });
    if (outcome.kind === "rejected") out.letters.push({ ...m, eventType: d.eventType, error: outcome.error });
    if (d.unexpected !== undefined)
      out.unexpected.push({ m, eventType: d.eventType, stage: "decoding", err: d.unexpected });
    else if (outcome.kind === "rejected" && outcome.unexpected !== undefined) {
      out.unexpected.push({ m, eventType: d.eventType, stage: "writing", err: outcome.unexpected });
    }
  }

  /**
   * Letters go out only while the group's coordinator still counts this member in and their
   * partitions are its own, as writes do: a member the group dropped would letter events the new
   * owner applies (a batch whose events were all refused at decode opens no transaction, so no
   * commit asked). The partitions whose letters are held back are not marked: the new owner, or
   * this member once back, reads them again.
   */
  async #keepLettersOfOwnPartitions(applied: Applied<M>, signal: AbortSignal, current: (key: string) => boolean) {
    if (applied.letters.length === 0) return;
    const member = await this.#d.membership.confirm(signal);
    const lost = new Set<string>();
    for (const l of applied.letters) {
      const key = partitionKey(l.topic, l.partition);
      if (!member || !current(key) || !this.#d.owns(key)) lost.add(key);
    }
    if (lost.size === 0) return;
    applied.letters = applied.letters.filter((l) => !lost.has(partitionKey(l.topic, l.partition)));
    for (const key of lost) applied.done.delete(key);
    // A wait for the lease that shutdown ended: the letters abandoned, as #sendLetters abandons them.
    if (signal.aborted) {
      applied.abandoned = true;
      return;
    }
    this.#d.log.debug(
      { partitions: [...lost] },
      "held back the dead letters of partitions this member may no longer own",
    );
    applied.moved = true;
  }

  /** Sends the batch's letters; false when shutdown came first (their partitions then stay uncommitted). */
  async #sendLetters(applied: Applied<M>, signal: AbortSignal): Promise<boolean> {
    if (applied.letters.length === 0) return true;
    try {
      await this.#d.deadLetter(applied.letters, signal);
    } catch (err) {
      if (!(err instanceof AbandonedError)) throw err;
      for (const l of applied.letters) applied.done.delete(partitionKey(l.topic, l.partition));
      return false;
    }
    for (const l of applied.letters) {
      this.#warnings.warn(
        {
          topic: l.topic,
          partition: l.partition,
          offset: String(l.offset),
          eventType: l.eventType,
          code: l.error.reason,
        },
        `dead-lettered: ${l.error.message}`,
      );
    }
    return true;
  }

  /** Logs where the code failed (the stack, not the message: it may quote the event) and feeds the breaker. */
  #unexpected({ m, eventType, stage, err }: Unexpected<M>) {
    const stack = err instanceof Error ? framesOf(err) : undefined;
    const what = `${err instanceof Error ? err.name : typeof err} in ${eventType ?? "an event"} at ${m.topic}/${m.partition}@${m.offset}`;
    this.#d.log.error({ stack }, `unexpected error while ${stage}: ${what}; the event was dead-lettered`);
    this.#breaker.record(what);
  }
}

/**
 * The first frames of `err`'s stack, without its message: V8 writes the stack as the error's name
 * and message, then one line a frame, and a message may span lines (one quoting a value from the
 * event with a line break in it), so it is cut off by its text, not as the first line. A stack
 * that does not start so (a message changed after the error was made) keeps only its frame lines.
 */
export function framesOf(err: Error, frames = 7): string {
  const stack = err.stack ?? "";
  const head = `${err.name}: ${err.message}\n`;
  const lines = (stack.startsWith(head) ? stack.slice(head.length) : stack).split("\n");
  const kept = stack.startsWith(head) ? lines : lines.filter((line) => /^ {4}at /.test(line));
  return kept.slice(0, frames).join("\n");
}
