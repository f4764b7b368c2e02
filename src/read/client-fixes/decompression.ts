import zlib from "node:zlib";
import { xxh32 } from "./xxh32.ts";

// Each codec's decompression, bounded before it runs: a compressed batch may claim to hold
// gigabytes (zstd packs 31,000 to one), and the client decompresses a batch whole before any of
// the service's limits apply. Also what Kafka reads of an LZ4 frame and the client's decoder
// would refuse. batch-framing.ts puts these into the client.

/** A refusal by the checks here: its words quote none of the batch's bytes (whyNotDecompressed says it as it is). */
export class RefusedBatch extends Error {}

/** The LZ4 frame's magic number, and the flags of what Kafka skips: content size and checksum, block checksums. */
const LZ4_MAGIC = 0x184d2204;
const KAFKA_SKIPS = 0x1c;

/**
 * An LZ4 frame read from its headers alone: an upper bound of what it decompresses to (its blocks
 * times their largest size), and the frame as Kafka reads it. Kafka checks the header checksum but
 * skips the content size, the content checksum and the blocks' checksums
 * (KafkaLZ4BlockInputStream); the client's decoder checks them all, and a bad input left its
 * WebAssembly instance broken for every later batch. A frame with none of them is kept as it is.
 * Throws as soon as its blocks pass `max` bytes: the walk stops there (blocks of a byte each, 5
 * bytes on the wire, which the broker takes, held the event loop 0.8 to 1.4 s to walk from one
 * batch of 4 MiB before it was refused for its bound).
 */
export function readLz4Frame(frame: Buffer, max = Number.POSITIVE_INFINITY): { bound: number; asKafkaReads: Buffer } {
  if (frame.length < 7 || frame.readUInt32LE(0) !== LZ4_MAGIC) throw new RefusedBatch("LZ4 data is not an LZ4 frame");
  const flags = frame[4] as number;
  const blockMax = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20][((frame[5] as number) >> 4) & 7] as number;
  if (blockMax === 0) throw new RefusedBatch("LZ4 frame with an unknown block size");
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
    if (blocks.length * blockMax > max) throw new RefusedBatch(`LZ4 batch decompresses to more than ${max} bytes`);
    at += 4 + size + (flags & 0x10 ? 4 : 0);
  }
  throw new RefusedBatch("LZ4 frame without its end mark");
}

/** What a snappy buffer (raw, or Kafka's xerial framing of raw chunks) says it decompresses to. */
export function snappyBound(data: Buffer): number {
  return snappyCount(data).bound;
}

/** The first four bytes of Kafka's xerial framing of snappy, read as a chunk's length. */
const XERIAL_HEAD = 0x82534e41;
const XERIAL_HEADER_BYTES = 16;
/** The bytes that make data xerial-framed, to snappy-java and the client alike. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0]);

/** Whether snappy data is xerial-framed, as snappy-java and the client's decoder tell it: by the header's first 8 bytes. */
const isXerial = (data: Buffer) => data.length >= XERIAL_HEADER_BYTES && data.subarray(0, 8).equals(XERIAL_MAGIC);

/**
 * What a chunk of xerial-framed snappy counts as decompressed, at least, against the batch's bound
 * and the fetch's (fetch-budget.ts): the client's decoder makes a WebAssembly call of each chunk
 * and keeps its output apart, about 2 to 4 µs a chunk whatever it holds, where a chunk of 32 KiB
 * (snappy-java's, which Kafka writes with) takes 150 to 400 µs, 4 to 13 ns a byte. Counted by
 * their output alone, chunks of a byte or none, 5 to 7 bytes on the wire (the broker takes them),
 * held the event loop 0.5 s a MiB: 2 to 3 s from one batch of 4 MiB. At 4 KiB a chunk, such chunks
 * cost less a counted byte (under 1 ns) than a producer's own: a batch passes its bound within
 * 8,193 of them, 30 ms.
 */
export const SNAPPY_CHUNK_BYTES = 4 * 1024;

/**
 * What a snappy buffer says it decompresses to (`bound`: its preamble, or its chunks' preambles
 * once xerialAsOneStream has made it one stream), and what its chunks count beyond that
 * (`beyond`): each xerial chunk counts SNAPPY_CHUNK_BYTES at least, but for the first's, which is
 * any batch's. A stream of snappy-java's 32 KiB chunks, all of them full but the last, counts as
 * its output alone.
 */
function snappyCount(data: Buffer): { bound: number; beyond: number } {
  const rawLength = (at: number) => {
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = data[at++];
      if (b === undefined) throw new RefusedBatch("snappy preamble cut short");
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
    throw new RefusedBatch("snappy preamble too long");
  };
  if (!isXerial(data)) return { bound: rawLength(0), beyond: 0 };
  let bound = 0;
  let short = 0;
  for (let at = XERIAL_HEADER_BYTES; at + 4 <= data.length; ) {
    const size = data.readUInt32BE(at);
    const raw = rawLength(at + 4);
    bound += raw;
    short += Math.max(0, SNAPPY_CHUNK_BYTES - raw);
    at += 4 + size;
  }
  return { bound, beyond: Math.max(0, short - SNAPPY_CHUNK_BYTES) };
}

/** A zstd frame's magic number, and a skippable frame's (its last four bits free). */
const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_SKIPPABLE = 0x184d2a50;

/**
 * The zstd frames of a batch's data, as Kafka reads them: one after another, skippable frames
 * skipped (zstd-jni's stream, which Kafka reads batches with, does so). Node's decoder reads the
 * first frame only: a batch of two frames, or one behind a skippable frame, read short, and the
 * client, reading the records the batch counts past the end, failed every fetch of the partition
 * (and of the partitions fetched with it), said as Kafka being down. A frame cut short by the end
 * of the data, after a whole one, ends it: zstd-jni reads it as the end (the broker takes such a
 * batch, its records all in the frames before). Throws on what is not frames, and past
 * `maxFrames` frames.
 */
function zstdFrames(data: Buffer, maxFrames = Number.POSITIVE_INFINITY): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    if (frames.length === maxFrames) throw new RefusedBatch(`zstd batch of more than ${maxFrames} frames`);
    const end = zstdFrameEnd(data, at);
    if (end === undefined) {
      if (frames.length > 0) break;
      throw new RefusedBatch("zstd frame cut short");
    }
    if (end === SKIPPED) {
      at += 8 + data.readUInt32LE(at + 4);
      continue;
    }
    frames.push(data.subarray(at, end));
    at = end;
  }
  return frames;
}

/** The magic numbers' bytes, as they begin a frame. */
const ZSTD_MAGIC_BYTES = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const ZSTD_SKIPPABLE_BYTES = Buffer.from([0x50, 0x2a, 0x4d, 0x18]);
/** What zstdFrameEnd says of a skippable frame. */
const SKIPPED = -1;

/**
 * The header of the zstd frame at `start` (its magic checked): where its first block begins, and
 * the window it declares (a single segment's is its content size); undefined when the data ends
 * within it.
 */
function zstdHeader(data: Buffer, start: number): { blocksAt: number; window: number } | undefined {
  // The magic, the descriptor, and a window byte or a content size of at least one byte.
  if (start + 6 > data.length) return undefined;
  const descriptor = data[start + 4] as number;
  const singleSegment = (descriptor >> 5) & 1;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3] as number;
  const contentSizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6] as number;
  const contentSizeAt = start + 5 + (singleSegment ? 0 : 1) + dictionaryBytes;
  const blocksAt = contentSizeAt + contentSizeBytes;
  if (blocksAt > data.length) return undefined;
  if (!singleSegment) {
    const w = data[start + 5] as number;
    return { blocksAt, window: 2 ** (10 + (w >> 3)) * (1 + (w & 7) / 8) };
  }
  const window =
    contentSizeBytes === 8
      ? Number(data.readBigUInt64LE(contentSizeAt))
      : data.readUIntLE(contentSizeAt, contentSizeBytes) + (contentSizeBytes === 2 ? 256 : 0);
  return { blocksAt, window };
}

/**
 * Where the zstd frame at `start` ends, read from its header and its blocks' headers; SKIPPED for
 * a skippable frame, undefined for a frame (or skippable frame) the data ends within.
 */
function zstdFrameEnd(data: Buffer, start: number): number | undefined {
  const head = data.subarray(start, start + 4);
  if (head.length < 4) {
    const skippable = head.subarray(1).equals(ZSTD_SKIPPABLE_BYTES.subarray(1, head.length));
    if (
      head.equals(ZSTD_MAGIC_BYTES.subarray(0, head.length)) ||
      (((head[0] as number) & 0xf0) === 0x50 && skippable)
    ) {
      return undefined;
    }
    throw new RefusedBatch("zstd data is not a zstd frame");
  }
  if ((data.readUInt32LE(start) & 0xfffffff0) >>> 0 === ZSTD_SKIPPABLE) {
    return start + 8 > data.length || start + 8 + data.readUInt32LE(start + 4) > data.length ? undefined : SKIPPED;
  }
  if (data.readUInt32LE(start) !== ZSTD_MAGIC) throw new RefusedBatch("zstd data is not a zstd frame");
  const header = zstdHeader(data, start);
  if (header === undefined) return undefined;
  let at = header.blocksAt;
  for (let last = 0; !last; ) {
    if (at + 3 > data.length) return undefined;
    const block = data.readUIntLE(at, 3);
    const type = (block >> 1) & 3;
    if (type === 3) throw new RefusedBatch("zstd frame with a reserved block type");
    last = block & 1;
    // An RLE block holds one byte, repeated its size times.
    at += 3 + (type === 1 ? 1 : block >>> 3);
  }
  at += (data[start + 4] as number) & 0x04 ? 4 : 0;
  return at > data.length ? undefined : at;
}

/**
 * What a zstd frame counts as decompressed, at least, against the batch's bound and the fetch's
 * (fetch-budget.ts), whatever it holds: each is decompressed on its own, by a decoder of its own
 * that makes room for the window the frame declares, into a chunk of 64 KiB (about 60 µs a
 * frame, and 1.25 ms for a window of 128 MiB, which Kafka's own zstd level 22 declares).
 * Counted by their output alone, frames of a byte each, 10 bytes on the wire (the broker takes
 * them), held the event loop 25 s and took 2 GB from one batch of 4 MB; batches of 79 bytes, each
 * a frame declaring 128 MiB, held it 32 s from one fetch of 1 MiB.
 */
export const ZSTD_FRAME_BYTES = 64 * 1024;
const ZSTD_WINDOW_SHARE = 128;

/** What the zstd frame `frame` (whole: zstdFrames) counts as: ZSTD_FRAME_BYTES, or 1/128 of its window. */
function zstdFrameCost(frame: Buffer): number {
  return Math.max(ZSTD_FRAME_BYTES, (zstdHeader(frame, 0)?.window ?? 0) / ZSTD_WINDOW_SHARE);
}

/**
 * zstd data decompressed as Kafka reads it (zstdFrames), to at most `max` bytes. Its frames count
 * as zstdFrameCost says, but for the first's ZSTD_FRAME_BYTES, which is any batch's (the records
 * budget bounds those): `charge` is told what they count, and a batch counting more than `max` is
 * not decompressed.
 */
function zstdDecompress(data: Buffer, max: number, charge: (bytes: number) => void): Buffer {
  // Each frame counts at least ZSTD_FRAME_BYTES: past this many, the batch counts more than `max`.
  const frames = zstdFrames(data, Math.floor(max / ZSTD_FRAME_BYTES) + 1);
  const cost = frames.reduce((n, frame) => n + zstdFrameCost(frame), 0) - ZSTD_FRAME_BYTES;
  charge(Math.max(0, cost));
  if (cost > max) {
    throw new RefusedBatch(
      `zstd batch's ${frames.length} frames count as more than ${max} bytes (each ${ZSTD_FRAME_BYTES} at least, or 1/${ZSTD_WINDOW_SHARE} of its window)`,
    );
  }
  if (frames.length === 1 && frames[0]?.length === data.length) {
    return ownBuffer(zlib.zstdDecompressSync(data, { maxOutputLength: max }));
  }
  const out: Buffer[] = [];
  let total = 0;
  for (const frame of frames) {
    const part = zlib.zstdDecompressSync(frame, { maxOutputLength: Math.max(1, max - total) });
    total += part.length;
    if (total > max) throw new RefusedBatch(`zstd batch decompresses to more than ${max} bytes`);
    out.push(part);
  }
  return Buffer.concat(out, total);
}

/**
 * Xerial-framed snappy data as one stream, as Kafka reads it: snappy-java, which Kafka reads
 * batches with, reads xerial streams written one after another (a header where a chunk's length
 * would be starts the next); the client's decoder read that header as a chunk's length and
 * refused the batch, whose events Kafka delivers: each became a dead letter without its event.
 * Data that is not xerial-framed (snappy-java and the client look for the header's first 8 bytes)
 * is returned as it is. Throws past `maxChunks` chunks: each counts SNAPPY_CHUNK_BYTES at least, and
 * the walk stops as soon as they count past the batch's bound.
 */
function xerialAsOneStream(data: Buffer, maxChunks = Number.POSITIVE_INFINITY): Buffer {
  if (!isXerial(data)) return data;
  const parts: Buffer[] = [data.subarray(0, XERIAL_HEADER_BYTES)];
  let joined = false;
  let at = XERIAL_HEADER_BYTES;
  for (; at + 4 <= data.length; ) {
    const size = data.readUInt32BE(at);
    if (size === XERIAL_HEAD) {
      joined = true;
      at += XERIAL_HEADER_BYTES;
      continue;
    }
    if (parts.length > maxChunks) throw new RefusedBatch(`snappy batch of more than ${maxChunks} chunks`);
    parts.push(data.subarray(at, at + 4 + size));
    at += 4 + size;
  }
  // A few bytes too few for a chunk's length end the stream, as snappy-java reads them (the broker
  // takes such a batch, its records all in the chunks before); the client's decoder refused them.
  return joined || at < data.length ? Buffer.concat(parts) : data;
}

export type Decompress = (data: Buffer) => Buffer;

/** The codecs by the bits of a batch's attributes that name them. */
export const CODEC_NAMES: Readonly<Record<number, string>> = { 1: "gzip", 2: "snappy", 3: "LZ4", 4: "zstd" };

/**
 * Each codec's decompression, bounded by `max` bytes; throws past it or on bytes it can't read.
 * `charge` is told what a batch costs beyond its output (zstd's frames: zstdFrameCost; snappy's
 * chunks: SNAPPY_CHUNK_BYTES).
 */
export function boundedDecompressors(
  original: Record<number, Decompress>,
  max: number,
  charge: (bytes: number) => void = () => {},
): Record<number, Decompress> {
  const checked = (bound: number, codec: string) => {
    if (bound > max) throw new RefusedBatch(`${codec} batch decompresses to more than ${max} bytes`);
  };
  return {
    1: (data) => ownBuffer(zlib.gunzipSync(data, { maxOutputLength: max })),
    2: (data) => {
      // Each chunk counts SNAPPY_CHUNK_BYTES at least: past this many, the batch counts more than `max`.
      const stream = xerialAsOneStream(data, Math.floor(max / SNAPPY_CHUNK_BYTES) + 1);
      const { bound, beyond } = snappyCount(stream);
      charge(beyond);
      if (beyond > 0 && bound + beyond > max) {
        throw new RefusedBatch(
          `snappy batch's chunks count as more than ${max} bytes (each ${SNAPPY_CHUNK_BYTES} at least)`,
        );
      }
      checked(bound, "snappy");
      return (original[2] as Decompress)(stream);
    },
    3: (data) => {
      const frame = readLz4Frame(data, max);
      checked(frame.bound, "LZ4");
      return (original[3] as Decompress)(frame.asKafkaReads);
    },
    4: (data) => zstdDecompress(data, max, charge),
  };
}

/**
 * zlib's output in memory of its own size. zlib writes into chunks of 64 KiB and hands back a
 * view of the first when the output fits it: every record of a small batch kept the whole chunk
 * alive, as long as it was in hand (a producer that sends each event as its own gzip batch would
 * make each event in hand hold 64 KiB outside the heap). A copy costs less than the memory.
 */
function ownBuffer(out: Buffer): Buffer {
  if (out.buffer.byteLength <= 2 * out.length) return out;
  const own = Buffer.allocUnsafeSlow(out.length);
  out.copy(own);
  return own;
}

/** A short reason, without the decoder's own words where those could quote the data. */
export function whyNotDecompressed(codec: string, err: unknown, max: number): string {
  if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
    return `${codec} batch decompresses to more than ${max} bytes`;
  }
  if (err instanceof RefusedBatch) return err.message;
  const message = err instanceof Error ? err.message : String(err);
  return `${codec} data does not decompress (${message.slice(0, 80)})`;
}
