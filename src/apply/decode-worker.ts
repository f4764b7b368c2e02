import { parentPort, workerData } from "node:worker_threads";
import { decode } from "./decode.ts";
import { PART_BYTES, type Packed, toWire, unpack, type WireDecoded } from "./decoder.ts";

// The decode thread (decoder.ts): bytes in, plain Decoded values out, and the bytes' buffer
// handed back with the last part for the next batch (nothing decoded refers to it). Results go
// in parts of about PART_BYTES of input (decoder.ts says why).

const { maxBytes } = workerData as { maxBytes: number };
parentPort?.on("message", ({ id, packed }: { id: number; packed: Packed }) => {
  let part: WireDecoded[] = [];
  let bytes = 0;
  for (const value of unpack(packed)) {
    part.push(toWire(decode(value, maxBytes)));
    bytes += value?.length ?? 0;
    if (bytes >= PART_BYTES) {
      parentPort?.postMessage({ id, part });
      part = [];
      bytes = 0;
    }
  }
  const buffer = packed.bytes.buffer;
  parentPort?.postMessage({ id, part, buffer }, [buffer]);
});
