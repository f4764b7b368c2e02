import { ProduceAcks, Producer } from "@platformatic/kafka";
import type { BadEventError } from "../errors.ts";
import { kafkaBaseOptions } from "./options.ts";

// A dead letter keeps the original key and value and says, in headers, where it came from and
// why it could not be applied. The reason names a field, never a value, so no secret that the
// value carries is repeated in the text operators read.

export const DLQ_HEADERS = {
  topic: "dlq.source.topic",
  partition: "dlq.source.partition",
  offset: "dlq.source.offset",
  code: "dlq.error.code",
  reason: "dlq.error.reason",
  eventType: "dlq.event.type",
  failedAt: "dlq.failed_at",
} as const;

/** The copy of an oversized value keeps this many bytes. */
export const TRUNCATED_COPY_BYTES = 64 * 1024;

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | null | undefined;
  value: Buffer | null | undefined;
  headers: Map<Buffer, Buffer> | undefined;
  eventType: string | undefined;
  error: BadEventError;
}

export function toDlqMessage(dlqTopic: string, d: DeadLetter, now = new Date()) {
  const headers = new Map<Buffer, Buffer>(d.headers ?? []);
  const set = (name: string, value: string) => headers.set(Buffer.from(name), Buffer.from(value));
  set(DLQ_HEADERS.topic, d.topic);
  set(DLQ_HEADERS.partition, String(d.partition));
  set(DLQ_HEADERS.offset, String(d.offset));
  let value = d.value ?? undefined;
  let reason = d.error.message;
  if (value && d.error.reason === "too_large" && value.length > TRUNCATED_COPY_BYTES) {
    value = value.subarray(0, TRUNCATED_COPY_BYTES);
    reason += `; this copy keeps only its first ${TRUNCATED_COPY_BYTES} bytes`;
  }
  set(DLQ_HEADERS.code, d.error.reason);
  set(DLQ_HEADERS.reason, reason);
  if (d.eventType) set(DLQ_HEADERS.eventType, d.eventType);
  set(DLQ_HEADERS.failedAt, now.toISOString());
  return { topic: dlqTopic, key: d.key ?? undefined, value: value ?? Buffer.alloc(0), headers };
}

/**
 * The producer for dead letters and their replays: acknowledged by all in-sync replicas, and
 * idempotent, so a retried request does not write its messages twice.
 */
export function reliableProducer(config: Parameters<typeof kafkaBaseOptions>[0], clientSuffix: string): Producer {
  return new Producer({
    ...kafkaBaseOptions(config, clientSuffix),
    acks: ProduceAcks.ALL,
    idempotent: true,
    retries: 5,
    retryDelay: 500,
  });
}

/**
 * Bytes of messages per produce request. The messages of one partition in a request travel as one
 * record batch, which the broker refuses above `message.max.bytes` (1 MiB by default): a batch of
 * events with many large poison ones must not become a request the broker can never accept.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;

interface Sized {
  key?: Buffer | undefined;
  value?: Buffer | undefined;
  headers?: Map<Buffer, Buffer> | undefined;
}

const sizeOf = (m: Sized) => {
  let n = (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of m.headers ?? []) n += k.length + v.length;
  return n;
};

/** `messages` in order, cut where the next would take a request over `maxBytes` (a larger one goes alone). */
export function chunkByBytes<T extends Sized>(messages: readonly T[], maxBytes = MAX_REQUEST_BYTES): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = sizeOf(m);
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Sends `messages` in requests of at most MAX_REQUEST_BYTES, one after the other, each acknowledged by all in-sync replicas. */
export async function sendAll<T extends Sized & { topic: string }>(producer: Producer, messages: readonly T[]) {
  for (const chunk of chunkByBytes(messages)) await producer.send({ messages: chunk, acks: ProduceAcks.ALL });
}

/** Writes dead letters with acknowledgement from all in-sync replicas before offsets move on. */
export async function sendDeadLetters(producer: Producer, dlqTopic: string, letters: DeadLetter[]): Promise<void> {
  await sendAll(
    producer,
    letters.map((d) => toDlqMessage(dlqTopic, d)),
  );
}
