import type { Readable } from "node:stream";

// The client has no batch API (NOTES.md): this groups its message stream by size and time.
// Messages arrive in flowing mode into a bounded buffer; when it holds `highWater` messages the
// stream is paused (no more fetches) until the pipeline has taken enough of them. Memory is
// bounded by the buffer plus one fetch response, whatever the backlog.

export class StreamClosedError extends Error {}

export class BatchReader<T> {
  readonly #stream: Readable;
  readonly #highWater: number;
  #queue: T[] = [];
  #paused = false;
  #failure: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(stream: Readable, highWater: number) {
    this.#stream = stream;
    this.#highWater = highWater;
    stream.on("data", (m: T) => {
      this.#queue.push(m);
      if (!this.#paused && this.#queue.length >= this.#highWater) {
        this.#paused = true;
        stream.pause();
      }
      this.#notify();
    });
    const fail = (err?: Error) => {
      this.#failure ??= err ?? new StreamClosedError("the Kafka message stream closed");
      this.#notify();
    };
    stream.on("error", fail);
    stream.on("close", () => fail());
    stream.on("end", () => fail());
  }

  /**
   * Waits for the first message (or the signal), then for up to `lingerMs` more while fewer than
   * `max` are buffered, and takes up to `max`. Returns [] when the signal fires first; throws when
   * the stream has died and nothing is left to hand over.
   */
  async next(max: number, lingerMs: number, signal: AbortSignal): Promise<T[]> {
    while (this.#queue.length === 0) {
      if (this.#failure) throw this.#failure;
      if (signal.aborted) return [];
      await this.#wait(Number.POSITIVE_INFINITY, signal);
    }
    const deadline = Date.now() + lingerMs;
    while (this.#queue.length < max && !this.#failure && !signal.aborted && Date.now() < deadline) {
      await this.#wait(deadline - Date.now(), signal);
    }
    const batch = this.#queue.splice(0, max);
    if (this.#paused && this.#queue.length <= this.#highWater / 2) {
      this.#paused = false;
      this.#stream.resume();
    }
    return batch;
  }

  #notify() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#wake = null;
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined;
      signal.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }
}
