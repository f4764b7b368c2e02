import { Admin, Consumer } from "@platformatic/kafka";
import type { Pool } from "mysql2/promise";
import { applyBatch } from "./apply/apply.ts";
import { decode } from "./apply/decode.ts";
import type { Config } from "./config/index.ts";
import { migrate } from "./db/migrate.ts";
import { createPool, explainDbError } from "./db/pool.ts";
import { type ROUTES, TOPICS } from "./domains/registry.ts";
import { KafkaUnavailableError, messageOf } from "./errors.ts";
import { deadLetterProducer, sendDeadLetters } from "./kafka/dlq.ts";
import { explainKafkaFailure } from "./kafka/explain.ts";
import { CONSUME_TUNING, kafkaBaseOptions } from "./kafka/options.ts";
import { deadLetterTopicLimit, prefixed, waitForTopics } from "./kafka/topics.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./observability/metrics.ts";
import { startHttpServer } from "./observability/server.ts";
import { type BatchReport, deadLetterFailure, Pipeline } from "./pipeline/pipeline.ts";
import { Outage, retrying } from "./retry.ts";

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
  const closers: (() => Promise<unknown>)[] = [() => pool.end()];
  const metrics = new Metrics(log, pool as Pool);
  const outageHooks = (dependency: string) => ({
    onChange: (active: boolean) => metrics.outage.set({ dependency }, active ? 1 : 0),
    onRetry: () => metrics.retries.inc({ dependency }),
  });
  const databaseOutage = new Outage("MySQL", log, outageHooks("MySQL"));
  const kafkaOutage = new Outage("Kafka", log, outageHooks("Kafka"));
  let consumerRef: Consumer | null = null;
  const readiness = {
    async check() {
      const reasons: string[] = [];
      if (!(await databaseAnswers(pool as Pool))) reasons.push("MySQL does not answer");
      if (databaseOutage.active) reasons.push("paused: waiting for MySQL");
      if (kafkaOutage.active) reasons.push("paused: waiting for Kafka");
      if (!consumerRef?.assignments || !consumerRef.memberId) reasons.push("not a member of the consumer group yet");
      return reasons;
    },
  };
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err: messageOf(err) }, "error while closing a connection");
      }
    }
  };

  try {
    if (config.metricsPort > 0) {
      const http = await startHttpServer(config, metrics, readiness, log);
      closers.push(() => new Promise((resolve) => http.close(resolve)));
    }
    await retrying(() => checkDatabase(pool, config), databaseOutage, config.retryMaxBackoffMs, signal);
    const migrated = await migrate(pool);
    log.info(
      { host: config.mysqlHost, port: config.mysqlPort, database: config.mysqlDatabase, applied: migrated.applied },
      `connected to MySQL ${config.mysqlHost}:${config.mysqlPort}/${config.mysqlDatabase}, schema at migration ${migrated.current}`,
    );

    const admin = new Admin({ ...kafkaBaseOptions(config, "admin"), retries: 2 });
    closers.push(() => admin.close());
    await retrying(
      () => waitForTopics(admin, topics, log, signal).catch((err) => Promise.reject(explainKafka(err, config))),
      kafkaOutage,
      config.retryMaxBackoffMs,
      signal,
    );
    // Then the dead-letter topic: source topics may appear later (the upstream creates them), but
    // a missing dead-letter topic is a mistake waiting would hide, so it stops the start with one
    // line. Its max.message.bytes is what every dead letter is built to fit.
    const dlqMaxBytes = await retrying(
      () =>
        deadLetterTopicLimit(admin, config.kafkaDlqTopic, log).catch((err) =>
          Promise.reject(explainKafka(err, config)),
        ),
      kafkaOutage,
      config.retryMaxBackoffMs,
      signal,
    );
    await admin.close();
    closers.pop();

    const consumer = new Consumer({
      ...kafkaBaseOptions(config, "consumer"),
      groupId: config.kafkaGroupId,
      autocommit: false,
      sessionTimeout: config.kafkaSessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(config.kafkaSessionTimeoutMs / 3)),
      retries: 5,
      retryDelay: 500,
      ...CONSUME_TUNING,
    });
    closers.push(() => consumer.close());
    consumerRef = consumer;
    consumer.on("consumer:lag", (lag) => metrics.observeLag(lag));
    consumer.startLagMonitoring({ topics }, 5000);
    closers.push(async () => consumer.stopLagMonitoring());
    const producer = deadLetterProducer(config, dlqMaxBytes);
    closers.push(() => producer.close());
    consumer.on("consumer:group:join", (p) => {
      log.info({ group: config.kafkaGroupId, memberId: p.memberId }, "joined the consumer group");
      hooks.onReady?.();
    });
    consumer.on("consumer:group:rebalance", () => log.info("partitions reassigned"));
    log.info(
      { brokers: config.kafkaBrokers, group: config.kafkaGroupId, topics },
      `connected to Kafka ${config.kafkaBrokers.join(",")}, consuming ${topics.join(", ")} as group ${config.kafkaGroupId}`,
    );

    const limits = {
      maxMessageBytes: config.maxMessageBytes,
      maxClockSkewMs: config.maxClockSkewMs,
      maxJsonDepth: config.maxJsonDepth,
      topicPrefix: config.kafkaTopicPrefix,
    };
    const retry = <T>(outage: Outage, work: () => Promise<T>, signal: AbortSignal) =>
      retrying(work, outage, config.retryMaxBackoffMs, signal);
    const pipeline = new Pipeline({
      consumer,
      topics,
      decode: (record) => decode(record, limits, hooks.routes),
      batch: {
        apply: (items, signal) => retry(databaseOutage, () => applyBatch(pool as Pool, items), signal),
        deadLetter: (letters, signal) =>
          retry(
            kafkaOutage,
            () =>
              sendDeadLetters(producer, config.kafkaDlqTopic, letters).catch((err: unknown) => {
                throw deadLetterFailure(config.kafkaDlqTopic, err);
              }),
            signal,
          ),
        transactions: config.mysqlPoolSize,
        maxUnexpectedErrors: config.maxUnexpectedErrors,
        log,
        onBatch: (report) => {
          metrics.observeBatch(report);
          hooks.onBatch?.(report);
        },
      },
      kafkaOutage,
      log,
      options: {
        autoOffsetReset: config.kafkaAutoOffsetReset,
        batchMaxEvents: config.batchMaxEvents,
        batchLingerMs: config.batchLingerMs,
        batchesInFlight: config.batchesInFlight,
        retryMaxBackoffMs: config.retryMaxBackoffMs,
      },
    });
    const done = pipeline.run(signal).finally(closeAll);
    return {
      done,
      async stop() {
        stopping.abort();
        await done;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** A quick `SELECT 1` that gives up after a second rather than waiting on a dead server. */
async function databaseAnswers(pool: Pool): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 1000);
  });
  const ping = pool.query("SELECT 1").then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkDatabase(pool: Pool, config: Config): Promise<void> {
  try {
    await pool.query("SELECT 1");
  } catch (err) {
    throw explainDbError(err, config);
  }
}

function explainKafka(err: unknown, config: Config): unknown {
  if (!(err instanceof KafkaUnavailableError)) return err;
  return new KafkaUnavailableError(explainKafkaFailure(err.cause, config), err);
}
