import type { Consumer, Message, MessagesStream, Producer } from "@platformatic/kafka";
import type { Pool } from "mysql2/promise";
import { applyBatch } from "./apply/apply.ts";
import type { Decoded, SourceRecord } from "./apply/decode.ts";
import type { Outcome } from "./apply/plan.ts";
import type { RowCounts } from "./apply/store.ts";
import { UnexpectedErrorBreaker } from "./breaker.ts";
import { getOrCreate } from "./collections.ts";
import type { Config } from "./config/index.ts";
import type { UnknownEnumValue } from "./domains/domain.ts";
import { KafkaUnavailableError, messageOf } from "./errors.ts";
import { BatchReader, partitionKey } from "./kafka/batch-reader.ts";
import { OffsetCommitter } from "./kafka/committer.ts";
import { type DeadLetter, sendDeadLetters } from "./kafka/dlq.ts";
import type { Logger } from "./log.ts";
import { RateLimitedWarnings } from "./observability/bounded.ts";
import { AbandonedError, abortableDelay, backoffMs, type Outage, retrying } from "./retry.ts";

// The pipeline, top to bottom: fetch a batch (the reader prefers partitions with no batch in
// hand) → validate and flatten each event (pure, and never throws) → wait for the batches of the same partitions handed out before it → apply
// each partition's events in one transaction, partitions in parallel → dead-letter what was
// rejected → mark, per partition, the offset after its last event for the committer, which
// commits off the write path. Up to BATCHES_IN_FLIGHT batches are in hand at once, so one
// partition's batch is decoded or written while another's waits on MySQL. An offset is marked
// only once everything before it is in MySQL or the dead-letter topic.

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;

export type PipelineConfig = Pick<
  Config,
  | "kafkaAutoOffsetReset"
  | "kafkaDlqTopic"
  | "batchMaxEvents"
  | "batchLingerMs"
  | "retryMaxBackoffMs"
  | "mysqlPoolSize"
  | "batchesInFlight"
  | "maxUnexpectedErrors"
>;

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
  keyMismatch?: boolean;
}

export interface BatchReport {
  events: EventReport[];
  rows: RowCounts;
  seconds: number;
}

export interface PipelineDeps {
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  /** Parse, validate and flatten one record (pure; never throws). */
  decode: (record: SourceRecord) => Decoded;
  pool: Pool;
  log: Logger;
  config: PipelineConfig;
  topics: readonly string[];
  databaseOutage: Outage;
  kafkaOutage: Outage;
  onBatch?: (report: BatchReport) => void;
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

/**
 * The reader buffers this many batches' worth of messages before it pauses the stream: room for
 * several partitions, so a batch of one can be read while another's is written, and for fuller
 * batches of each (fewer transactions, more coalescing): 4 drained 2–8 % faster than 2 in four of
 * four pairs for 14 MB more at peak (docs/benchmarks.md).
 */
const READER_BUFFER_BATCHES = 4;

/** The pause before trying Kafka again: at least 100 ms, so a broker that fails at once is not hammered. */
const kafkaRetryMs = (failures: number, capMs: number) => Math.max(100, backoffMs(failures, capMs));

export class Pipeline {
  readonly #d: PipelineDeps;
  readonly #committer: OffsetCommitter;
  readonly #breaker: UnexpectedErrorBreaker;
  /** Per-event warnings (dead letters): a flood of bad events must not flood the log. */
  readonly #warnings: RateLimitedWarnings;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  #reader: BatchReader<KafkaMessage> | null = null;
  /** Batches handed out and not yet finished, per partition. */
  readonly #claims = new Map<string, number>();
  /** Each partition's newest batch: the partition's next batch is written after it. */
  readonly #tails = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Numbers the streams opened; a batch carries the number of the stream it was read from. */
  #streams = 0;
  /** Batches read from this stream or an earlier one are not written: they are read again. */
  #staleStreams = 0;
  #reopen = false;
  /** Aborted on shutdown and on the first failure: nothing more is read or started. */
  #halt = new AbortController();
  #stop: { error: unknown } | "abandoned" | null = null;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
    this.#breaker = new UnexpectedErrorBreaker(deps.config.maxUnexpectedErrors);
    this.#warnings = new RateLimitedWarnings(deps.log, { perWindow: 20, windowMs: 10_000 });
    this.#committer = new OffsetCommitter({
      commit: (offsets) => deps.consumer.commit({ offsets }),
      owns: (key) => this.#owns(key),
      retryDelayMs: (failures) => kafkaRetryMs(failures, deps.config.retryMaxBackoffMs),
      log: deps.log,
    });
  }

  /**
   * Consumes until `signal` fires. Up to `batchesInFlight` batches are in hand at once, each
   * decoded and written on its own; batches of one partition are written one after the other, in
   * order. On shutdown the batches being written are finished (or abandoned while waiting out an
   * outage) and the offsets they marked committed; the others are read again after a restart.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { config, log } = this.#d;
    const halt = this.#halt.signal;
    const onAbort = () => this.#halt.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    let failures = 0;
    while (!halt.aborted) {
      if (this.#inFlight.size >= config.batchesInFlight) {
        await Promise.race(this.#inFlight);
        continue;
      }
      if (this.#reopen) {
        // The stream read past events a batch dropped (their partition had moved away). Were
        // that partition handed back, the client would go on from its own position, not from
        // the committed offset (it resets only to a committed offset, and a fresh partition has
        // none): the dropped events would be skipped. A new stream starts at the committed
        // offsets once the batches in hand are finished.
        await this.#settle();
        await this.#closeStream();
        this.#reopen = false;
        if (halt.aborted) break;
        log.info("consuming again from the committed offsets: partitions moved while their events were in hand");
        continue;
      }
      let batch: KafkaMessage[];
      let stream: number;
      try {
        const reader = await this.#openStream();
        stream = this.#streams;
        batch = await reader.next(
          config.batchMaxEvents,
          config.batchLingerMs,
          halt,
          (key) => this.#claims.get(key) ?? 0,
        );
      } catch (error) {
        // A stream that failed is dead (the consumer is not): consume again from the committed
        // offsets, once the batches in hand have committed theirs.
        await this.#settle();
        await this.#closeStream();
        if (halt.aborted) break;
        this.#d.kafkaOutage.enter(error);
        try {
          await abortableDelay(kafkaRetryMs(failures++, config.retryMaxBackoffMs), halt);
        } catch {
          break; // shutdown while waiting for Kafka
        }
        continue;
      }
      if (batch.length === 0) continue;
      failures = 0;
      this.#d.kafkaOutage.recover();
      log.debug({ events: batch.length }, "batch read");
      this.#start(batch, stream);
    }
    await this.#settle();
    await this.#closeStream();
    signal.removeEventListener("abort", onAbort);
    if (this.#stop !== null && this.#stop !== "abandoned") throw this.#stop.error;
    log.debug("pipeline stopped");
  }

  /** Decodes a batch now; it is written once its partitions' earlier batches are. */
  #start(batch: KafkaMessage[], stream: number) {
    const keys = [...new Set(batch.map((m) => partitionKey(m.topic, m.partition)))];
    const before = keys.flatMap((key) => this.#tails.get(key) ?? []);
    const decoded = batch.map(this.#d.decode);
    // `task` is the settled end of the chain: the next batch of these partitions waits for it,
    // and it is what #tails and #inFlight hold (and compare) until it has cleaned up.
    const task: Promise<void> = this.#write(batch, stream, before, decoded)
      .catch((error: unknown) => this.#fail(error))
      .finally(() => this.#release(keys, task));
    for (const key of keys) {
      this.#claims.set(key, (this.#claims.get(key) ?? 0) + 1);
      this.#tails.set(key, task);
    }
    this.#inFlight.add(task);
  }

  async #write(batch: KafkaMessage[], stream: number, before: Promise<void>[], decoded: Decoded[]) {
    await Promise.all(before);
    if (this.#halt.signal.aborted || stream <= this.#staleStreams) return; // read again later
    if (await this.#process(batch, decoded, this.#halt.signal)) {
      this.#staleStreams = stream;
      this.#reopen = true;
      this.#reader?.interrupt();
    }
  }

  /**
   * The breaker (unexpected errors no longer isolated) or a database error that waiting can't fix
   * stops the pipeline with that error; AbandonedError is shutdown while waiting out an outage. The first real failure is
   * the one reported, and it halts the other batches (even one waiting out an outage).
   */
  #fail(error: unknown) {
    if (error instanceof AbandonedError) this.#stop ??= "abandoned";
    else if (this.#stop === null || this.#stop === "abandoned") this.#stop = { error };
    this.#halt.abort();
  }

  #release(keys: string[], task: Promise<void>) {
    for (const key of keys) {
      const claims = (this.#claims.get(key) ?? 1) - 1;
      if (claims > 0) this.#claims.set(key, claims);
      else this.#claims.delete(key);
      if (this.#tails.get(key) === task) this.#tails.delete(key);
    }
    this.#inFlight.delete(task);
    this.#reader?.poke();
  }

  /** Waits for every batch in hand to finish and for the offsets they marked to be committed. */
  async #settle() {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    await this.#committer.flush();
  }

  /** The reader of the open stream; a dead stream's reader throws its failure, and run() replaces it. */
  async #openStream() {
    if (this.#reader) return this.#reader;
    const stream = await this.#d.consumer.consume({
      topics: [...this.#d.topics],
      mode: "committed",
      fallbackMode: this.#d.config.kafkaAutoOffsetReset,
    });
    // Failures surface through BatchReader.next; this listener only keeps an 'error' from being unhandled.
    stream.on("error", (err) => this.#d.log.debug({ err: messageOf(err) }, "Kafka message stream failed"));
    this.#stream = stream;
    this.#streams++;
    this.#reader = new BatchReader<KafkaMessage>(stream, READER_BUFFER_BATCHES * this.#d.config.batchMaxEvents);
    return this.#reader;
  }

  async #closeStream() {
    const stream = this.#stream;
    this.#stream = null;
    this.#reader = null;
    if (!stream || stream.destroyed) return;
    try {
      await stream.close();
    } catch (err) {
      this.#d.log.debug({ err: messageOf(err) }, "closing a failed Kafka stream");
    }
  }

  /** Applies and dead-letters a batch and marks its offsets; true when it dropped events of partitions no longer owned. */
  async #process(batch: KafkaMessage[], decodedBatch: Decoded[], signal: AbortSignal): Promise<boolean> {
    const { pool, config, log } = this.#d;
    const started = performance.now();
    const slices = new Map<string, { messages: KafkaMessage[]; decoded: Decoded[] }>();
    batch.forEach((m, i) => {
      const slice = getOrCreate(slices, partitionKey(m.topic, m.partition), () => ({ messages: [], decoded: [] }));
      slice.messages.push(m);
      slice.decoded.push(decodedBatch[i] as Decoded);
    });
    // Work for partitions this member no longer owns belongs to their new owner.
    let dropped = false;
    for (const key of slices.keys()) {
      if (this.#owns(key)) continue;
      log.debug(
        { partition: key, events: slices.get(key)?.messages.length },
        "dropped events of a partition no longer owned",
      );
      dropped = true;
      slices.delete(key);
    }

    const events: EventReport[] = [];
    const rows: RowCounts = new Map();
    const done = new Map<string, KafkaMessage>();
    const letters: DeadLetter[] = [];
    const unexpected: { m: KafkaMessage; d: Decoded }[] = [];

    // Whole partitions go into as many transactions as the pool has connections: each commit
    // costs a log flush, so fewer, larger transactions; partitions never split between them.
    const groups = groupSlices([...slices], config.mysqlPoolSize);
    const results = await Promise.allSettled(
      groups.map(async (group) => {
        const messages = group.flatMap(([, slice]) => slice.messages);
        const decoded = group.flatMap(([, slice]) => slice.decoded);
        const result = await retrying(
          () =>
            applyBatch(
              pool,
              decoded.map((d) => d.op),
            ),
          this.#d.databaseOutage,
          config.retryMaxBackoffMs,
          signal,
        );
        result.outcomes.forEach((outcome, i) => {
          const m = messages[i] as KafkaMessage;
          const d = decoded[i] as (typeof decoded)[number];
          events.push({
            topic: m.topic,
            partition: m.partition,
            offset: m.offset,
            eventType: d.eventType,
            eventTs: d.ts,
            outcome,
            unknownEnums: d.unknownEnums,
            keyMismatch: d.keyMismatch,
          });
          if (outcome.kind === "rejected") letters.push({ ...m, eventType: d.eventType, error: outcome.error });
          if (d.unexpected !== undefined) unexpected.push({ m, d });
        });
        for (const [k, n] of result.rows) rows.set(k, (rows.get(k) ?? 0) + n);
        for (const [key, slice] of group) done.set(key, slice.messages.at(-1) as KafkaMessage);
      }),
    );
    const failure = results.find((r) => r.status === "rejected" && !(r.reason instanceof AbandonedError));
    if (failure?.status === "rejected") throw failure.reason;
    let abandoned = results.some((r) => r.status === "rejected");

    try {
      await retrying(
        async () => {
          try {
            await sendDeadLetters(this.#d.producer, config.kafkaDlqTopic, letters);
          } catch (err) {
            throw new KafkaUnavailableError(`dead-letter topic ${config.kafkaDlqTopic}: ${messageOf(err)}`, err);
          }
        },
        this.#d.kafkaOutage,
        config.retryMaxBackoffMs,
        signal,
      );
      for (const l of letters) {
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
    } catch (err) {
      if (!(err instanceof AbandonedError)) throw err;
      // Shutdown before the dead letters were acknowledged: their partitions stay uncommitted.
      for (const l of letters) done.delete(partitionKey(l.topic, l.partition));
      abandoned = true;
    }

    for (const [key, m] of done) {
      this.#committer.mark(key, {
        topic: m.topic,
        partition: m.partition,
        offset: m.offset + 1n,
        leaderEpoch: m.leaderEpoch,
      });
    }
    this.#d.onBatch?.({ events, rows, seconds: (performance.now() - started) / 1000 });
    if (log.isLevelEnabled("debug")) {
      for (const e of events) log.debug({ ...e, offset: String(e.offset), outcome: e.outcome.kind }, "event");
    }
    if (abandoned) throw new AbandonedError();
    // After the letters are out and the offsets marked: a stop here loses nothing.
    for (const { m, d } of unexpected) this.#unexpected(m, d);
    return dropped;
  }

  /** Logs where the code failed (the stack, not the message: it may quote the event) and feeds the breaker. */
  #unexpected(m: KafkaMessage, d: Decoded) {
    const err = d.unexpected;
    const stack = err instanceof Error ? (err.stack ?? "").split("\n").slice(1, 8).join("\n") : undefined;
    const what = `${err instanceof Error ? err.name : typeof err} in ${d.eventType ?? "an event"} at ${m.topic}/${m.partition}@${m.offset}`;
    this.#d.log.error({ stack }, `unexpected error while decoding: ${what}; the event was dead-lettered`);
    this.#breaker.record(what);
  }

  #owns(key: string): boolean {
    const assignments = this.#d.consumer.assignments;
    if (!assignments) return false;
    return assignments.some((a) => a.partitions.some((p) => partitionKey(a.topic, p) === key));
  }
}
