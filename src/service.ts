import { Admin, Consumer, type Producer } from "@platformatic/kafka";
import { Closers } from "./closers.ts";
import type { Config } from "./config/index.ts";
import type { Pool } from "./db/pool.ts";
import { createPool } from "./db/pool.ts";
import { prepareDatabase } from "./db/prepare.ts";
import {
  DLQ_SILENCE_MS,
  deadLetterFailure,
  deadLetterProducer,
  deadLetterSilence,
  sendDeadLetters,
} from "./dead-letter/publish.ts";
import { decode, decodeLimitsOf, type SourceRecord } from "./decode/decode.ts";
import { type ROUTES, TOPICS } from "./domains/registry.ts";
import { BrokerSilence } from "./kafka/broker-silence.ts";
import { CONSUME_TUNING, kafkaBaseOptions } from "./kafka/client-options.ts";
import { explainKafkaFailure, explainRejoinFailure } from "./kafka/kafka-errors.ts";
import { checkTopics, explainStreamFailure, prefixed } from "./kafka/topics.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./observability/metrics.ts";
import { DatabaseProgress, databaseAnswers, isMember, notReadyReasons } from "./observability/readiness.ts";
import { startHttpServer } from "./observability/server.ts";
import { type BatchReport, Pipeline, type PipelineDeps, type PipelineOptions } from "./pipeline/pipeline.ts";
import { correctingFetches } from "./read/client-fixes/corrected-fetch.ts";
import { committingAsMember } from "./read/client-fixes/member-commit.ts";
import {
  type GroupDatabase,
  type GroupSettlingState,
  membershipData,
  waitForGroupDatabase,
} from "./read/group-database.ts";
import type { Lag } from "./read/lag.ts";
import { closeConsumer } from "./read/leave-group.ts";
import { warnLostOffsets } from "./read/lost-offsets.ts";
import { OpenTransactionWatch } from "./read/open-transactions.ts";
import { warnOutOfRange } from "./read/out-of-range.ts";
import { PartitionWatch, rejoinOnGroupErrors, rejoinOnPartitionChanges } from "./read/partition-watch.ts";
import { SourceTopics, watchSourceTopics } from "./read/source-topics.ts";
import { endIfAnswering, Outage, PartitionMovedError, retrying } from "./retry.ts";
import { applyBatch } from "./write/transaction.ts";

// Wiring: configuration in, running pipeline out. Waits for MySQL and Kafka rather than failing
// when they are still starting; fails at once, with one line, on what waiting can't fix.

export interface RunningService {
  /** Resolves when the pipeline has stopped and every connection is closed. */
  done: Promise<void>;
  /** Finishes the batches being written, commits them, leaves the group and closes connections. */
  stop(): Promise<void>;
}

export interface ServiceHooks {
  onBatch?: (report: BatchReport) => void;
  onReady?: () => void;
  /** Replaces the event types' routes and handlers: tests use a handler that fails on cue. */
  routes?: typeof ROUTES;
  /** How long an open upstream transaction holds a partition back before it is said (read/open-transactions.ts). */
  openTransactionWarnMs?: number;
}

/** `cancel` aborts the start (waiting for MySQL or Kafka) with AbandonedError. */
export async function startService(
  config: Config,
  log: Logger,
  hooks: ServiceHooks = {},
  cancel?: AbortSignal,
): Promise<RunningService> {
  const stopping = new AbortController();
  const signal = stopping.signal;
  cancel?.addEventListener("abort", () => stopping.abort(), { once: true });
  const topics = prefixed(config.kafkaTopicPrefix, TOPICS);
  const pool = createPool(config);
  const closers = new Closers(log);
  closers.add(() => pool.end());
  const metrics = new Metrics(log, pool);
  const outages = serviceOutages(metrics, log);
  // Every request of the running service's clients, timed: a broker that stops answering is an outage.
  const silence = new BrokerSilence(outages.kafka);
  closers.add(async () => silence.close());
  let consumer: Consumer | null = null;
  const groupSettling: GroupSettlingState = { since: null };
  const progress = new DatabaseProgress();
  try {
    if (config.metricsPort > 0) {
      const readiness = { check: () => notReadyReasons(pool, outages, consumer, groupSettling, progress) };
      const http = await startHttpServer(config, metrics, readiness, log);
      closers.add(() => new Promise((resolve) => http.close(resolve)));
    }
    const database = await prepareDatabase(config, pool, outages.database, log, signal);
    // The start's admin clients too: a broker that does not answer is asked last (kafka/answering-first.ts).
    const watch = (client: Admin) => silence.watch(client);
    const kafka = { outage: outages.kafka, watch };
    const { dlqMaxBytes, partitions, ids } = await checkTopics(config, topics, kafka, log, signal);
    await waitForGroupDatabase(config, database, outages, log, signal, watch, groupSettling);
    // The pipeline hears of each fetch that succeeds (the end of a Kafka outage on a quiet group).
    let pipeline: Pipeline | null = null;
    const group = groupConsumer(config, topics, database, { log, hooks }, () => pipeline?.fetched());
    consumer = group;
    // Heard from the group's creation; the count of its lines left out (one a minute) is logged at
    // shutdown after the group is closed (closers run in reverse), as the batches' is by the pipeline.
    const groupErrors = rejoinOnGroupErrors(
      group,
      (why) => pipeline?.rejoin(why),
      (err) => explainRejoinFailure(err, config),
      log,
    );
    closers.add(async () => groupErrors.flushWarnings());
    metrics.watchMembership(() => isMember(group));
    silence.watch(group);
    closers.add(() => closeConsumer(group, config.kafkaSessionTimeoutMs, log));
    await warnLostOffsets(config, pool, partitions, group, log);
    const topicsAdmin = new Admin({ ...kafkaBaseOptions(config, "topics"), retries: 0 });
    silence.watch(topicsAdmin);
    const sourceTopics = new SourceTopics(topicsAdmin, topics, log, (err) => explainKafkaFailure(err, config));
    closers.add(() => sourceTopics.close());
    const producer = deadLetterProducer(config, dlqMaxBytes);
    silence.watch(producer);
    closers.add(() => producer.close());
    const limits = decodeLimitsOf(config);
    pipeline = new Pipeline({
      consumer: group,
      topics: () => sourceTopics.forStream(),
      decode: (record: SourceRecord) => decode(record, limits, hooks.routes),
      batch: batchDeps(config, { pool, producer, outages, silence, metrics, progress, log, hooks }),
      kafkaOutage: outages.kafka,
      explainStreamFailure: (err) => explainStreamFailure(err, config, sourceTopics),
      log,
      options: pipelineOptions(config),
    });
    const stopWatching = watchLag(pipeline, { group, sourceTopics, partitions, ids, metrics, hooks, log });
    closers.add(async () => stopWatching());
    const done = pipeline.run(signal).finally(() => closers.closeAll());
    return {
      done,
      async stop() {
        stopping.abort();
        await done;
      },
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** The outages the service waits out, each exported as `analytics_outage` and its retries counted. */
function serviceOutages(metrics: Metrics, log: Logger) {
  const outage = (dependency: string) =>
    new Outage(dependency, log, {
      onChange: (active: boolean) => metrics.outage.set({ dependency }, active ? 1 : 0),
      onRetry: () => metrics.retries.inc({ dependency }),
    });
  return { database: outage("MySQL"), kafka: outage("Kafka"), group: outage("Kafka group") };
}

/**
 * The source topics' lag, read every few seconds, exported, and watched for partitions added or
 * recreated (a rejoin) and for upstream transactions held open. Returns what stops it.
 */
function watchLag(
  pipeline: Pipeline,
  d: {
    group: Consumer;
    sourceTopics: SourceTopics;
    partitions: ConstructorParameters<typeof PartitionWatch>[0];
    ids: ConstructorParameters<typeof PartitionWatch>[1];
    metrics: Metrics;
    hooks: ServiceHooks;
    log: Logger;
  },
): () => void {
  const onPartitionChanges = rejoinOnPartitionChanges(
    d.group,
    new PartitionWatch(d.partitions, d.ids),
    (why) => pipeline.rejoin(why),
    d.log,
  );
  const openTransactions = new OpenTransactionWatch(d.log, d.hooks.openTransactionWarnMs);
  const onLag = (report: Lag) => {
    d.metrics.observeLag(report.lag, report.ids);
    openTransactions.observe(report.held, report.unread);
    void onPartitionChanges(report);
  };
  return watchSourceTopics(d.sourceTopics, pipeline, onLag, d.log);
}

/** The pipeline's part of the configuration. */
function pipelineOptions(config: Config): PipelineOptions {
  return {
    autoOffsetReset: config.kafkaAutoOffsetReset,
    batchMaxEvents: config.batchMaxEvents,
    batchMaxBytes: config.batchMaxBytes,
    batchLingerMs: config.batchLingerMs,
    batchesInFlight: config.batchesInFlight,
    retryMaxBackoffMs: config.retryMaxBackoffMs,
    sessionTimeoutMs: config.kafkaSessionTimeoutMs,
  };
}

/** @platformatic/kafka's default rebalance timeout. */
const CLIENT_REBALANCE_TIMEOUT_MS = 102_000;

/** The group's consumer: commits by hand, logs joins and rebalances. */
function groupConsumer(
  config: Config,
  topics: string[],
  database: GroupDatabase,
  { log, hooks }: { log: Logger; hooks: ServiceHooks },
  onFetched: () => void,
): Consumer {
  const consumer = correctingFetches(
    committingAsMember(
      new Consumer({
        ...kafkaBaseOptions(config, "consumer"),
        groupId: config.kafkaGroupId,
        protocolsMetadata: () => membershipData(database),
        autocommit: false,
        sessionTimeout: config.kafkaSessionTimeoutMs,
        // The client refuses a rebalance timeout shorter than the session timeout, and its own is
        // 102 s: a longer KAFKA_SESSION_TIMEOUT_MS, which the configuration allows, failed the start.
        // Never shorter, too, for the membership lease: a member that does not rejoin a rebalance is
        // dropped after the rebalance timeout, which must not end before its lease does.
        rebalanceTimeout: Math.max(CLIENT_REBALANCE_TIMEOUT_MS, config.kafkaSessionTimeoutMs),
        heartbeatInterval: Math.min(3000, Math.floor(config.kafkaSessionTimeoutMs / 3)),
        retries: 5,
        retryDelay: 500,
        ...CONSUME_TUNING,
      }),
    ),
    onFetched,
    (found) => void warnOutOfRange(consumer, found, config.kafkaAutoOffsetReset, log),
  );
  consumer.on("consumer:group:join", (p) => {
    log.info({ group: config.kafkaGroupId, memberId: p.memberId }, "joined the consumer group");
    hooks.onReady?.();
  });
  consumer.on("consumer:group:rebalance", () => log.info("partitions reassigned"));
  log.info(
    { brokers: config.kafkaBrokers, group: config.kafkaGroupId, topics },
    `connected to Kafka ${config.kafkaBrokers.join(",")}, consuming ${topics.join(", ")} as group ${config.kafkaGroupId}`,
  );
  return consumer;
}

/** What a batch needs from MySQL and Kafka, each waiting out its outage. */
function batchDeps(
  config: Config,
  d: {
    pool: Pool;
    producer: Producer;
    outages: { database: Outage; kafka: Outage };
    silence: BrokerSilence;
    metrics: Metrics;
    progress: DatabaseProgress;
    log: Logger;
    hooks: ServiceHooks;
  },
): PipelineDeps["batch"] {
  const dlq = config.kafkaDlqTopic;
  // A commit is MySQL answering, for /readyz while every connection is held.
  const onCommit = () => d.progress.answered();
  return {
    apply: async (items, signal, owned) => {
      try {
        return await retrying(
          () => applyBatch(d.pool, items, { onDeadlock: () => d.metrics.deadlocks.inc(), owned, onCommit }),
          d.outages.database,
          config.retryMaxBackoffMs,
          signal,
        );
      } catch (err) {
        // Dropped, not applied: the outage it waited out ends once MySQL answers.
        if (err instanceof PartitionMovedError) await endIfAnswering(d.outages.database, () => databaseAnswers(d.pool));
        throw err;
      }
    },
    deadLetter: (letters, signal) =>
      retrying(
        (answered) =>
          sendDeadLetters(d.producer, dlq, letters, undefined, answered).catch((err: unknown) => {
            throw deadLetterFailure(dlq, err);
          }),
        d.outages.kafka,
        config.retryMaxBackoffMs,
        signal,
        // A broker that stops answering fails a send only after the client's timeouts and
        // retries (30 s a request, six tries): said as the outage it is long before then. Counted
        // from the last request answered: 8 MiB of letters go in 16 requests one after the other,
        // which a slow but answering cluster (a quota, acks=all waiting on replicas) takes past 10 s;
        // and from the end of the throttle a broker said (a quota), before which it reads nothing.
        {
          afterMs: DLQ_SILENCE_MS,
          cause: () => deadLetterSilence(dlq),
          deferMs: () => DLQ_SILENCE_MS + d.silence.throttleEndsInMs(d.producer),
        },
      ),
    transactions: config.mysqlPoolSize,
    maxUnexpectedErrors: config.maxUnexpectedErrors,
    log: d.log,
    onBatch: (report) => {
      d.metrics.observeBatch(report);
      d.hooks.onBatch?.(report);
    },
  };
}
