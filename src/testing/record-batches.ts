import { crc32c } from "@platformatic/kafka";
import { varlongBytes } from "../kafka/record-timestamps.ts";
import { xxh32 } from "../read/client-fixes/xxh32.ts";

// Record batches written byte by byte, as a producer may send them: for the tests of what the
// service reads of batches the broker accepts (src/read/client-fixes/batch-framing.ts).

/** `n` as Kafka writes a varint or varlong. */
export const varint = (n: number): Buffer => varlongBytes(BigInt(n));

export interface RawRecord {
  offsetDelta: number;
  key?: Buffer | null;
  /** Written as the key's length instead of the key (a negative one, say). */
  keyLength?: number;
  value?: Buffer | null;
  /** How many headers the record holds, each with an empty name and a value of `headerValueBytes`. */
  emptyHeaders?: number;
  /** The bytes of each header's value (none by default). */
  headerValueBytes?: number;
  /** Named headers, after the empty ones. */
  headers?: [string, string][];
}

export function recordBytes(r: RawRecord): Buffer {
  const field = (b: Buffer | null | undefined) => (b == null ? varint(-1) : Buffer.concat([varint(b.length), b]));
  const key = r.keyLength === undefined ? field(r.key) : varint(r.keyLength);
  const one = Buffer.concat([varint(0), varint(r.headerValueBytes ?? 0), Buffer.alloc(r.headerValueBytes ?? 0, 0x76)]);
  const named = (r.headers ?? []).map(([k, v]) => Buffer.concat([field(Buffer.from(k)), field(Buffer.from(v))]));
  const count = (r.emptyHeaders ?? 0) + named.length;
  const headers = Buffer.concat([varint(count), ...Array(r.emptyHeaders ?? 0).fill(one), ...named]);
  const body = Buffer.concat([Buffer.from([0]), varint(0), varint(r.offsetDelta), key, field(r.value), headers]);
  return Buffer.concat([varint(body.length), body]);
}

export interface BatchOptions {
  firstOffset?: bigint;
  /** The compression bitmask of the attributes (1 gzip, 2 snappy, 3 LZ4, 4 zstd). */
  codec?: number;
  /** Turns the records' bytes into what the batch carries. */
  compress?: (records: Buffer) => Buffer;
  timestamp?: bigint;
}

/** A v2 record batch, its CRC right: the broker checks it, the client does not. */
export function batchBytes(records: RawRecord[], opts: BatchOptions = {}): Buffer {
  let body: Buffer = Buffer.concat(records.map(recordBytes));
  if (opts.compress) body = opts.compress(body);
  const ts = opts.timestamp ?? 1_700_000_000_000n;
  const tail = Buffer.alloc(40);
  tail.writeInt16BE(opts.codec ?? 0, 0);
  tail.writeInt32BE(
    records.reduce((last, r) => Math.max(last, r.offsetDelta), 0),
    2,
  );
  tail.writeBigInt64BE(ts, 6);
  tail.writeBigInt64BE(ts, 14);
  tail.writeBigInt64BE(-1n, 22); // no producer id
  tail.writeInt16BE(-1, 30);
  tail.writeInt32BE(-1, 32);
  tail.writeInt32BE(records.length, 36);
  const crcPart = Buffer.concat([tail, body]);
  const head = Buffer.alloc(21);
  head.writeBigInt64BE(opts.firstOffset ?? 0n, 0);
  head.writeInt32BE(4 + 1 + 4 + crcPart.length, 8);
  head.writeInt32BE(-1, 12); // partition leader epoch
  head.writeInt8(2, 16); // magic
  head.writeUInt32BE(crc32c(crcPart), 17);
  return Buffer.concat([head, crcPart]);
}

/**
 * An LZ4 frame that says it ends with a content checksum, and a wrong one: the Java client, and
 * so the broker, never check it; its header checksum is right, which they do check.
 */
export function withWrongContentChecksum(frame: Buffer): Buffer {
  const out = Buffer.concat([frame, Buffer.from([9, 9, 9, 9])]);
  out[4] = (out[4] as number) | 0x04;
  const descriptorEnd = 6 + ((out[4] as number) & 0x08 ? 8 : 0) + ((out[4] as number) & 0x01 ? 4 : 0);
  out[descriptorEnd] = (xxh32(out.subarray(4, descriptorEnd)) >>> 8) & 0xff;
  return out;
}
