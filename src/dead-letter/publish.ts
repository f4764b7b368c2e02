import { findErrorBy, ProduceAcks, Producer } from "@platformatic/kafka";
import { chunksBySize } from "../collections.ts";
import { KafkaUnavailableError, messageOf } from "../errors.ts";
import { kafkaBaseOptions } from "../kafka/client-options.ts";
import { brokerErrors } from "../kafka/kafka-errors.ts";
import { installVarlongWriter } from "../kafka/record-timestamps.ts";
import { BATCH_OVERHEAD, KAFKA_DEFAULT_MAX_MESSAGE_BYTES, recordBytes, type Sized } from "../kafka/records.ts";
import { type DeadLetter, type DlqMessage, MIN_DEAD_LETTER_BYTES, toDlqMessage } from "./letter.ts";

// Publishing dead letters (and replays of them): acknowledged by every in-sync replica before any
// offset moves on, in requests the broker accepts, and smaller again when it refuses one for its
// size, so no letter is retried as it was for ever.

/**
 * The producer for dead letters and their replays: acknowledged by all in-sync replicas, and
 * idempotent, so a retried request does not write its messages twice. LZ4, which every Kafka
 * client reads: a letter repeats its headers' names and much of its reason, so a flood of tiny
 * poison would otherwise cost the dead-letter topic many times its own size (docs/operations.md).
 */
export function reliableProducer(config: Parameters<typeof kafkaBaseOptions>[0], clientSuffix: string): Producer {
  // Replays send their letters' record times, which the client writes wrong further apart than 24.8 days.
  installVarlongWriter();
  return new Producer({
    ...kafkaBaseOptions(config, clientSuffix),
    acks: ProduceAcks.ALL,
    idempotent: true,
    compression: "lz4",
    retries: 5,
    retryDelay: 500,
  });
}

/**
 * Bytes of messages per produce request. The messages of one partition in a request travel as one
 * record batch, which the broker refuses above the topic's max.message.bytes (1 MiB by default):
 * a batch of events with many large poison ones must not become a request the broker can never
 * accept. Replays use it as is (the source topics' limits are not read: a request a smaller one
 * refuses is sent again message by message, sendAll); dead letters use the
 * smaller of it and their topic's limit. It caps requests, not letters: a letter larger than it
 * (up to the topic's limit) goes in a request of its own, whole, so it can still be replayed.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;

/** `messages` in order, cut where the next would take a request over `maxBytes` (a larger one goes alone). */
export function chunkByBytes<T extends Sized>(messages: readonly T[], maxBytes = MAX_REQUEST_BYTES): T[][] {
  return chunksBySize(messages, maxBytes, recordBytes);
}

type Sendable = Sized & { topic: string; headers?: Map<Buffer, Buffer> | undefined };

/**
 * Sends `messages` in requests of at most `maxBytes`, one after the other, each acknowledged by all
 * in-sync replicas. A request the broker refuses for its size (its messages of one partition travel
 * as one record batch, checked against the topic's max.message.bytes) goes to `refused`, with the
 * refusal; other failures are thrown. Those of a refused request the broker wrote for other
 * partitions are written again by `refused`, which the idempotent sink applies as once.
 */
async function sendInRequests<T extends Sendable>(
  producer: Producer,
  messages: readonly T[],
  maxBytes: number,
  refused: (chunk: T[], refusal: unknown) => Promise<void>,
  answered = () => {},
): Promise<void> {
  for (const chunk of chunkByBytes(messages, maxBytes)) {
    try {
      await producer.send({ messages: chunk, acks: ProduceAcks.ALL });
      answered();
    } catch (err) {
      if (!refusedForSize(err)) throw err;
      answered();
      await refused(chunk, err);
    }
  }
}

/**
 * Sends `messages` in requests of at most `maxBytes` (sendInRequests). A request refused for its
 * size, though each of its messages may fit (a topic whose max.message.bytes is below `maxBytes`),
 * is sent again message by message; one refused alone is thrown.
 */
export function sendAll<T extends Sendable>(producer: Producer, messages: readonly T[], maxBytes = MAX_REQUEST_BYTES) {
  return sendInRequests(producer, messages, maxBytes, async (chunk, refusal) => {
    if (chunk.length === 1) throw refusal;
    for (const m of chunk) await producer.send({ messages: [m], acks: ProduceAcks.ALL });
  });
}

/**
 * Whether the broker refused a produce request for its size: MESSAGE_TOO_LARGE (a batch over the
 * topic's max.message.bytes) or RECORD_LIST_TOO_LARGE (over the segment size). The client
 * surfaces either as a ProtocolError with that `apiId`, inside a ResponseError inside the
 * MultipleErrors of the send; findErrorBy looks through the nesting.
 */
export function refusedForSize(err: unknown): boolean {
  const error = err instanceof Error ? err : undefined;
  return (
    findErrorBy(error, "apiId", "MESSAGE_TOO_LARGE") !== null ||
    findErrorBy(error, "apiId", "RECORD_LIST_TOO_LARGE") !== null
  );
}

/** The dead-letter topic's max.message.bytes, per producer of dead letters (see deadLetterProducer). */
const topicLimits = new WeakMap<object, number>();

/**
 * The service's producer of dead letters, which builds them to fit `maxMessageBytes` (the topic's
 * max.message.bytes, read at start). The limit travels with the producer so the pipeline, which
 * holds the producer, needs nothing more to send letters that fit.
 */
export function deadLetterProducer(config: Parameters<typeof kafkaBaseOptions>[0], maxMessageBytes: number): Producer {
  const producer = reliableProducer(config, "dlq");
  topicLimits.set(producer, maxMessageBytes);
  return producer;
}

/**
 * Writes dead letters with acknowledgement from all in-sync replicas before offsets move on, each
 * built to fit `maxBytes` and the letters of a request together too. A request the broker still
 * refuses for its size (the topic's limit lowered since the start, or a limit that could not be
 * read) is sent again letter by letter, each built at half the size until the broker takes it or
 * nothing is left to cut: a letter never blocks its partition by size. Letters of a refused
 * request that other partitions took may be written twice, as after any retried send: replay
 * sends a source message once. Other failures are thrown, for the caller to retry as an outage.
 * `answered` hears each request the brokers answer (deadLetterSilence counts from the last).
 */
export async function sendDeadLetters(
  producer: Producer,
  dlqTopic: string,
  letters: readonly DeadLetter[],
  maxBytes = topicLimits.get(producer) ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
  answered = () => {},
): Promise<void> {
  const now = new Date();
  const letterOf = new Map<DlqMessage, DeadLetter>();
  for (const d of letters) letterOf.set(toDlqMessage(dlqTopic, d, now, maxBytes), d);
  const requestBytes = Math.min(MAX_REQUEST_BYTES, maxBytes - BATCH_OVERHEAD);
  await sendInRequests(
    producer,
    [...letterOf.keys()],
    requestBytes,
    async (chunk, refusal) => {
      // One letter refused alone: its next try is half its size. Several may have been refused
      // together only: each goes alone first as it was built.
      const [only] = chunk;
      const start = chunk.length === 1 && only ? Math.floor((recordBytes(only) + BATCH_OVERHEAD) / 2) : maxBytes;
      for (const m of chunk) {
        await sendShrinking(producer, dlqTopic, letterOf.get(m) as DeadLetter, now, start, refusal);
        answered();
      }
    },
    answered,
  );
}

/**
 * Sends one letter alone, built to fit `maxBytes`; while the broker refuses it for its size, built
 * again at half the size it had (halving the letter, not the budget, which may be far larger).
 */
async function sendShrinking(
  producer: Producer,
  dlqTopic: string,
  d: DeadLetter,
  now: Date,
  maxBytes: number,
  refusal: unknown,
): Promise<void> {
  let previous = Number.POSITIVE_INFINITY;
  for (let budget = maxBytes; ; ) {
    const m = toDlqMessage(dlqTopic, d, now, budget);
    const size = recordBytes(m) + BATCH_OVERHEAD;
    // Nothing left to cut: the topic refuses even the dlq.* headers (its limit lowered below
    // MIN_DEAD_LETTER_BYTES since the start). Waited out as an outage, with the line that says so.
    if (size >= previous) {
      throw new KafkaUnavailableError(
        `it refuses even a letter cut to ${size} bytes: raise its max.message.bytes to at least ${MIN_DEAD_LETTER_BYTES} (topic ${dlqTopic})`,
        refusal,
      );
    }
    previous = size;
    try {
      await producer.send({ messages: [m], acks: ProduceAcks.ALL });
      return;
    } catch (err) {
      if (!refusedForSize(err)) throw err;
      refusal = err;
    }
    budget = Math.floor(size / 2);
  }
}

/**
 * A Kafka failure while dead-lettering, as the outage it is: waited out, the letters sent once
 * the cause is gone. The line names what the brokers answered, and the one refusal an operator
 * makes by changing the topic: made compacted (checked at start only), it refuses the letters of
 * events that came without a key; deleted, it is to be created again.
 */
export function deadLetterFailure(topic: string, err: unknown): KafkaUnavailableError {
  const refused = brokerErrors(err);
  const why = refused.includes("INVALID_RECORD")
    ? `the broker refuses the letters as invalid records (INVALID_RECORD): a compacted topic refuses a record without a key, as the letter of an event that came without one is; set cleanup.policy=delete on ${topic}`
    : refused.includes("TOPIC_AUTHORIZATION_FAILED")
      ? `the brokers refuse the service's Kafka user Write on it (TOPIC_AUTHORIZATION_FAILED): grant it Write and Describe on ${topic} (docs/operations.md#kafka-security); the letters wait for it`
      : refused.includes("UNKNOWN_TOPIC_OR_PARTITION") || /^Unknown topic /.test(messageOf(err))
        ? `the topic does not exist (deleted while the service ran?): create it again (not compacted, max.message.bytes of at least ${MIN_DEAD_LETTER_BYTES}); the letters wait for it`
        : refused.length > 0
          ? `${messageOf(err)} (${refused.join(", ")})`
          : messageOf(err);
  return new KafkaUnavailableError(`dead-letter topic ${topic}: ${why}`, err);
}

/** How long a send of dead letters goes without an answer to any of its requests before it is said as an outage (deadLetterSilence). */
export const DLQ_SILENCE_MS = 10_000;

/**
 * A send of dead letters the brokers have not answered for DLQ_SILENCE_MS: a broker that is
 * paused, hung or cut off by the network keeps its connections open and answers nothing, so the
 * send fails only minutes later. The letters wait for it, their partitions unmarked.
 */
export function deadLetterSilence(topic: string): KafkaUnavailableError {
  return new KafkaUnavailableError(
    `dead-letter topic ${topic}: no answer from the brokers for ${DLQ_SILENCE_MS / 1000} s (a broker paused, hung or cut off by the network); the letters wait for it`,
  );
}
