import { ConfigError } from "../errors.ts";
import { DEFAULT_DLQ_TOPIC, SOURCE_TOPICS } from "../kafka/topics.ts";
import type { Config } from "./index.ts";

// The names the configuration gives Kafka, checked as Kafka will take them: the dead-letter topic
// (a name Kafka can create beside the source topics), the group and client ids (strings a
// request can carry).

/**
 * The topics the brokers keep for themselves (Kafka's Topic.isInternal), and KRaft's metadata log,
 * which no Metadata answer lists and CreateTopics refuses ("Creation of internal topic
 * __cluster_metadata is prohibited").
 */
const KAFKA_INTERNAL_TOPICS = [
  "__consumer_offsets",
  "__transaction_state",
  "__share_group_state",
  "__cluster_metadata",
];

/** Kafka takes '.' and '_' for one character in a topic name, and refuses a topic that collides so with one that exists. */
const collisionName = (name: string) => name.replaceAll(".", "_");

/** Kafka's own rule for a topic name: these characters, at most 249 of them. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Topic names Kafka can never create: the service would wait for the source topics for ever,
 * or be told to create a dead-letter topic that can't exist.
 */
export function checkTopicNames(config: Config): void {
  const rule = "Kafka topic names hold only letters, digits, '.', '_' and '-', at most 249 of them";
  const longest = `${config.kafkaTopicPrefix}${SOURCE_TOPICS.reduce((a, b) => (b.length > a.length ? b : a))}`;
  if (config.kafkaTopicPrefix !== "" && !TOPIC_NAME.test(longest)) {
    throw new ConfigError(
      `KAFKA_TOPIC_PREFIX: "${config.kafkaTopicPrefix}" makes topic names Kafka refuses (${longest}); ${rule}.`,
    );
  }
  if (!TOPIC_NAME.test(config.kafkaDlqTopic) || config.kafkaDlqTopic === "." || config.kafkaDlqTopic === "..") {
    throw new ConfigError(`KAFKA_DLQ_TOPIC: "${config.kafkaDlqTopic}" is not a topic name Kafka takes; ${rule}.`);
  }
  // The brokers' own topics: they list none of them (the start said it did not exist, to be
  // created), and refuse a client's records in them; a name colliding with one ('__consumer.offsets')
  // can't be created beside it.
  const internal = KAFKA_INTERNAL_TOPICS.find((t) => t === collisionName(config.kafkaDlqTopic));
  if (internal !== undefined) {
    const which = internal === config.kafkaDlqTopic ? "is" : `collides with ${internal},`;
    throw new ConfigError(
      `KAFKA_DLQ_TOPIC: "${config.kafkaDlqTopic}" ${which} one of Kafka's internal topics, which take no client's records; dead letters need a topic of their own (default "${DEFAULT_DLQ_TOPIC}").`,
    );
  }
  // Its letters would be read back as events, fail again and be dead-lettered again, for ever.
  const source = SOURCE_TOPICS.find((t) => `${config.kafkaTopicPrefix}${t}` === config.kafkaDlqTopic);
  if (source !== undefined) {
    throw new ConfigError(
      `KAFKA_DLQ_TOPIC: "${config.kafkaDlqTopic}" is the source topic of ${source} events; dead letters need a topic of their own (default "${DEFAULT_DLQ_TOPIC}").`,
    );
  }
  // Kafka takes '.' and '_' for one character in a topic name (its metrics would mix them up) and
  // refuses a topic whose name collides so with one that exists: the dead-letter topic and that
  // source topic can't both exist, so the start would stop for the one or wait for the other for ever.
  const twin = SOURCE_TOPICS.find(
    (t) => collisionName(`${config.kafkaTopicPrefix}${t}`) === collisionName(config.kafkaDlqTopic),
  );
  if (twin !== undefined) {
    throw new ConfigError(
      `KAFKA_DLQ_TOPIC: "${config.kafkaDlqTopic}" collides with the source topic ${config.kafkaTopicPrefix}${twin} (KAFKA_TOPIC_PREFIX "${config.kafkaTopicPrefix}"): Kafka takes '.' and '_' for the same character and refuses one of the two; name the dead-letter topic apart (default "${DEFAULT_DLQ_TOPIC}").`,
    );
  }
}

/** The longest string a Kafka request carries (a length of 16 bits). */
const KAFKA_STRING_BYTES = 32767;

/**
 * The group id and client ids go into every request as Kafka strings: one past the bound made
 * requests the client could not write, said as the brokers not answering.
 */
export function checkRequestStrings(config: Config): void {
  const groupBytes = Buffer.byteLength(config.kafkaGroupId);
  if (groupBytes > KAFKA_STRING_BYTES) {
    throw new ConfigError(
      `KAFKA_GROUP_ID: ${groupBytes} bytes, more than the ${KAFKA_STRING_BYTES} a Kafka request can carry; use a shorter one.`,
    );
  }
  const clientBytes = Buffer.byteLength(config.kafkaClientId);
  if (clientBytes > MAX_CLIENT_ID_BYTES) {
    throw new ConfigError(
      `KAFKA_CLIENT_ID: ${clientBytes} bytes, more than the ${MAX_CLIENT_ID_BYTES} a Kafka request can carry once the consumer's member id is made of it (<id>-consumer-<uuid>); use a shorter one.`,
    );
  }
}

/**
 * The longest KAFKA_CLIENT_ID: the longest string made of it is the consumer's member id, which the
 * broker makes of its client id (`<id>-consumer`, kafka/client-options.ts), a dash and a UUID (36),
 * and sends back in every JoinGroup answer; past the bound the broker fails the join ("unexpected
 * error"). The other clients' ids (`<id>-generator-check`, the longest) are shorter.
 */
const MAX_CLIENT_ID_BYTES = KAFKA_STRING_BYTES - "-consumer".length - 1 - 36;
