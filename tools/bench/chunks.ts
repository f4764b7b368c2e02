import type { Generated } from "../../src/generate/stream.ts";

// A chunk of the stream as the producing process hands it to the model's process, through a pipe:
// one frame (its length, u32), holding of each message only what the model reads (poison and
// skipped messages are counted, not parsed): per message a kind byte, and for an event its length
// (u32) and bytes.

const EVENT = 0;
const POISON = 1;
const SKIPPED = 2;

/** The chunk as one frame: its length, then its messages. */
export function packChunk(chunk: readonly Generated[]): Buffer {
  let size = 0;
  for (const g of chunk) size += kind(g) === EVENT ? 5 + (g.value as Buffer).length : 1;
  const out = Buffer.allocUnsafe(4 + size);
  out.writeUInt32LE(size, 0);
  let at = 4;
  for (const g of chunk) {
    const k = kind(g);
    out[at++] = k;
    if (k !== EVENT) continue;
    const value = g.value as Buffer;
    out.writeUInt32LE(value.length, at);
    value.copy(out, at + 4);
    at += 4 + value.length;
  }
  return out;
}

/** A frame's messages (without its length), as much of each as test/support/model.ts reads. */
export function unpackChunk(data: Buffer): Generated[] {
  const out: Generated[] = [];
  let at = 0;
  while (at < data.length) {
    const k = data[at++];
    if (k === POISON)
      out.push({ topic: "", key: "", value: null, poison: "not_json" }); // any class: the model only counts it
    else if (k === SKIPPED) out.push({ topic: "", key: "", value: null });
    else {
      const length = data.readUInt32LE(at);
      out.push({ topic: "", key: "", value: data.subarray(at + 4, at + 4 + length) });
      at += 4 + length;
    }
  }
  return out;
}

/** The model's order of questions: poison first, then skipped (a tombstone or a marked skip), then an event. */
function kind(g: Generated): number {
  if (g.poison !== undefined) return POISON;
  if (g.value === null || g.skip !== undefined) return SKIPPED;
  return EVENT;
}

/** Cuts a byte stream back into frames, whatever the pieces it arrives in. */
export class FrameReader {
  #pieces: Buffer[] = [];
  #size = 0;
  /** The length of the frame being read; -1 while its length is. */
  #want = -1;

  push(data: Buffer, onFrame: (frame: Buffer) => void): void {
    this.#pieces.push(data);
    this.#size += data.length;
    for (;;) {
      if (this.#want < 0) {
        if (this.#size < 4) return;
        this.#want = this.#take(4).readUInt32LE(0);
      }
      if (this.#size < this.#want) return;
      const frame = this.#take(this.#want);
      this.#want = -1;
      onFrame(frame);
    }
  }

  /** Whether the stream ended between frames. */
  get idle(): boolean {
    return this.#size === 0 && this.#want < 0;
  }

  #take(n: number): Buffer {
    const all = this.#pieces.length === 1 ? (this.#pieces[0] as Buffer) : Buffer.concat(this.#pieces, this.#size);
    this.#pieces = all.length > n ? [all.subarray(n)] : [];
    this.#size = all.length - n;
    return all.subarray(0, n);
  }
}
