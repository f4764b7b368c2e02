import { randomBytes } from "node:crypto";
import zlib from "node:zlib";
import { compressionsAlgorithmsByBitmask, createRecord, type MessageRecord, Reader } from "@platformatic/kafka";
import { xxh32 } from "./xxh32.ts";

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
// is read instead as one marker record per record it holds (at most MAX_MARKED_RECORDS), each
// dead-lettered `unreadable_batch`: its offsets end like any bad event's, and the partition moves
// on. A fetch response is parsed only until its batches have decompressed to
// MAX_DECOMPRESSED_PER_FETCH together; the rest is fetched again.

/** The most a compressed batch may decompress to: legitimate batches are a few MiB at most. */
export const MAX_DECOMPRESSED_BATCH_BYTES = 32 * 1024 * 1024;
/**
 * The most a fetch response's batches may decompress to together: past it, the client parses no
 * further batch of the response, and fetches the rest again from where it stopped. Values are
 * views of their batch's buffer, so without it a 1 MiB fetch of 900 such batches held 30 GB.
 */
export const MAX_DECOMPRESSED_PER_FETCH = 2 * MAX_DECOMPRESSED_BATCH_BYTES;
/**
 * The most records a compressed batch is read with: one claiming more is read as this many
 * markers (the client makes an object of every record, and a few bytes each, packed by the
 * thousand, would make gigabytes of them from a batch well under the byte bound).
 */
export const MAX_MARKED_RECORDS = 100_000;
/**
 * The most record headers a fetch response is read with (the client makes three objects of each:
 * 4,000,000 empty ones, a few KB of gzip, ran the heap out). Past it no further batch is parsed,
 * and a record that would pass it alone is read with a marker instead of its headers.
 */
export const MAX_HEADERS_AT_ONCE = 200_000;

/** A header key no producer can know: it marks the records that stand for an unreadable batch. */
const MARKER_KEY = Buffer.from(`analytics-service.unreadable-batch.${randomBytes(12).toString("hex")}`);

/** Why the batch a marker stands for could not be read, or undefined when `headers` are not a marker's. */
export function unreadableBatchReason(headers: ReadonlyMap<unknown, unknown> | undefined): string | undefined {
  if (headers === undefined || headers.size !== 1) return undefined;
  for (const [key, value] of headers) {
    if (Buffer.isBuffer(key) && Buffer.isBuffer(value) && key.equals(MARKER_KEY)) return value.toString();
  }
  return undefined;
}

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
/** The record count of the batch being read, when it claimed more than MAX_MARKED_RECORDS. */
let claimed: number | undefined;
/** Where a batch's record count lies from its start, and its attributes. */
const RECORDS_COUNT_AT = 57;
const ATTRIBUTES_AT = 21;

/**
 * What the batches parsed in this turn of the event loop (one fetch response: the client parses
 * it synchronously) decompressed to, and how many record headers they made.
 */
const thisTurn = { decompressed: 0, headers: 0, counting: false };
function counted(): typeof thisTurn {
  if (!thisTurn.counting) {
    thisTurn.counting = true;
    queueMicrotask(() => {
      thisTurn.decompressed = 0;
      thisTurn.headers = 0;
      thisTurn.counting = false;
    });
  }
  return thisTurn;
}
/** Whether this turn's batches have used up what a fetch may make: its remaining batches wait. */
const spent = () => thisTurn.decompressed >= MAX_DECOMPRESSED_PER_FETCH || thisTurn.headers >= MAX_HEADERS_AT_ONCE;

/** A marker as the client parses records: no key, no value, one header holding `reason`. */
function markerRecord(offsetDelta: number, reason: Buffer): Buffer {
  const message = { value: undefined, headers: new Map([[MARKER_KEY, reason]]), topic: "", timestamp: 0n };
  return createRecord(message as unknown as MessageRecord, offsetDelta, 0n).buffer;
}

/**
 * What every marker of a batch says, and where the markers of `count` records go: the last at
 * the batch's last offset, so committing them moves past all of it.
 */
function markersOf(batch: { firstOffset: bigint; lastOffsetDelta: number; count: number; why: string }) {
  const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
  return {
    reason: Buffer.from(`the record batch at offsets ${batch.firstOffset}–${last} can't be read: ${batch.why}`),
    offsetDeltas: Array.from({ length: batch.count }, (_, i) => batch.lastOffsetDelta - (batch.count - 1 - i)),
  };
}

/**
 * What the client reads in place of a batch that can't be read: one marker per record the batch
 * says it holds, the last at the batch's last offset, so committing them moves past all of it.
 * Throws (the fetch fails, as before) when the header is not a sane one to stand in for.
 */
export function markersFor(records: number, lastOffsetDelta: number, firstOffset: bigint, why: string): Buffer {
  if (records < 1 || records > MAX_MARKED_RECORDS || records > lastOffsetDelta + 1) {
    throw new UnreadableBatchError(
      `a record batch at offset ${firstOffset} can't be read (${why}), and its header claims ${records} records, which can't be stood in for`,
    );
  }
  const { reason, offsetDeltas } = markersOf({ firstOffset, lastOffsetDelta, count: records, why });
  return Buffer.concat(offsetDeltas.map((delta) => markerRecord(delta, reason)));
}

/** A batch that can be neither read nor stood in for. */
export class UnreadableBatchError extends Error {
  override name = "UnreadableBatchError";
}

/** The LZ4 frame's magic number, and the flags of what Kafka skips: content size and checksum, block checksums. */
const LZ4_MAGIC = 0x184d2204;
const KAFKA_SKIPS = 0x1c;

/**
 * An LZ4 frame read from its headers alone: an upper bound of what it decompresses to (its blocks
 * times their largest size), and the frame as Kafka reads it. Kafka checks the header checksum but
 * skips the content size, the content checksum and the blocks' checksums
 * (KafkaLZ4BlockInputStream); the client's decoder checks them all, and a bad input left its
 * WebAssembly instance broken for every later batch. A frame with none of them is kept as it is.
 */
export function readLz4Frame(frame: Buffer): { bound: number; asKafkaReads: Buffer } {
  if (frame.length < 7 || frame.readUInt32LE(0) !== LZ4_MAGIC) throw new Error("not an LZ4 frame");
  const flags = frame[4] as number;
  const blockMax = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20][((frame[5] as number) >> 4) & 7] as number;
  if (blockMax === 0) throw new Error("LZ4 frame with an unknown block size");
  const descriptorEnd = 6 + (flags & 0x08 ? 8 : 0) + (flags & 0x01 ? 4 : 0);
  /** Each block with its size, without its checksum; the last is the end mark. */
  const blocks: Buffer[] = [];
  for (let at = descriptorEnd + 1; at + 4 <= frame.length; ) {
    const size = frame.readUInt32LE(at) & 0x7fffffff;
    blocks.push(frame.subarray(at, at + 4 + size));
    if (size === 0) {
      const bound = (blocks.length - 1) * blockMax;
      if ((flags & KAFKA_SKIPS) === 0) return { bound, asKafkaReads: frame };
      const descriptor = Buffer.concat([
        Buffer.from([flags & ~KAFKA_SKIPS, frame[5] as number]),
        flags & 0x01 ? frame.subarray(descriptorEnd - 4, descriptorEnd) : Buffer.alloc(0),
      ]);
      const check = Buffer.from([(xxh32(descriptor) >>> 8) & 0xff]);
      return { bound, asKafkaReads: Buffer.concat([frame.subarray(0, 4), descriptor, check, ...blocks]) };
    }
    at += 4 + size + (flags & 0x10 ? 4 : 0);
  }
  throw new Error("LZ4 frame without its end mark");
}

/** What a snappy buffer (raw, or Kafka's xerial framing of raw chunks) says it decompresses to. */
export function snappyBound(data: Buffer): number {
  const rawLength = (at: number) => {
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = data[at++];
      if (b === undefined) throw new Error("snappy preamble cut short");
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
    throw new Error("snappy preamble too long");
  };
  if (data.length < 16 || data.readUInt32BE(0) !== 0x82534e41) return rawLength(0);
  let total = 0;
  for (let at = 16; at + 4 <= data.length; ) {
    const size = data.readUInt32BE(at);
    total += rawLength(at + 4);
    at += 4 + size;
  }
  return total;
}

type Decompress = (data: Buffer) => Buffer;

/** Each codec's decompression, bounded by `max` bytes; throws past it or on bytes it can't read. */
export function boundedDecompressors(original: Record<number, Decompress>, max: number): Record<number, Decompress> {
  const checked = (bound: number, codec: string) => {
    if (bound > max) throw new Error(`${codec} batch decompresses to more than ${max} bytes`);
  };
  return {
    1: (data) => zlib.gunzipSync(data, { maxOutputLength: max }),
    2: (data) => {
      checked(snappyBound(data), "snappy");
      return (original[2] as Decompress)(data);
    },
    3: (data) => {
      const frame = readLz4Frame(data);
      checked(frame.bound, "LZ4");
      return (original[3] as Decompress)(frame.asKafkaReads);
    },
    4: (data) => zlib.zstdDecompressSync(data, { maxOutputLength: max }),
  };
}

/** A short reason, without the decoder's own words where those could quote the data. */
function describe(codec: string, err: unknown): string {
  if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
    return `${codec} batch decompresses to more than ${MAX_DECOMPRESSED_BATCH_BYTES} bytes`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith(codec) ? message : `${codec} data does not decompress (${message.slice(0, 80)})`;
}

let installed = false;

/**
 * Puts the rules above into the client, once per process. Affects every consumer of the process
 * (the service's and the dead-letter reader's): all read batches the same way.
 */
export function installBatchFraming(): void {
  if (installed) return;
  installed = true;
  type Self = { position: number; buffer: { readInt16BE(at: number): number } };
  const reader = Reader.prototype as unknown as {
    readVarIntBytes(this: {
      readVarInt(): number;
      buffer: { slice(a: number, b: number): Buffer };
      position: number;
    }): Buffer | null;
    readInt32(this: Self, ...args: unknown[]): number;
    readInt64(this: Self, ...args: unknown[]): bigint;
    peekInt32(this: Self, ...args: unknown[]): number;
    readVarIntArray(this: Self & { readVarInt(): number }, ...args: unknown[]): unknown[];
  };
  // Kafka: any negative length is null (DefaultRecord.readFrom).
  reader.readVarIntBytes = function readVarIntBytes() {
    const length = this.readVarInt();
    if (length < 0) return null;
    const value = this.buffer.slice(this.position, this.position + length);
    this.position += length;
    return value;
  };
  const readInt32 = reader.readInt32;
  reader.readInt32 = function (this: Self, ...args: unknown[]) {
    const at = this.position;
    let n = readInt32.apply(this, args);
    const [batchReader, start] = lastInt64At[0] as [unknown, number];
    // A compressed batch's record count, read right before its records are decompressed.
    if (batchReader === this && at === start + RECORDS_COUNT_AT && n > MAX_MARKED_RECORDS) {
      if ((this.buffer.readInt16BE(start + ATTRIBUTES_AT) & 0x07) !== 0) {
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
  // The client reads a batch's length with it before it parses the batch: a response past its
  // budget of decompressed bytes ends there, and its remaining batches are fetched again later.
  const peekInt32 = reader.peekInt32;
  reader.peekInt32 = function (this: Self, ...args: unknown[]) {
    return spent() ? 0x7fffffff : peekInt32.apply(this, args);
  };
  // Only records' headers are read with it. A record whose headers would pass what a fetch may
  // make is read with one marker header instead, its value kept: its headers are skipped unmade.
  const readVarIntArray = reader.readVarIntArray;
  reader.readVarIntArray = function (this: Self & { readVarInt(): number }, ...args: unknown[]) {
    const at = this.position;
    const length = this.readVarInt();
    if (length <= 0 || counted().headers + length <= MAX_HEADERS_AT_ONCE) {
      this.position = at;
      thisTurn.headers += Math.max(0, length);
      return readVarIntArray.apply(this, args);
    }
    for (let i = 0; i < 2 * length; i++) {
      const bytes = this.readVarInt();
      if (bytes > 0) this.position += bytes;
    }
    const why = `it holds ${length} headers, more than the ${MAX_HEADERS_AT_ONCE} a fetch is read with`;
    return [[MARKER_KEY, Buffer.from(`a record of the batch at offset ${lastInt64[0]} can't be read: ${why}`)]];
  };
  const codecs = compressionsAlgorithmsByBitmask as unknown as Record<number, { decompressSync: Decompress }>;
  const original: Record<number, Decompress> = {};
  for (const bitmask of [1, 2, 3, 4]) {
    const codec = codecs[bitmask];
    if (codec) original[bitmask] = codec.decompressSync.bind(codec);
  }
  const bounded = boundedDecompressors(original, MAX_DECOMPRESSED_BATCH_BYTES);
  const names: Record<number, string> = { 1: "gzip", 2: "snappy", 3: "LZ4", 4: "zstd" };
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
        const why = `it holds ${more} records, more than the ${MAX_MARKED_RECORDS} a compressed batch is read with`;
        return markersFor(records, lastOffsetDelta, firstOffset, why);
      }
      try {
        const out = decompress(data);
        counted().decompressed += out.length;
        return out;
      } catch (err) {
        return markersFor(records, lastOffsetDelta, firstOffset, describe(names[bitmask] as string, err));
      }
    };
  }
}

/** What the offsets check reads and rewrites of a batch. */
export interface CheckedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  records: { offsetDelta: number; [field: string]: unknown }[];
}

/**
 * Every record of a batch must lie within the batch's own offsets, in order: the offsets
 * committed after it must never pass the batch's end. A batch whose records do not is replaced,
 * in place, by markers (decoding was not Kafka's, and what it read can't be trusted).
 */
export function checkRecordOffsets(batch: CheckedBatch): void {
  let previous = -1;
  let sound = batch.records.length <= batch.lastOffsetDelta + 1;
  for (const r of batch.records) {
    if (!sound) break;
    sound = Number.isInteger(r.offsetDelta) && r.offsetDelta > previous && r.offsetDelta <= batch.lastOffsetDelta;
    previous = r.offsetDelta;
  }
  if (sound) return;
  const { reason, offsetDeltas } = markersOf({
    ...batch,
    count: Math.min(batch.records.length, batch.lastOffsetDelta + 1),
    why: "its records lie outside its offsets",
  });
  batch.records = offsetDeltas.map((offsetDelta) => ({
    length: 0,
    attributes: 0,
    timestampDelta: 0n,
    offsetDelta,
    key: null,
    value: null,
    headers: [[MARKER_KEY, reason]],
  }));
}
