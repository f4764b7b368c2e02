import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { BadEventError } from "../errors.ts";
import { type Decoded, decode } from "./decode.ts";
import { type Op, tableNamed } from "./ops.ts";

// Decoding (JSON parsing, validation, flattening) is most of the service's CPU per event and
// needs nothing but the bytes. By default it runs inline, on the main thread, between the MySQL
// writes of other batches in hand. With DECODE_THREAD it runs on a worker thread, on another core:
// that pays only where the service has a core to spare, as every result then crosses threads by
// structured clone (docs/decisions.md). At most BATCHES_IN_FLIGHT batches are ever in the
// worker's queue, so memory stays bounded.

export interface Decoder {
  decode(values: readonly (Buffer | null | undefined)[]): Promise<Decoded[]>;
  close(): Promise<void>;
}

export function inlineDecoder(maxBytes: number): Decoder {
  return {
    decode: async (values) => values.map((v) => decode(v, maxBytes)),
    close: async () => {},
  };
}

/** Thrown when the decode worker died: a bug, not bad input; the service stops. */
export class DecoderFailedError extends Error {}

// Structured clone copies plain data only: table specs travel as names and errors as their reason
// and message, and are restored on arrival.
type WireOutcome =
  Exclude<Decoded["op"], Op> extends infer O
    ? O extends { kind: "rejected" }
      ? { kind: "rejected"; reason: BadEventError["reason"]; message: string }
      : O
    : never;
type WireOp = Omit<Op, "table" | "children"> & {
  table: string;
  children?: Omit<NonNullable<Extract<Op, { kind: "upsert" }>["children"]>, "table"> & { table: string };
};
export type WireDecoded = Omit<Decoded, "op"> & { op: WireOp | WireOutcome };

export function toWire(d: Decoded): WireDecoded {
  const op = d.op;
  if (!("table" in op)) {
    if (op.kind !== "rejected") return d as WireDecoded;
    return { ...d, op: { kind: "rejected", reason: op.error.reason, message: op.error.message } };
  }
  const children = op.kind === "upsert" && op.children ? { ...op.children, table: op.children.table.name } : undefined;
  return { ...d, op: { ...op, table: op.table.name, ...(children ? { children } : {}) } as WireOp };
}

export function fromWire(w: WireDecoded): Decoded {
  const op = w.op;
  if (!("table" in op)) {
    if (op.kind !== "rejected") return w as Decoded;
    return { ...w, op: { kind: "rejected", error: new BadEventError(op.reason, op.message) } };
  }
  const restored = op as unknown as Op;
  restored.table = tableNamed(op.table);
  if (restored.kind === "upsert" && restored.children) {
    restored.children.table = tableNamed(restored.children.table as unknown as string);
  }
  return w as unknown as Decoded;
}

/** Buffers kept for reuse: one per batch in flight is what the decoder ever holds. */
const MAX_SPARES = 4;
/** A buffer larger than this (a batch of unusually large events) is not kept. */
const MAX_SPARE_BYTES = 8 << 20;

/**
 * The values of a batch in one transferable buffer: bytes plus each value's start and length
 * (-1: null). The bytes go into a spare buffer an earlier batch came back in when one is large
 * enough and is then taken from `spares`: touching fresh memory costs a page fault per 4 KiB,
 * which on this machine's VM made packing ten times dearer (docs/benchmarks.md).
 */
export function pack(values: readonly (Buffer | null | undefined)[], spares: ArrayBuffer[] = []) {
  let total = 0;
  for (const v of values) total += v?.length ?? 0;
  const fit = spares.findIndex((b) => b.byteLength >= total);
  // A spare too small is dropped for the new buffer, which will come back in its place: the
  // buffers in use and spare stay as many as the batches ever in hand at once. The new one has
  // headroom, so that a batch a little larger than the last still fits.
  if (fit < 0) spares.pop();
  const buffer = fit >= 0 ? (spares.splice(fit, 1)[0] as ArrayBuffer) : new ArrayBuffer(Math.ceil(total * 1.25));
  const bytes = new Uint8Array(buffer, 0, total);
  const starts = new Int32Array(values.length);
  const lengths = new Int32Array(values.length);
  let at = 0;
  values.forEach((v, i) => {
    starts[i] = at;
    lengths[i] = v ? v.length : -1;
    if (v) {
      bytes.set(v, at);
      at += v.length;
    }
  });
  return { bytes, starts, lengths };
}

/** Keeps a buffer the worker handed back, within the bounds above. */
export function keepSpare(spares: ArrayBuffer[], buffer: ArrayBuffer): void {
  if (spares.length < MAX_SPARES && buffer.byteLength <= MAX_SPARE_BYTES) spares.push(buffer);
}

export type Packed = ReturnType<typeof pack>;

export function unpack({ bytes, starts, lengths }: Packed): (Buffer | null)[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from(starts, (start, i) => {
    const length = lengths[i] as number;
    return length < 0 ? null : buffer.subarray(start, start + length);
  });
}

/**
 * The decode thread sends a batch's results in parts of about this many bytes of input. V8
 * serializes a message into one buffer grown by realloc, and one over 128 KiB is a fresh mapping
 * (MALLOC_MMAP_THRESHOLD_) whose every page faults on first touch; parts stay in malloc's heap
 * and reuse its memory.
 */
export const PART_BYTES = 32 * 1024;

const DECODE_WORKER = new URL("./decode-worker.ts", import.meta.url);

/**
 * The decode thread's semi-spaces, in MiB. What it allocates dies within a part (PART_BYTES of
 * input), so a small young generation costs it nothing measurable, where the process-wide
 * `--max-semi-space-size=16` the main thread needs would have it hold 24 MiB more of RSS
 * (docs/benchmarks.md).
 */
export const DECODE_SEMI_SPACE_MB = 4;

/** The process's own `--max-semi-space-size` (0: V8's default), from its command line and NODE_OPTIONS. */
export function semiSpaceFlag(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ""): number {
  let mb = 0;
  for (const arg of [...nodeOptions.split(/\s+/), ...execArgv]) {
    const m = /^--max[-_]semi[-_]space[-_]size=(\d+)$/.exec(arg);
    if (m) mb = Number(m[1]);
  }
  return mb;
}

/** Decode threads started and not yet online: the flag stays set while there are any. */
let starting = 0;

/**
 * Starts `script` as the decode thread with its own young generation. V8 sizes an isolate's heap
 * from the process's flags when the isolate starts, on the new thread, and the flag overrides a
 * Worker's `resourceLimits`; so the flag is set until the thread is up, then put back.
 */
export function startDecodeThread(script: URL, workerData: unknown): Worker {
  if (starting++ === 0) setFlagsFromString(`--max-semi-space-size=${DECODE_SEMI_SPACE_MB}`);
  const worker = new Worker(script, { workerData });
  let up = false;
  const onUp = () => {
    if (up) return;
    up = true;
    if (--starting === 0) setFlagsFromString(`--max-semi-space-size=${semiSpaceFlag()}`);
  };
  worker.once("online", onUp);
  worker.once("exit", onUp);
  return worker;
}

/** `script` is the worker's code: decode-worker.ts, or a stand-in when a test needs the worker to die. */
export function workerDecoder(maxBytes: number, script: URL = DECODE_WORKER): Decoder {
  const worker = startDecodeThread(script, { maxBytes });
  let failure: Error | null = null;
  let nextId = 0;
  const pending = new Map<
    number,
    { decoded: Decoded[]; resolve: (d: Decoded[]) => void; reject: (e: Error) => void }
  >();
  const fail = (err: Error) => {
    failure ??= err;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  const spares: ArrayBuffer[] = [];
  // A batch's results come in parts (decode-worker.ts); the last carries the batch's buffer back.
  worker.on("message", ({ id, part, buffer }: { id: number; part: WireDecoded[]; buffer?: ArrayBuffer }) => {
    const p = pending.get(id);
    for (const d of part) p?.decoded.push(fromWire(d));
    if (buffer === undefined) return;
    keepSpare(spares, buffer);
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    p?.resolve(p.decoded);
  });
  worker.on("error", (err) => fail(new DecoderFailedError(`the decode worker failed: ${err.message}`)));
  worker.on("exit", (code) => fail(new DecoderFailedError(`the decode worker exited (code ${code})`)));
  // An idle worker must not keep the process alive; a busy one must.
  worker.unref();
  return {
    decode(values) {
      if (failure) return Promise.reject(failure);
      if (values.length === 0) return Promise.resolve([]);
      const id = nextId++;
      const packed = pack(values, spares);
      return new Promise((resolve, reject) => {
        pending.set(id, { decoded: [], resolve, reject });
        worker.ref();
        worker.postMessage({ id, packed }, [packed.bytes.buffer]);
      });
    },
    async close() {
      failure ??= new DecoderFailedError("the decoder is closed");
      await worker.terminate();
    },
  };
}
