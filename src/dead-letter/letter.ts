import type { BadEventError } from "../errors.ts";
import {
  BATCH_OVERHEAD,
  HEADER_OVERHEAD,
  KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
  MAX_HEADERS_PER_RECORD,
  RECORD_OVERHEAD,
  type RecordHeaders,
} from "../kafka/records.ts";
import { isMarkerKey } from "../read/client-fixes/batch-markers.ts";
import { capUtf8 } from "./utf8-cut.ts";

// A dead letter keeps the original key and value and says, in headers, where it came from and
// why it could not be applied. The reason names a field, never a value, so no secret that the
// value carries is repeated in the text operators read. This module owns the letter's format both
// ways: toDlqMessage writes it, decodeLetter reads it (for `dlq list` and `dlq replay`).
//
// Every letter fits the dead-letter topic (docs/guarantees.md): a letter the topic refuses would
// be retried as a Kafka outage forever and block its partition. So the letter is built to fit the
// topic's max.message.bytes (read at start), its copy of the value cut where it must be; a letter
// the broker still refuses for its size is built again smaller (publish.ts).

export const DLQ_HEADERS = {
  topic: "dlq.source.topic",
  partition: "dlq.source.partition",
  offset: "dlq.source.offset",
  /**
   * The source record's timestamp (ms since the epoch), which replay gives the event back: the
   * clock-skew rule judges an event against its record's time, and judged against the time of a
   * replay, an event stamped ahead would pass and outrank the real events that came since.
   */
  timestamp: "dlq.source.timestamp",
  code: "dlq.error.code",
  reason: "dlq.error.reason",
  eventType: "dlq.event.type",
  failedAt: "dlq.failed_at",
  /**
   * "true" when the letter's value is only the first bytes of the original (possibly none). Set
   * only on such letters: absent, the value is the whole original, which is what replay needs.
   */
  valueTruncated: "dlq.value.truncated",
  /** The original value's size in bytes; only on truncated letters (otherwise it is the value's own size). */
  valueOriginalBytes: "dlq.value.original_bytes",
  /**
   * How many original headers were left out: when the topic's limit is smaller than they are (the
   * value is then truncated too), or when they and the letter's own would pass the 1,000 headers a
   * record is read with (the value is then whole).
   */
  headersDropped: "dlq.headers.dropped",
  /**
   * How many headers the source record had, when the service left them unread (more than 1,000, or
   * past what one fetch is read with): the letter carries none of them, and its value is whole.
   */
  headersUnread: "dlq.headers.unread",
  /** "true" when even the key alone did not fit and the letter keeps only its first bytes. */
  keyTruncated: "dlq.key.truncated",
} as const;

/**
 * The copy of an oversized (too_large) value keeps at most this many bytes, however large the
 * topic's limit: the value is over MAX_MESSAGE_BYTES, so the copy is there to recognise it, and
 * a megabyte per letter would only fill the topic.
 */
export const TRUNCATED_COPY_BYTES = 64 * 1024;

/**
 * Caps of the dlq.* texts that come from the event or from code (an envelope's event type, an
 * unexpected error's message): they keep the letter's floor small and the reason short.
 */
const REASON_MAX_BYTES = 512;
const EVENT_TYPE_MAX_BYTES = 128;

/**
 * The smallest max.message.bytes the service accepts for its dead-letter topic: room for the
 * dlq.* headers at their largest (about 1.5 KB with a 249-character topic name), and a key.
 * Below it a letter could be refused whatever is cut, which is checked at start.
 */
export const MIN_DEAD_LETTER_BYTES = 4096;

/** A consumed record, as much of it as a letter keeps. */
export interface SourceMessage {
  topic: string;
  partition: number;
  offset: bigint;
  /** The record's timestamp (ms); a negative one is Kafka's "none". */
  timestamp?: bigint | undefined;
  key: Buffer | null | undefined;
  value: Buffer | null | undefined;
  headers: RecordHeaders | undefined;
  /** How many headers the record had, when they were left unread (src/read/client-fixes/record-headers.ts). */
  headersUnread?: number | undefined;
}

export interface DeadLetter extends SourceMessage {
  eventType: string | undefined;
  error: BadEventError;
}

export interface DlqMessage {
  topic: string;
  /**
   * The source partition: the client keeps it in the topic's range (modulo its partition count).
   * Without it the client hashes the key, at a cost that grows faster than the key's length, so a
   * crafted key could hold the event loop for as long as its sender likes.
   */
  partition: number;
  key: Buffer | undefined;
  value: Buffer;
  headers: Map<Buffer, Buffer>;
}

type Header = [Buffer, Buffer];
const header = (name: string, value: string): Header => [Buffer.from(name), Buffer.from(value)];
const headersBytes = (headers: readonly Header[]) =>
  headers.reduce((n, [k, v]) => n + HEADER_OVERHEAD + k.length + v.length, 0);

const EMPTY = Buffer.alloc(0);

/**
 * A header's name as a key of the map the Kafka client sends headers from: a Buffer of its own,
 * so that two headers of one name (the client reads every empty one as the same Buffer) stay two.
 */
const ownName = (name: Buffer | undefined): Buffer => Buffer.from(name ?? EMPTY);

/**
 * The record's own headers, as a letter can carry them: a header whose key or value is null
 * (Kafka allows it; the client gives undefined) is kept with an empty one, and a header named
 * like the letter's own (`dlq.`) is left out, so no upstream header can pass for one of them. The
 * header of a marker (a record standing for a batch that can't be read) is the service's, not
 * the record's: its name must stay unknown to producers (batch-markers.ts), and is left out too.
 */
function originalHeaders(headers: RecordHeaders | undefined): Header[] {
  const out: Header[] = [];
  for (const [k, v] of headers ?? []) {
    const name = ownName(k);
    if (name.subarray(0, 4).toString() === "dlq." || isMarkerKey(name)) continue;
    out.push([name, v ?? EMPTY]);
  }
  return out;
}

/**
 * The message for dead letter `d`, at most `maxBytes` as a record batch of its own (the dead-letter
 * topic's max.message.bytes). What gives way, in order, when the letter would not fit:
 * 1. the copy of the value is cut to what fits (and a too_large value always to at most
 *    TRUNCATED_COPY_BYTES), said by dlq.value.truncated and dlq.value.original_bytes;
 * 2. when the key and headers alone leave no room, the original headers are left out
 *    (dlq.headers.dropped = their count) and the copy is empty;
 * 3. when the key alone leaves no room, it is cut too (dlq.key.truncated).
 * A letter cut at 2 or 3 is marked truncated like any other, so replay, which skips truncated
 * letters, never sends an event without its headers or key. Below MIN_DEAD_LETTER_BYTES even 3
 * may not fit; the start refuses such a topic.
 */
export function toDlqMessage(
  dlqTopic: string,
  d: DeadLetter,
  now = new Date(),
  maxBytes = KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
): DlqMessage {
  let original = originalHeaders(d.headers);
  const dlq: Header[] = [
    header(DLQ_HEADERS.topic, d.topic),
    header(DLQ_HEADERS.partition, String(d.partition)),
    header(DLQ_HEADERS.offset, String(d.offset)),
    ...(d.timestamp !== undefined && d.timestamp >= 0n ? [header(DLQ_HEADERS.timestamp, String(d.timestamp))] : []),
    header(DLQ_HEADERS.code, d.error.reason),
    header(DLQ_HEADERS.reason, capUtf8(d.error.message, REASON_MAX_BYTES)),
  ];
  if (d.eventType) dlq.push(header(DLQ_HEADERS.eventType, capUtf8(d.eventType, EVENT_TYPE_MAX_BYTES)));
  if (d.headersUnread !== undefined) dlq.push(header(DLQ_HEADERS.headersUnread, String(d.headersUnread)));
  dlq.push(header(DLQ_HEADERS.failedAt, now.toISOString()));
  // A letter is read back (dlq list, replay) as any record is: past MAX_HEADERS_PER_RECORD headers
  // none would be read, its own among them. Room is left for the four it may still take below.
  if (original.length + dlq.length + 4 > MAX_HEADERS_PER_RECORD) {
    dlq.push(header(DLQ_HEADERS.headersDropped, String(original.length)));
    original = [];
  }
  let key = d.key ?? undefined;
  const value = d.value ?? Buffer.alloc(0);
  const message = (headers: Header[], v: Buffer): DlqMessage => ({
    topic: dlqTopic,
    partition: d.partition,
    key,
    value: v,
    headers: new Map(headers),
  });

  // What the one record may take of the batch, and what the key and headers take of that.
  const room = maxBytes - BATCH_OVERHEAD;
  const fixed = (headers: Header[]) => RECORD_OVERHEAD + (key?.length ?? 0) + headersBytes(headers);
  const cap = d.error.reason === "too_large" ? TRUNCATED_COPY_BYTES : Number.POSITIVE_INFINITY;
  if (value.length <= cap && fixed([...original, ...dlq]) + value.length <= room) {
    return message([...original, ...dlq], value);
  }

  dlq.push(header(DLQ_HEADERS.valueTruncated, "true"), header(DLQ_HEADERS.valueOriginalBytes, String(value.length)));
  const free = room - fixed([...original, ...dlq]);
  if (free >= 0) return message([...original, ...dlq], value.subarray(0, Math.min(cap, free)));

  if (original.length > 0) dlq.push(header(DLQ_HEADERS.headersDropped, String(original.length)));
  if (key && fixed(dlq) > room) {
    dlq.push(header(DLQ_HEADERS.keyTruncated, "true"));
    key = key.subarray(0, Math.max(0, key.length - (fixed(dlq) - room)));
  }
  return message(dlq, Buffer.alloc(0));
}

/** One message of the dead-letter topic, its headers decoded. */
export interface DeadLetterEntry {
  /** Where the letter itself sits in the dead-letter topic. */
  dlqPartition: number;
  dlqOffset: bigint;
  failedAt: string | null;
  sourceTopic: string | null;
  sourcePartition: number | null;
  sourceOffset: bigint | null;
  /** The source record's timestamp (ms), for replay; null on letters written before it was kept. */
  sourceTimestamp: bigint | null;
  eventType: string | null;
  code: string | null;
  reason: string | null;
  key: Buffer | null;
  /** The key is only the first bytes of the original's: cut by the writer to fit (dlq.key.truncated), or by the list. */
  keyTruncated: boolean;
  value: Buffer | null;
  /** The value's size, kept when the value itself is let go (list). */
  valueBytes: number;
  /** The value is only the first bytes of the original: it can't be replayed. */
  truncated: boolean;
  /** The original value's size: dlq.value.original_bytes on a truncated letter, else the value's; null when unknown. */
  originalBytes: number | null;
  /** The original message's headers: every header but the dlq.* ones. */
  originalHeaders: [Buffer, Buffer][];
}

export interface RawMessage {
  partition: number;
  offset: bigint;
  key: Buffer | null | undefined;
  value: Buffer | null | undefined;
  headers: RecordHeaders | undefined;
}

/**
 * Letters written before dlq.value.truncated existed said truncation only in the reason's last
 * words, on a too_large letter of exactly 64 KiB. Still recognised, so a topic that holds such
 * letters is not replayed as if their 64 KiB were the whole event.
 */
const legacyTruncated = (code: string | undefined, reason: string | undefined, valueBytes: number) =>
  code === "too_large" &&
  valueBytes === TRUNCATED_COPY_BYTES &&
  (reason ?? "").endsWith(`; this copy keeps only its first ${TRUNCATED_COPY_BYTES} bytes`);

/**
 * Kafka's offsets and timestamps are int64. A letter from another writer may say more (or a
 * megabyte of digits): taken as given, its timestamp made the replay's producer throw, which
 * stopped every replay there, said as Kafka not answering.
 */
const INT64_MAX = 2n ** 63n - 1n;

export function decodeLetter(m: RawMessage): DeadLetterEntry {
  const dlq = new Map<string, string>();
  const originalHeaders: [Buffer, Buffer][] = [];
  for (const [k, v] of m.headers ?? []) {
    const name = (k ?? EMPTY).toString();
    if (name.startsWith("dlq.")) dlq.set(name, (v ?? EMPTY).toString());
    else originalHeaders.push([ownName(k), v ?? EMPTY]);
  }
  const integer = (text: string | undefined) =>
    text !== undefined && /^\d{1,19}$/.test(text) && BigInt(text) <= INT64_MAX ? text : undefined;
  const partition = integer(dlq.get(DLQ_HEADERS.partition));
  const offset = integer(dlq.get(DLQ_HEADERS.offset));
  const timestamp = integer(dlq.get(DLQ_HEADERS.timestamp));
  const valueBytes = m.value?.length ?? 0;
  const code = dlq.get(DLQ_HEADERS.code);
  const reason = dlq.get(DLQ_HEADERS.reason);
  const marked = dlq.get(DLQ_HEADERS.valueTruncated) === "true";
  const truncated = marked || legacyTruncated(code, reason, valueBytes);
  const original = integer(dlq.get(DLQ_HEADERS.valueOriginalBytes));
  return {
    dlqPartition: m.partition,
    dlqOffset: m.offset,
    failedAt: dlq.get(DLQ_HEADERS.failedAt) ?? null,
    sourceTopic: dlq.get(DLQ_HEADERS.topic) || null,
    sourcePartition: partition === undefined ? null : Number(partition),
    sourceOffset: offset === undefined ? null : BigInt(offset),
    sourceTimestamp: timestamp === undefined ? null : BigInt(timestamp),
    eventType: dlq.get(DLQ_HEADERS.eventType) ?? null,
    code: code ?? null,
    reason: reason ?? null,
    key: m.key ?? null,
    keyTruncated: dlq.get(DLQ_HEADERS.keyTruncated) === "true",
    value: m.value ?? null,
    valueBytes,
    truncated,
    originalBytes: !truncated ? valueBytes : original === undefined ? null : Number(original),
    originalHeaders,
  };
}
