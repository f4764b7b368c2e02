import { compressionsAlgorithmsByBitmask, Reader } from "@platformatic/kafka";
import { isMarkerHeader, MAX_MARKED_RECORDS, markersFor } from "./batch-markers.ts";
import { boundedDecompressors, CODEC_NAMES, type Decompress, whyNotDecompressed } from "./decompression.ts";
import { counted, heldBack, spent, startingBatch, takeRecords } from "./fetch-budget.ts";
import { boundHeaderReads } from "./record-headers.ts";

// Record batches read as Kafka reads them, where @platformatic/kafka 2.12.1 (pinned) reads them
// otherwise. The broker accepts a batch only if it parses as the Java client parses it, so what
// follows came from a producer, on purpose or not (docs/guarantees.md#hostile-input):
//
// - A key, value or header value of negative length other than -1. Kafka reads it as null; the
//   client moved its read position back by that much and read records out of the value's bytes,
//   at offsets of the producer's choosing: committed, they skipped other producers' events.
// - A compressed batch that decompresses to gigabytes (zstd packs 31,000 to one), decompressed
//   whole before any of the service's limits apply: a crash, and the same again on restart.
// - A compressed batch the client's decoders refuse and Kafka reads (an LZ4 content checksum or
//   size Kafka never checks, bytes after a gzip stream): the whole fetch failed, every partition
//   with it, again at each reading: the service waited on "Kafka" for ever.
//
// A compressed batch that can't be read, or would decompress past MAX_DECOMPRESSED_BATCH_BYTES,
// is read instead as one marker record per record it holds (at most MAX_MARKED_RECORDS,
// batch-markers.ts), each dead-lettered `unreadable_batch`: its offsets end like any bad event's,
// and the partition moves on. So is any batch of more than MAX_MARKED_RECORDS records, compressed
// or not: an uncompressed one of 450,000 records of a few bytes (4 MB, on a topic whose
// max.message.bytes allows MAX_MESSAGE_BYTES's 4 MiB) made the client build every record at
// once and ran the 256 MB heap out, at every restart. A fetch response's batches are parsed only until they have decompressed to
// MAX_DECOMPRESSED_PER_FETCH together or made MAX_HEADERS_PER_FETCH headers, each partition's first
// to twice that (fetch-budget.ts); the rest is fetched again. How many of a record's headers are made: record-headers.ts.

/** The most a compressed batch may decompress to: legitimate batches are a few MiB at most. */
export const MAX_DECOMPRESSED_BATCH_BYTES = 32 * 1024 * 1024;
/**
 * The batch header values the client read last, for the decompressor it calls right after: the
 * client reads a batch's header with readInt32/readInt64 and then decompresses, and passes the
 * decompressor only the compressed bytes.
 */
const lastInt32: number[] = [0, 0, 0];
const lastInt64: bigint[] = [0n, 0n, 0n, 0n];
/** Which reader read each of those int64s, and where: the first is the batch's start. */
const lastInt64At: [unknown, number][] = [
  [null, 0],
  [null, 0],
  [null, 0],
  [null, 0],
];
/**
 * A codec's bits, given to the attributes of an uncompressed batch of more than MAX_MARKED_RECORDS
 * records: the client then hands its records' bytes to that codec's decompressor, which, with
 * `claimed` set, makes the markers instead, and moves past the batch.
 */
const STAND_IN_CODEC = 1;
/** Whether the batch whose attributes were read last is uncompressed and read as STAND_IN_CODEC's (until its record count is read). */
let standingIn = false;
/** The record count of the batch being read, when it claimed more than MAX_MARKED_RECORDS. */
let claimed: number | undefined;
/** Where a batch's record count lies from its start, and its attributes. */
const RECORDS_COUNT_AT = 57;
const ATTRIBUTES_AT = 21;
/** Where a batch's length lies from its start. */
const BATCH_LENGTH_AT = 8;

let installed = false;

/**
 * Puts the rules above into the client, once per process. Affects every consumer of the process
 * (the service's and the dead-letter reader's): all read batches the same way.
 */
export function installBatchFraming(): void {
  if (installed) return;
  installed = true;
  patchReader();
  patchDecompressors();
}

type Self = {
  position: number;
  length: number;
  buffer: {
    readInt16BE(at: number): number;
    readInt32BE(at: number): number;
    slice(a: number, b: number): Buffer;
  };
};

/** The client's Reader, as far as the rules above replace or watch its methods. */
type ReaderMethods = {
  readVarIntBytes(this: {
    readVarInt(): number;
    buffer: { slice(a: number, b: number): Buffer };
    position: number;
  }): Buffer | null;
  readInt16(this: Self, ...args: unknown[]): number;
  readInt32(this: Self, ...args: unknown[]): number;
  readInt64(this: Self, ...args: unknown[]): bigint;
  peekInt32(this: Self, ...args: unknown[]): number;
  readVarIntArray(this: Self & { readVarInt(): number }, ...args: unknown[]): unknown[];
};

function patchReader(): void {
  const reader = Reader.prototype as unknown as ReaderMethods;
  // Kafka: any negative length is null (DefaultRecord.readFrom).
  reader.readVarIntBytes = function readVarIntBytes() {
    const length = this.readVarInt();
    if (length < 0) return null;
    const value = this.buffer.slice(this.position, this.position + length);
    this.position += length;
    return value;
  };
  watchBatchHeaders(reader);
  // The client peeks at a batch's length, past its first offset, before it parses the batch, each
  // partition's batches with a reader of their own: a partition past the response's budget
  // (fetch-budget.ts) ends there, and its remaining batches are fetched again later. Every other
  // peek (readInt32 peeks at its own position) reads as it did: the response's later partitions
  // are read whole.
  const peekInt32 = reader.peekInt32;
  reader.peekInt32 = function (this: Self, ...args: unknown[]) {
    if (args[0] !== this.position + BATCH_LENGTH_AT) return peekInt32.apply(this, args);
    const first = this.position === 0;
    startingBatch(first);
    if (spent()) return waits(first);
    const length = peekInt32.apply(this, args) as number;
    // A batch read whole counts its records (a compressed one's at most MAX_MARKED_RECORDS) before they are made.
    const remaining = this.length - this.position;
    if (remaining >= RECORDS_COUNT_AT + 4 && length <= remaining - BATCH_LENGTH_AT - 4) {
      const records = this.buffer.readInt32BE(this.position + RECORDS_COUNT_AT);
      if (!takeRecords(Math.max(0, Math.min(records, MAX_MARKED_RECORDS)))) return waits(first);
    }
    return length;
  };
  // A marker's one header is always made: left unread, the record it stands for would be skipped
  // as a null value instead of dead-lettered.
  boundHeaderReads(reader, isMarkerHeader);
}

/** A length past the end of any response: the client stops reading the partition's batches there. */
function waits(firstOfPartition: boolean): number {
  heldBack(firstOfPartition);
  return 0x7fffffff;
}

/** Keeps the batch header values the client reads last, and clamps a batch's record count. */
function watchBatchHeaders(reader: ReaderMethods): void {
  const readInt16 = reader.readInt16;
  reader.readInt16 = function (this: Self, ...args: unknown[]) {
    const at = this.position;
    const n = readInt16.apply(this, args);
    // A batch's attributes, read right after its first offset (the last int64 read): an
    // uncompressed batch of too many records is read as if compressed, so as markers.
    const [batchReader, start] = lastInt64At[3] as [unknown, number];
    if (batchReader !== this || at !== start + ATTRIBUTES_AT) return n;
    standingIn = (n & 0x07) === 0 && this.buffer.readInt32BE(start + RECORDS_COUNT_AT) > MAX_MARKED_RECORDS;
    return standingIn ? n | STAND_IN_CODEC : n;
  };
  const readInt32 = reader.readInt32;
  reader.readInt32 = function (this: Self, ...args: unknown[]) {
    const at = this.position;
    let n = readInt32.apply(this, args);
    const [batchReader, start] = lastInt64At[0] as [unknown, number];
    // A batch's record count, read right before its records are decompressed (an uncompressed
    // one of more than MAX_MARKED_RECORDS is read as compressed: readInt16 above).
    if (batchReader === this && at === start + RECORDS_COUNT_AT) {
      const compressed = standingIn || (this.buffer.readInt16BE(start + ATTRIBUTES_AT) & 0x07) !== 0;
      standingIn = false;
      if (compressed && n > MAX_MARKED_RECORDS) {
        claimed = n;
        n = MAX_MARKED_RECORDS;
      }
    }
    lastInt32.shift();
    lastInt32.push(n);
    return n;
  };
  const readInt64 = reader.readInt64;
  reader.readInt64 = function (this: Self, ...args: unknown[]) {
    // A new batch's header (or anything else) is read: a count clamped for the last one is spent.
    claimed = undefined;
    lastInt64At.shift();
    lastInt64At.push([this, this.position]);
    const n = readInt64.apply(this, args);
    lastInt64.shift();
    lastInt64.push(n);
    return n;
  };
}

/** Each codec bounded (decompression.ts); a batch it can't read becomes markers. */
function patchDecompressors(): void {
  const codecs = compressionsAlgorithmsByBitmask as unknown as Record<number, { decompressSync: Decompress }>;
  const original: Record<number, Decompress> = {};
  for (const bitmask of [1, 2, 3, 4]) {
    const codec = codecs[bitmask];
    if (codec) original[bitmask] = codec.decompressSync.bind(codec);
  }
  // A batch's cost beyond its output (each of several zstd frames: decompression.ts) counts against the fetch's budget too.
  const bounded = boundedDecompressors(original, MAX_DECOMPRESSED_BATCH_BYTES, (bytes) => {
    counted().decompressed += bytes;
  });
  for (const bitmask of [1, 2, 3, 4]) {
    const codec = codecs[bitmask];
    const decompress = bounded[bitmask];
    if (!codec || !decompress) continue;
    codec.decompressSync = (data: Buffer) => {
      // The header just read: [lastOffsetDelta, firstSequence, records] and [firstOffset, …].
      const [lastOffsetDelta, , records] = lastInt32 as [number, number, number];
      const firstOffset = lastInt64[0] as bigint;
      const more = claimed;
      claimed = undefined;
      if (more !== undefined) {
        const why = `it holds ${more} records, more than the ${MAX_MARKED_RECORDS} a batch is read with`;
        return markersFor(records, lastOffsetDelta, firstOffset, why);
      }
      try {
        const out = decompress(data);
        counted().decompressed += out.length;
        return out;
      } catch (err) {
        const why = whyNotDecompressed(CODEC_NAMES[bitmask] as string, err, MAX_DECOMPRESSED_BATCH_BYTES);
        return markersFor(records, lastOffsetDelta, firstOffset, why);
      }
    };
  }
}
