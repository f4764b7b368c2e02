import { parentPort, workerData } from "node:worker_threads";
import { decode } from "./decode.ts";
import { type Packed, toWire, unpack } from "./decoder.ts";

// The decode thread (decoder.ts): bytes in, plain Decoded values out, and the bytes' buffer
// handed back for the next batch (nothing decoded refers to it).
const { maxBytes } = workerData as { maxBytes: number };
parentPort?.on("message", ({ id, packed }: { id: number; packed: Packed }) => {
  const decoded = unpack(packed).map((v) => toWire(decode(v, maxBytes)));
  const buffer = packed.bytes.buffer;
  parentPort?.postMessage({ id, decoded, buffer }, [buffer]);
});
