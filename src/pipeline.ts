import type { Consumer, Message, MessagesStream, Producer } from "@platformatic/kafka";
import type { Pool } from "mysql2/promise";
import { applyBatch } from "./apply/apply.ts";
import type { Decoded } from "./apply/decode.ts";
import type { Decoder } from "./apply/decoder.ts";
import type { Outcome } from "./apply/plan.ts";
import type { RowCounts } from "./apply/store.ts";
import { getOrCreate } from "./collections.ts";
import type { Config } from "./config/index.ts";
import type { UnknownEnumValue } from "./domains/domain.ts";
import { KafkaUnavailableError, messageOf } from "./errors.ts";
import { BatchReader } from "./kafka/batch-reader.ts";
import { type DeadLetter, sendDeadLetters } from "./kafka/dlq.ts";
import type { Logger } from "./log.ts";
import { AbandonedError, abortableDelay, backoffMs, type Outage, retrying } from "./retry.ts";

// The pipeline, top to bottom: fetch a batch → split it per partition → validate and flatten
// each event (pure) → apply each partition's events in one transaction, partitions in parallel
// → dead-letter what was rejected → commit, per partition, the offset after its last event.
// An offset is committed only once everything before it is in MySQL or the dead-letter topic.

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;

export type PipelineConfig = Pick<
  Config,
  "kafkaAutoOffsetReset" | "kafkaDlqTopic" | "batchMaxEvents" | "batchLingerMs" | "retryMaxBackoffMs" | "mysqlPoolSize"
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
}

export interface BatchReport {
  events: EventReport[];
  rows: RowCounts;
  seconds: number;
  /** Partition key → next offset committed. */
  committed: Map<string, bigint>;
}

export interface PipelineDeps {
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  /** Parse, validate and flatten (pure; inline or on a worker thread). */
  decoder: Decoder;
  pool: Pool;
  log: Logger;
  config: PipelineConfig;
  topics: readonly string[];
  databaseOutage: Outage;
  kafkaOutage: Outage;
  onBatch?: (report: BatchReport) => void;
}

const partitionKey = (topic: string, partition: number) => `${topic}:${partition}`;

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

export class Pipeline {
  readonly #d: PipelineDeps;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  #reader: BatchReader<KafkaMessage> | null = null;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
  }

  /** Consumes until `signal` fires; the batch in hand is finished (or abandoned while waiting out an outage). */
  async run(signal: AbortSignal): Promise<void> {
    const { config, log } = this.#d;
    let failures = 0;
    // Read-ahead: the next batch is fetched and decoded (CPU) while this one waits on MySQL.
    let next = this.#fetch(signal);
    while (!signal.aborted) {
      const fetched = await next;
      if ("fatal" in fetched) throw fetched.fatal;
      if ("error" in fetched) {
        // A stream that failed is dead (the consumer is not): consume again from the committed offsets.
        await this.#closeStream();
        if (signal.aborted) break;
        this.#d.kafkaOutage.enter(fetched.error);
        try {
          await abortableDelay(Math.max(100, backoffMs(failures++, config.retryMaxBackoffMs)), signal);
        } catch {
          break; // shutdown while waiting for Kafka: nothing in hand to finish
        }
        next = this.#fetch(signal);
        continue;
      }
      failures = 0;
      this.#d.kafkaOutage.recover();
      next = this.#fetch(signal);
      if (fetched.batch.length === 0) continue;
      log.debug({ events: fetched.batch.length }, "batch read");
      let dropped: boolean;
      try {
        dropped = await this.#process(fetched.batch, fetched.decoded, signal);
      } catch (err) {
        if (err instanceof AbandonedError) break;
        throw err;
      }
      if (dropped) {
        // The stream read past events this member dropped (their partition had moved away). Were
        // that partition handed back, the client would go on from its own position, not from
        // the committed offset (it resets only to a committed offset, and a fresh partition has
        // none): the dropped events would be skipped. A new stream starts at the committed
        // offsets; the read-ahead is discarded and read again.
        await next;
        await this.#closeStream();
        log.info("consuming again from the committed offsets: partitions moved while their events were in hand");
        next = this.#fetch(signal);
      }
    }
    await next; // settles (the signal ends its wait); what it read is read again after a restart
    await this.#closeStream();
    log.debug("pipeline stopped");
  }

  /** A batch and its decoding; `error` is Kafka's (waited out), `fatal` the decoder's (a bug: the service stops). */
  async #fetch(
    signal: AbortSignal,
  ): Promise<{ batch: KafkaMessage[]; decoded: Decoded[] } | { error: unknown } | { fatal: unknown }> {
    let batch: KafkaMessage[];
    try {
      const reader = await this.#openStream();
      batch = await reader.next(this.#d.config.batchMaxEvents, this.#d.config.batchLingerMs, signal);
    } catch (error) {
      return { error };
    }
    try {
      return { batch, decoded: await this.#d.decoder.decode(batch.map((m) => m.value)) };
    } catch (fatal) {
      return { fatal };
    }
  }

  async #openStream() {
    if (this.#reader && this.#stream && !this.#stream.destroyed && !this.#stream.closed) return this.#reader;
    const stream = await this.#d.consumer.consume({
      topics: [...this.#d.topics],
      mode: "committed",
      fallbackMode: this.#d.config.kafkaAutoOffsetReset,
    });
    // Failures surface through BatchReader.next; this listener only keeps an 'error' from being unhandled.
    stream.on("error", (err) => this.#d.log.debug({ err: messageOf(err) }, "Kafka message stream failed"));
    this.#stream = stream;
    this.#reader = new BatchReader<KafkaMessage>(stream, this.#d.config.batchMaxEvents);
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

  /** Applies, dead-letters and commits a batch; true when it dropped events of partitions no longer owned. */
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
          });
          if (outcome.kind === "rejected") letters.push({ ...m, eventType: d.eventType, error: outcome.error });
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
        log.warn(
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

    const committed = await this.#commit(done);
    this.#d.onBatch?.({ events, rows, seconds: (performance.now() - started) / 1000, committed });
    if (log.isLevelEnabled("debug")) {
      for (const e of events) log.debug({ ...e, offset: String(e.offset), outcome: e.outcome.kind }, "event");
    }
    if (abandoned) throw new AbandonedError();
    return dropped;
  }

  #owns(key: string): boolean {
    const assignments = this.#d.consumer.assignments;
    if (!assignments) return false;
    return assignments.some((a) => a.partitions.some((p) => partitionKey(a.topic, p) === key));
  }

  /** Commits the offset after each finished partition's last event, for partitions still owned. */
  async #commit(done: Map<string, KafkaMessage>): Promise<Map<string, bigint>> {
    const committed = new Map<string, bigint>();
    const offsets = [...done]
      .filter(([key]) => this.#owns(key))
      .map(([key, m]) => {
        committed.set(key, m.offset + 1n);
        return { topic: m.topic, partition: m.partition, offset: m.offset + 1n, leaderEpoch: m.leaderEpoch };
      });
    if (offsets.length === 0) return committed;
    try {
      await this.#d.consumer.commit({ offsets });
    } catch (err) {
      // The group moved on (rebalance) or the coordinator is away: the new owner, or this member
      // after rejoining, re-reads from the last committed offset and applies idempotently.
      this.#d.log.warn({ err: messageOf(err) }, "offset commit failed; these events will be read again");
      committed.clear();
    }
    return committed;
  }
}
