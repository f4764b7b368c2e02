import type { Readable } from "node:stream";

// The client has no batch API (NOTES.md): this groups its message stream by size and time.
// Not reading is the backpressure: the stream stops fetching once its buffer holds its
// high-water mark, so memory is bounded whatever the backlog.

export class StreamClosedError extends Error {}

/**
 * Waits for the first message (or the signal), then takes what is buffered and what arrives
 * within `lingerMs`, up to `max`. Returns [] when the signal fires first; throws the stream's
 * error, or StreamClosedError, when the stream dies.
 */
export async function readBatch<T>(stream: Readable, max: number, lingerMs: number, signal: AbortSignal): Promise<T[]> {
  const batch: T[] = [];
  let deadline = Number.POSITIVE_INFINITY;
  while (batch.length < max) {
    for (let m = stream.read() as T | null; m !== null; m = batch.length < max ? (stream.read() as T | null) : null) {
      batch.push(m);
    }
    if (batch.length >= max || signal.aborted) break;
    if (batch.length > 0 && deadline === Number.POSITIVE_INFINITY) deadline = Date.now() + lingerMs;
    const wait = deadline - Date.now();
    if (wait <= 0) break;
    const woke = await nextReadable(stream, wait, signal);
    if (woke === "failed") {
      if (batch.length > 0) break; // hand over what we have; the next call reports the failure
      throw streamError(stream);
    }
  }
  return batch;
}

function streamError(stream: Readable): Error {
  return stream.errored ?? new StreamClosedError("the Kafka message stream closed");
}

function nextReadable(
  stream: Readable,
  waitMs: number,
  signal: AbortSignal,
): Promise<"readable" | "timeout" | "failed"> {
  if (stream.errored || stream.destroyed || stream.readableEnded) return Promise.resolve("failed");
  return new Promise((resolve) => {
    const done = (result: "readable" | "timeout" | "failed") => {
      clearTimeout(timer);
      stream.off("readable", onReadable);
      stream.off("error", onFailed);
      stream.off("close", onFailed);
      stream.off("end", onFailed);
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onReadable = () => done("readable");
    const onFailed = () => done("failed");
    const onAbort = () => done("timeout");
    const timer = Number.isFinite(waitMs) ? setTimeout(() => done("timeout"), waitMs) : undefined;
    stream.on("readable", onReadable);
    stream.on("error", onFailed);
    stream.on("close", onFailed);
    stream.on("end", onFailed);
    signal.addEventListener("abort", onAbort);
  });
}
