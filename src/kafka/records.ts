// Kafka records as the broker counts them: the framing a batch and a record add around a key,
// value and headers, and how many headers a record may carry. The reader bounds what it holds by
// these, the dead-letter writer fits letters to a topic's max.message.bytes with them, and the
// replay cuts its requests by them.

/**
 * A record's headers in their order, as the client lists them (its `headerEntries`): a name may
 * come more than once, and the client's map would keep only one of them. Kafka allows a header
 * with a null name or value (the client gives undefined), whatever the client's types say: every
 * reader copes with one.
 */
export type RecordHeaders = readonly (readonly [Buffer | undefined, Buffer | undefined])[];

/** The most headers a record is read with: legitimate records carry a handful. */
export const MAX_HEADERS_PER_RECORD = 1_000;

/**
 * Kafka's default max.message.bytes (the broker's message.max.bytes): the limit assumed when the
 * topic's own could not be read. A broker that refuses a letter all the same gets a smaller one.
 */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 + 12;

/**
 * Bytes a record batch adds around its records (61 in Kafka's v2 format), with room to spare:
 * max.message.bytes bounds the whole batch, not the key and value.
 */
export const BATCH_OVERHEAD = 128;
/** A record's own framing, at most: length, attributes, timestamp and offset deltas, the key, value and header-count lengths (varints). */
export const RECORD_OVERHEAD = 64;
/** A header's framing, at most: the varint lengths of its name and value. */
export const HEADER_OVERHEAD = 10;

export interface Sized {
  key?: Buffer | undefined;
  value?: Buffer | undefined;
  /** A record's headers as consumed (RecordHeaders), or a letter's as sent (a map). */
  headers?: Iterable<readonly [Buffer | undefined, Buffer | undefined]> | undefined;
}

/** A message's size in a record batch, at most: key, value and headers with their framing. */
export const recordBytes = (m: Sized) => {
  let n = RECORD_OVERHEAD + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of m.headers ?? []) n += HEADER_OVERHEAD + (k?.length ?? 0) + (v?.length ?? 0);
  return n;
};
