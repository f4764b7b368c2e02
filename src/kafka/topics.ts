import { Admin, ConfigResourceTypes, findErrorBy } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import { MIN_DEAD_LETTER_BYTES } from "../dead-letter/letter.ts";
import { AppError, ConfigError, KafkaUnavailableError, messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import { abortableDelay, type Outage, retrying } from "../retry.ts";
import { kafkaBaseOptions } from "./client-options.ts";
import {
  brokerErrors,
  brokersUnreached,
  explainKafkaFailure,
  loginRefused,
  topicsRefusedAuthorization,
} from "./kafka-errors.ts";
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES } from "./records.ts";

/** The five source topics of docs/events.md#topics-and-event-types; an event type is `<topic>.<action>`. */
export const SOURCE_TOPICS = ["user", "supplier", "product", "order", "post"] as const;
export type SourceTopic = (typeof SOURCE_TOPICS)[number];

export const DEFAULT_DLQ_TOPIC = "analytics-dlq";

/** Kafka topic names for `topics` under a deployment's prefix. */
export const prefixed = (prefix: string, topics: readonly string[]) => topics.map((t) => `${prefix}${t}`);

/** Which of `topics` the broker lists, and which it does not, each in the order given. */
export async function listedTopics(
  admin: Pick<Admin, "listTopics">,
  topics: readonly string[],
): Promise<{ existing: string[]; missing: string[] }> {
  const listed = new Set(await admin.listTopics());
  return { existing: topics.filter((t) => listed.has(t)), missing: topics.filter((t) => !listed.has(t)) };
}

/** The partition count of each of `topics` that exists; a missing one has no entry. */
export async function partitionCounts(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  return (await topicLayout(admin, topics)).partitions;
}

/**
 * The partition count and the id of each of `topics` that exists; a missing one has no entry. The
 * id tells a topic deleted and created again under its name from the one that was.
 */
export async function topicLayout(
  admin: Admin,
  topics: readonly string[],
): Promise<{ partitions: Map<string, number>; ids: Map<string, string> }> {
  const existing = new Set(await admin.listTopics());
  const wanted = topics.filter((t) => existing.has(t));
  if (wanted.length === 0) return { partitions: new Map(), ids: new Map() };
  // A copy: the client sorts the array it is given in place.
  const metadata = await admin.metadata({ topics: [...wanted], forceUpdate: true });
  const partitions = new Map(wanted.map((t) => [t, metadata.topics.get(t)?.partitions.length ?? 0]));
  return { partitions, ids: topicIds(metadata.topics) };
}

/** Each topic's id in `metadata` (a client's metadata's `topics`), for those it has one of. */
export function topicIds(metadata: ReadonlyMap<string, { id?: string } | undefined>): Map<string, string> {
  const ids = new Map<string, string>();
  for (const [topic, m] of metadata) if (m?.id) ids.set(topic, m.id);
  return ids;
}

/**
 * Waits until one of the source topics exists: a topic created after the service (by the
 * upstream's first event, or an operator) is normal, not fatal, and the stream reads those that
 * exist (source-topics.ts). Logs once what it waits for.
 */
export async function waitForTopics(
  admin: Admin,
  topics: readonly string[],
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let existing: string[];
    try {
      ({ existing } = await listedTopics(admin, topics));
    } catch (err) {
      throw KafkaUnavailableError.of(err);
    }
    if (existing.length > 0) {
      if (attempt > 0) log.info({ topics: existing }, `source topics exist now: ${existing.join(", ")}`);
      return;
    }
    if (attempt === 0) log.warn({ missing: topics }, `waiting for topics to be created: ${topics.join(", ")}`);
    await abortableDelay(Math.min(5000, 250 * 2 ** attempt), signal);
  }
}

/** Less than this (retention.ms) on the dead-letter topic is warned of at start: letters should be kept days, not hours. */
export const DLQ_MIN_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Checks that the dead-letter topic exists and returns its effective max.message.bytes, which
 * every dead letter is built to fit. Unlike a source topic, a missing dead-letter topic is not
 * waited for: nothing creates it but an operator, and a service that started without it would
 * report ready and then stop at the first bad event. A limit the broker will not tell (no
 * DescribeConfigs right on the topic, say) is not fatal: Kafka's default is assumed, and a letter
 * the broker refuses for its size is sent again smaller.
 */
export async function deadLetterTopicLimit(admin: Admin, topic: string, log: Logger): Promise<number> {
  let exists: boolean;
  try {
    exists = (await admin.listTopics()).includes(topic);
  } catch (err) {
    throw KafkaUnavailableError.of(err);
  }
  if (!exists) {
    throw new ConfigError(
      `KAFKA_DLQ_TOPIC: the dead-letter topic ${topic} does not exist; create it or set KAFKA_DLQ_TOPIC to a topic that does`,
    );
  }
  let value: string | null | undefined;
  let cleanupPolicy: string | null | undefined;
  let retentionMs: string | null | undefined;
  try {
    const [description] = await admin.describeConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: topic,
          configurationKeys: ["max.message.bytes", "cleanup.policy", "retention.ms"],
        },
      ],
    });
    value = description?.configs.find((c) => c.name === "max.message.bytes")?.value;
    cleanupPolicy = description?.configs.find((c) => c.name === "cleanup.policy")?.value;
    retentionMs = description?.configs.find((c) => c.name === "retention.ms")?.value;
  } catch (err) {
    // The broker answered, but no: go on with the default. No answer at all is an outage.
    if (!findErrorBy(err instanceof Error ? err : undefined, "code", "PLT_KFK_PROTOCOL")) {
      throw KafkaUnavailableError.of(err);
    }
    log.warn(
      { topic, err: messageOf(err) },
      `could not read max.message.bytes of ${topic}; dead letters are built for Kafka's default of ${KAFKA_DEFAULT_MAX_MESSAGE_BYTES} bytes`,
    );
    return KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  }
  if (cleanupPolicy?.includes("compact")) {
    // A compacted topic refuses a record without a key, and the letter of an event that had none
    // has none: it would be sent again for ever. Compaction would also keep one letter per key.
    throw new ConfigError(
      `KAFKA_DLQ_TOPIC: the dead-letter topic ${topic} is compacted (cleanup.policy=${cleanupPolicy}): it refuses the letters of events without a key and keeps one letter per key; set its cleanup.policy to delete`,
    );
  }
  const keeps = Number(retentionMs);
  if (retentionMs != null && Number.isSafeInteger(keeps) && keeps >= 0 && keeps < DLQ_MIN_RETENTION_MS) {
    // Letters are what is left of the events they hold: deleted before anyone looks, they are lost.
    log.warn(
      { topic, retentionMs: keeps },
      `KAFKA_DLQ_TOPIC: the dead-letter topic ${topic} keeps letters ${keeps} ms (retention.ms), less than a day: a letter may be deleted before anyone can list or replay it, and its event is then lost; set retention.ms to days (604800000 is 7 days) or -1`,
    );
  }
  const bytes = Number(value);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    log.warn(
      { topic, value },
      `max.message.bytes of ${topic} is not a number; dead letters are built for Kafka's default of ${KAFKA_DEFAULT_MAX_MESSAGE_BYTES} bytes`,
    );
    return KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  }
  if (bytes < MIN_DEAD_LETTER_BYTES) {
    throw new ConfigError(
      `KAFKA_DLQ_TOPIC: the dead-letter topic ${topic} takes messages of at most ${bytes} bytes (max.message.bytes), too few for a dead letter's headers; raise it to at least ${MIN_DEAD_LETTER_BYTES}`,
    );
  }
  log.debug({ topic, maxMessageBytes: bytes }, "dead letters are built to fit the dead-letter topic");
  return bytes;
}

/**
 * Waits for the source topics, then requires the dead-letter topic and returns its
 * max.message.bytes, and the source topics' partition counts before the group is joined. Source
 * topics may appear later (the upstream creates them), but a missing dead-letter topic is a
 * mistake waiting would hide, so it stops the start with one line; its limit is what every dead
 * letter is built to fit.
 */
export async function checkTopics(
  config: Config,
  topics: string[],
  kafka: { outage: Outage; watch: (client: Admin) => void },
  log: Logger,
  signal: AbortSignal,
) {
  const admin = new Admin({ ...kafkaBaseOptions(config, "admin"), retries: 2 });
  kafka.watch(admin);
  /** Each step waits out an outage, its failures explained in one line. */
  const step = <T>(work: () => Promise<T>) =>
    retrying(
      () => work().catch((err) => Promise.reject(explainKafka(asOutage(err), config))),
      kafka.outage,
      config.retryMaxBackoffMs,
      signal,
    );
  try {
    await step(() => waitForTopics(admin, topics, log, signal));
    const dlqMaxBytes = await step(() => deadLetterTopicLimit(admin, config.kafkaDlqTopic, log));
    const { partitions, ids } = await step(() => topicLayout(admin, topics));
    return { dlqMaxBytes, partitions, ids };
  } finally {
    await admin.close().catch((err: unknown) => log.debug({ err: messageOf(err) }, "closing the admin client"));
  }
}

/**
 * A failure of the Kafka client's own (its errors' codes start with PLT_KFK) as an outage: a topic
 * listed a moment ago that the next metadata request calls unknown (created or deleted meanwhile)
 * failed the start once, where the next attempt would have read it. The service's own errors
 * stay what they are.
 */
export function asOutage(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("PLT_KFK") ? KafkaUnavailableError.of(err) : err;
}

/** A failure at start as one line; a refused login stops the start, like MySQL's wrong password. */
function explainKafka(err: unknown, config: Config): unknown {
  if (!(err instanceof KafkaUnavailableError)) return err;
  const line = explainKafkaFailure(err.cause, config);
  return loginRefused(err.cause) ? new ConfigError(`Kafka: ${line}`) : new KafkaUnavailableError(line, err);
}

/** What explainStreamFailure asks of the source topics (the service's SourceTopics, whose admin client is open). */
export interface SourceTopicNames {
  list(): Promise<{ missing: readonly string[] }>;
  /** Each existing source topic's id, by name. */
  ids(): Promise<ReadonlyMap<string, string>>;
}

/**
 * A failed stream's cause as the outage line should say it. The client calls a deleted topic
 * "Unknown topic" and, past the first, names the wrong one: the source topics are listed, and the
 * missing ones named; the outage is short, as the stream is opened again on the topics that
 * exist. Brokers not reached are said as the start says them, with what to do; a right the
 * brokers refuse is named with what to grant (refusedRight); any other failure is itself.
 */
export async function explainStreamFailure(err: unknown, config: Config, sources: SourceTopicNames): Promise<unknown> {
  const refusal = await refusedRight(err, config, sources);
  if (refusal !== undefined) return refusal;
  if (findErrorBy(err as Error, "apiCode", 3) === null && !/Unknown topic/.test(messageOf(err))) {
    return brokersUnreached(err) ? new KafkaUnavailableError(explainKafkaFailure(err, config), err) : err;
  }
  let missing: readonly string[];
  try {
    ({ missing } = await sources.list());
  } catch {
    return err; // the broker can't be asked: its own failure says more than a guess would
  }
  if (missing.length === 0) {
    return new KafkaUnavailableError(
      "a source topic was not found while it was read, and all of them exist now (deleted and created again?): reading them again from the committed offsets",
      err,
    );
  }
  const what = missing.length > 1 ? "topics" : "topic";
  // What happens next is said by the stream opened without it (source-topics.ts).
  return new KafkaUnavailableError(`source ${what} ${missing.join(", ")} not found (deleted?)`, err);
}

/**
 * A right the brokers refuse the service's Kafka user, named with what to grant: Read on the
 * group, or Read on a source topic it may describe (the fetch then fails for every topic).
 */
async function refusedRight(err: unknown, config: Config, sources: SourceTopicNames) {
  const who =
    config.kafkaSaslMechanism !== "none"
      ? `KAFKA_SASL_USERNAME=${config.kafkaSaslUsername}`
      : "the service's principal";
  if (brokerErrors(err).includes("GROUP_AUTHORIZATION_FAILED")) {
    return new KafkaUnavailableError(
      `the brokers refuse ${who} Read on the consumer group KAFKA_GROUP_ID=${config.kafkaGroupId} (GROUP_AUTHORIZATION_FAILED): grant it Read on the group (docs/operations.md#kafka-security); until then no topic is read`,
      err,
    );
  }
  const refused = topicsRefusedAuthorization(err);
  if (refused.length === 0 && !brokerErrors(err).includes("TOPIC_AUTHORIZATION_FAILED")) return undefined;
  // The response names topics by id; their names are asked, and if that fails too, the ids stand.
  const names = await sources.ids().then(
    (ids) => new Map([...ids].map(([topic, id]) => [id, topic])),
    (asking: unknown) =>
      new Map(refused.map((id) => [id, `${id} (a topic id: its name could not be asked, ${messageOf(asking)})`])),
  );
  const topics = refused.map((t) => names.get(t) ?? t);
  const what =
    topics.length === 0 ? "a source topic" : `source ${topics.length > 1 ? "topics" : "topic"} ${topics.join(", ")}`;
  return new KafkaUnavailableError(
    `the brokers refuse ${who} Read on ${what} (TOPIC_AUTHORIZATION_FAILED): grant it Read on the source topics (docs/operations.md#kafka-security); until then no topic is read`,
    err,
  );
}
