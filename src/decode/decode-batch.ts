import { setImmediate as nextTurn } from "node:timers/promises";

// Decoding runs on the pipeline's one thread, beside the consumer's heartbeats, the probes and
// the metrics. Every event's cost is bounded (MAX_MESSAGE_BYTES, the value and nesting limits),
// but a batch holds up to BATCH_MAX_EVENTS of them: decoded in one go, a batch of the costliest
// events a hostile producer can craft held the thread for seconds, long enough for the group to
// drop the member (KAFKA_SESSION_TIMEOUT_MS) and its events to be read twice.

/** How long decoding holds the thread before it lets timers and I/O run. */
export const DECODE_SLICE_MS = 20;

/**
 * Decodes `records` in order, letting the event loop turn whenever a slice of `sliceMs` is used
 * up. On the usual path (events of a few kilobytes) a batch fits in one slice and never waits.
 */
export async function decodeBatch<R, D>(
  records: readonly R[],
  decode: (record: R) => D,
  sliceMs = DECODE_SLICE_MS,
): Promise<D[]> {
  const decoded: D[] = [];
  let sliceStart = performance.now();
  for (const record of records) {
    decoded.push(decode(record));
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return decoded;
}
