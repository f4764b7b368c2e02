import type { Consumer } from "@platformatic/kafka";
import { OffsetCommitter } from "../commit/committer.ts";
import type { Decoded, SourceRecord } from "../decode/decode.ts";
import { decodeBatch } from "../decode/decode-batch.ts";
import type { Logger } from "../log.ts";
import { partitionKey } from "../read/batch-reader.ts";
import { type KafkaMessage, SourceStream } from "../read/source-stream.ts";
import { AbandonedError, abortableDelay, backoffMs, type Outage } from "../retry.ts";
import { type BatchDeps, BatchProcessor } from "./batch-processor.ts";
import { IdlePositionCommits } from "./idle-positions.ts";
import { Membership } from "./membership.ts";
import { PartitionScheduler } from "./scheduler.ts";

// The pipeline, top to bottom (docs/architecture.md):
//   read    a batch from the stream, preferring partitions with no batch in hand (#read: SourceStream, read/)
//   decode  each record: parse, validate, flatten (pure, never throws; #start: decodeBatch, decode/)
//   wait    for the batches of the same partitions handed out before it (PartitionScheduler)
//   write   plan and write each group of partitions in one transaction, in parallel (BatchProcessor: write/, plan/)
//   letter  what was rejected, to the dead-letter topic, acknowledged (BatchProcessor, dead-letter/)
//   mark    each partition's next offset, once its rows and letters are durable (BatchProcessor)
//   commit  the marked offsets, off the write path (OffsetCommitter, commit/)
// Up to BATCHES_IN_FLIGHT batches are in hand at once, so one partition's batch is decoded or
// written while another's waits on MySQL; together they hold at most one batch's worth of events
// and bytes, and in a backlog one batch is in hand at a time, as large as those bounds allow. An
// offset is marked only once everything before it is in MySQL or the dead-letter topic.

export type { BatchReport, EventReport } from "./batch-processor.ts";

export interface PipelineOptions {
  autoOffsetReset: "earliest" | "latest";
  batchMaxEvents: number;
  batchMaxBytes: number;
  batchLingerMs: number;
  batchesInFlight: number;
  retryMaxBackoffMs: number;
  /** KAFKA_SESSION_TIMEOUT_MS: how long the group waits for a silent member (read/membership-lease.ts). */
  sessionTimeoutMs: number;
}

export interface PipelineDeps {
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  /** The source topics a stream is to read: those that exist (read/source-topics.ts). */
  topics: () => Promise<readonly string[]>;
  /** Parse, validate and flatten one record (pure; never throws). */
  decode: (record: SourceRecord) => Decoded;
  /** Everything a batch needs but its owner and marks, which the pipeline provides. */
  batch: Omit<BatchDeps, "owns" | "mark" | "membership">;
  kafkaOutage: Outage;
  /** A failed stream's cause as its outage line says it (a deleted topic named). */
  explainStreamFailure?: (err: unknown) => Promise<unknown>;
  log: Logger;
  options: PipelineOptions;
}

/** The pause before trying Kafka again: at least 100 ms, so a broker that fails at once is not hammered. */
const kafkaRetryMs = (failures: number, capMs: number) => Math.max(100, backoffMs(failures, capMs));

export class Pipeline {
  readonly #d: PipelineDeps;
  readonly #committer: OffsetCommitter;
  readonly #batches: BatchProcessor<KafkaMessage>;
  readonly #scheduler: PartitionScheduler;
  /** A batch carries the number of the stream it was read from. */
  readonly #source: SourceStream;
  /** The number of the last stale stream: batches read from it or an earlier one are not written, but read again. */
  #staleThrough = 0;
  /** Why the stream is to be opened again (and the group joined again) before reading on. */
  #reopen: string | null = null;
  /** The stream failed and the Kafka outage was entered: the next fetch that succeeds ends it. */
  #streamFailed = false;
  /** Events and bytes (KafkaMessage.bytes) of the batches in hand. */
  readonly #inHand = { events: 0, bytes: 0 };
  /** Aborted on shutdown and on the first failure: nothing more is read or started. */
  readonly #halt = new AbortController();
  #stop: { error: unknown } | "abandoned" | null = null;
  /** The partitions this member owns and since when, and whether the group still counts it in. */
  readonly #member: Membership;
  readonly #idlePositions: IdlePositionCommits;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
    // Dropped and joined again, the member may find its partitions read and written by another
    // meanwhile: nothing read before is written, and it reads again from the committed offsets.
    this.#member = new Membership(deps.consumer, deps.options.sessionTimeoutMs, (why) => {
      deps.log.warn(`${why}: the events in hand are not written but read again from the committed offsets`);
      this.#committer.forget();
      this.#readAgain(this.#source.number, why);
    });
    const owns = (key: string) => this.#member.owns(key);
    const since = (key: string) => this.#member.since(key);
    this.#committer = new OffsetCommitter({
      commit: (offsets) => deps.consumer.commit({ offsets }),
      owns,
      since,
      retryDelayMs: (failures) => kafkaRetryMs(failures, deps.options.retryMaxBackoffMs),
      log: deps.log,
    });
    this.#batches = new BatchProcessor({
      ...deps.batch,
      owns,
      membership: this.#member.lease,
      mark: (key, offset) => this.#committer.mark(key, offset),
    });
    this.#source = new SourceStream(deps.consumer, deps.topics, deps.options, deps.log, since);
    this.#scheduler = new PartitionScheduler(() => this.#source.reader?.poke());
    const paused = () => this.#reopen !== null || this.#halt.signal.aborted;
    this.#idlePositions = new IdlePositionCommits(this.#source, this.#committer, paused, deps.log);
  }

  /**
   * Consumes until `signal` fires. On shutdown the batches being written are finished (or
   * abandoned while waiting out an outage) and the offsets they marked committed; the others are
   * read again after a restart.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { options, log } = this.#d;
    const halt = this.#halt.signal;
    const onAbort = () => this.#halt.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    this.#idlePositions.start();
    let failures = 0;
    while (!halt.aborted) {
      if (this.#mustWait()) {
        await this.#scheduler.any();
        continue;
      }
      if (this.#reopen !== null) {
        // The stream read past events a batch dropped (their partition had moved away). Were
        // that partition handed back, the client would go on from its own position, not from
        // the committed offset: the dropped events would be skipped. A new stream starts at the
        // committed offsets once the batches in hand are finished, and joins the group again.
        const why = this.#reopen;
        await this.#restartStream();
        this.#reopen = null;
        if (!halt.aborted) log.info(`consuming again from the committed offsets: ${why}`);
        continue;
      }
      const read = await this.#read(halt);
      if (read === "failed") {
        // A stream that failed is dead (the consumer is not): consume again from the committed
        // offsets, once the batches in hand have committed theirs.
        await this.#restartStream();
        if (halt.aborted) break;
        try {
          await abortableDelay(kafkaRetryMs(failures++, options.retryMaxBackoffMs), halt);
        } catch {
          break; // shutdown while waiting for Kafka
        }
        continue;
      }
      if (read.batch.length === 0) continue; // interrupted (a rejoin asked for) or shutdown
      failures = 0;
      this.#d.kafkaOutage.recover();
      log.debug({ events: read.batch.length }, "batch read");
      this.#start(read.batch, read.stream);
    }
    this.#idlePositions.stop();
    await this.#settle({ last: true });
    this.#batches.flushWarnings();
    await this.#source.close();
    this.#member.close();
    signal.removeEventListener("abort", onAbort);
    if (this.#stop !== null && this.#stop !== "abandoned") throw this.#stop.error;
    log.debug("pipeline stopped");
  }

  /**
   * Whether to wait for a batch in hand to finish before reading another. The batches in hand are
   * at most BATCHES_IN_FLIGHT and hold at most BATCH_MAX_EVENTS events and BATCH_MAX_BYTES bytes
   * together. In a backlog (the reader's stream paused, its buffer full) a batch is taken only
   * with nothing in hand, so each is as large as the bounds allow: a batch coalesces more the
   * larger it is, and two large ones in hand at once held twice the rows, which bounded the
   * batch's size by memory (docs/decisions.md). Caught up, small batches go side by side.
   */
  #mustWait(): boolean {
    const { batchesInFlight, batchMaxEvents, batchMaxBytes } = this.#d.options;
    if (this.#scheduler.size === 0) return false;
    return (
      this.#scheduler.size >= batchesInFlight ||
      this.#source.reader?.paused === true ||
      this.#inHand.events >= batchMaxEvents ||
      this.#inHand.bytes >= batchMaxBytes
    );
  }

  /** The next batch of the open stream (opened if need be), or "failed" once the outage is entered. */
  async #read(halt: AbortSignal): Promise<{ batch: KafkaMessage[]; stream: number } | "failed"> {
    const { options } = this.#d;
    try {
      const reader = await this.#source.open();
      const stream = this.#source.number;
      // What the batches in hand leave of the bounds (at least one event: #mustWait).
      const batch = await reader.next({
        max: options.batchMaxEvents - this.#inHand.events,
        maxBytes: options.batchMaxBytes - this.#inHand.bytes,
        lingerMs: options.batchLingerMs,
        signal: halt,
        claims: (key) => this.#scheduler.claims(key),
      });
      return { batch, stream };
    } catch (error) {
      if (!halt.aborted) {
        this.#streamFailed = true;
        this.#d.kafkaOutage.enter((await this.#d.explainStreamFailure?.(error)) ?? error);
      }
      return "failed";
    }
  }

  /** Decodes a batch, from now on; it is written once decoded and its partitions' earlier batches are. */
  #start(batch: KafkaMessage[], stream: number) {
    const decoding = decodeBatch(batch, this.#d.decode);
    const keys = batch.map((m) => partitionKey(m.topic, m.partition));
    // Each partition's tenure as its events were read, its first event's (the reader may have held
    // it since before a rebalance took the partition away and the next handed it back): the
    // batch's events of the partition are written and marked only within that tenure.
    const since = new Map<string, number | undefined>();
    batch.forEach((m, i) => {
      const key = keys[i] as string;
      if (!since.has(key)) since.set(key, m.tenure);
    });
    const held = { events: batch.length, bytes: batch.reduce((n, m) => n + m.bytes, 0) };
    this.#inHand.events += held.events;
    this.#inHand.bytes += held.bytes;
    this.#scheduler.add(keys, async (before) => {
      try {
        const decoded = await decoding;
        await Promise.all(before);
        if (this.#halt.signal.aborted || stream <= this.#staleThrough) return; // read again later
        const droppedEventsOfMovedPartitions = await this.#batches.process(
          batch,
          decoded,
          this.#halt.signal,
          (key) => stream > this.#staleThrough && this.#member.since(key) === since.get(key),
        );
        if (droppedEventsOfMovedPartitions) this.#readAgain(stream, "partitions moved while their events were in hand");
      } catch (error) {
        this.#fail(error);
      } finally {
        this.#inHand.events -= held.events;
        this.#inHand.bytes -= held.bytes;
      }
    });
  }

  /**
   * A fetch succeeded: the brokers answer. After a stream failure that is the end of the outage,
   * even on a quiet group where no event will come to say so (readiness, analytics_outage).
   * Called by the consumer's fetch correction (read/client-fixes/corrected-fetch.ts, wired in
   * service.ts) for every fetch, events or none.
   */
  fetched() {
    // A fetch answered while a silent broker holds the outage (kafka/broker-silence.ts): read
    // from the partitions' new leaders, with no event to say so on a quiet group.
    if (!this.#streamFailed) return this.#d.kafkaOutage.heard();
    this.#streamFailed = false;
    this.#d.kafkaOutage.recover();
  }

  /** Whether the open stream reads `topic` (with none open, whether the last one did; none yet: yes). */
  reads(topic: string): boolean {
    return this.#source.reads(topic);
  }

  /** The offsets the open stream's partitions have committed, by `topic:partition` (for their lag). */
  committed(): ReadonlyMap<string, bigint> {
    return this.#source.committed();
  }

  /**
   * Joins the group again once the batches in hand are done, from the committed offsets: the
   * source topics gained partitions (read/partition-watch.ts), or a source topic the stream
   * does not read exists now; only a rebalance assigns them.
   */
  rejoin(why: string) {
    this.#reopen ??= why;
    this.#source.reader?.interrupt();
  }

  /**
   * Nothing read from stream `through` or an earlier one is written (batches in hand, and those
   * still to be read of it), and the group is joined again from the committed offsets. Stale
   * streams only accumulate: a batch of an older stream that drops events later must not make
   * newer stale ones current again.
   */
  #readAgain(through: number, why: string) {
    this.#staleThrough = Math.max(this.#staleThrough, through);
    this.rejoin(why);
  }

  /**
   * The breaker (unexpected errors no longer isolated) or a database error that waiting can't fix
   * stops the pipeline with that error; AbandonedError is shutdown while waiting out an outage.
   * The first real failure is the one reported, and it halts the other batches (even one waiting
   * out an outage).
   */
  #fail(error: unknown) {
    if (error instanceof AbandonedError) this.#stop ??= "abandoned";
    else if (this.#stop === null || this.#stop === "abandoned") this.#stop = { error };
    this.#halt.abort();
  }

  /** Waits for every batch in hand to finish and for the offsets they marked to be committed. */
  async #settle(flush: { last?: boolean } = {}) {
    await this.#scheduler.settle();
    await this.#committer.flush(flush);
  }

  async #restartStream() {
    await this.#settle();
    await this.#source.close();
  }
}
