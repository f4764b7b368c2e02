import { Writer } from "@platformatic/kafka";

// The Kafka client writes each record's timestamp as a zig-zag varint delta from its batch's first
// record, and gets deltas of 2^31 ms (24.8 days) or more wrong: it shifts the sign out by 31 bits,
// not 63, and stops writing a varint's bytes once bits 7 to 31 are used up. A replay of letters
// whose record times lie further apart within one partition's batch wrote other times (a letter
// 26 days newer than the first went out 26 days older), or was refused as INVALID_TIMESTAMP.
// Reading is right (Reader decodes every int64), so only the writing is replaced, and goes when
// the client writes such deltas right itself.

const TWO_TO_64 = 1n << 64n;

/** `value` (an int64) as Kafka's varlong: zig-zag, then 7 bits a byte, least significant first. */
export function varlongBytes(value: bigint): Buffer {
  let zz = ((value << 1n) ^ (value >> 63n)) & (TWO_TO_64 - 1n);
  const bytes: number[] = [];
  while (zz >= 0x80n) {
    bytes.push(Number(zz & 0x7fn) | 0x80);
    zz >>= 7n;
  }
  bytes.push(Number(zz));
  return Buffer.from(bytes);
}

let installed = false;

/** Makes every producer of this process write record timestamp deltas as Kafka reads them. */
export function installVarlongWriter(): void {
  if (installed) return;
  installed = true;
  const writer = Writer.prototype as unknown as {
    appendVarInt64(this: Writer, value: bigint, append?: boolean): Writer;
  };
  writer.appendVarInt64 = function appendVarInt64(this: Writer, value: bigint, append = true) {
    const bytes = varlongBytes(value);
    return append ? this.append(bytes) : this.prepend(bytes);
  };
}
