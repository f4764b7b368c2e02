import type { Readable } from "node:stream";

// The client has no batch API (docs/decisions.md): this groups its message stream into batches by
// partition, size and time. Messages arrive in flowing mode into per-partition queues; when they
// hold `highWater` messages or `highWaterBytes` bytes in all, the stream is paused (no more
// fetches) until the pipeline has taken enough of them; the rest of the response being pushed is
// still taken in (#drain). Memory is bounded by the queues plus one fetch response, whatever the
// backlog: a backlog of the largest events is bounded by its bytes, one of small events by its
// count.
//
// A batch is taken from the partitions with the fewest batches in the pipeline's hands (its
// claims), so a partition still being written waits while another one is read: the pipeline
// writes batches of different partitions side by side, each partition in order.

export class StreamClosedError extends Error {}

export interface PartitionMessage {
  topic: string;
  partition: number;
}

export const partitionKey = (topic: string, partition: number) => `${topic}:${partition}`;

interface Queue<T> {
  messages: T[];
  /** Their bytes (`sizeOf`). */
  bytes: number;
  /** When the oldest message still queued arrived (ms): it must not wait more than the linger. */
  since: number;
}

/** What one call of `BatchReader.next` takes. */
export interface NextOptions {
  /** The most messages the batch holds. */
  max: number;
  /** The most bytes it holds, at least one message however large; no bound when left out. */
  maxBytes?: number;
  /** How long a partition's oldest message waits for more before the partition is due. */
  lingerMs: number;
  /** Ends the wait: the call then returns []. */
  signal: AbortSignal;
  /** How many batches in hand each partition (by its key) has: those with the fewest are taken. */
  claims: (key: string) => number;
}

export class BatchReader<T extends PartitionMessage> {
  readonly #stream: Readable;
  readonly #highWater: number;
  readonly #highWaterBytes: number;
  readonly #sizeOf: (m: T) => number;
  readonly #queues = new Map<string, Queue<T>>();
  /** The partitions the stream has delivered a message of. */
  readonly #delivered = new Set<string>();
  #size = 0;
  #bytes = 0;
  #paused = false;
  #failure: Error | null = null;
  #interrupted = false;
  #wake: (() => void) | null = null;

  constructor(
    stream: Readable,
    highWater: number,
    highWaterBytes = Number.POSITIVE_INFINITY,
    sizeOf: (m: T) => number = () => 0,
    /** What is kept of each message the stream delivers (by default the message itself), given its partition's key. */
    adapt: (delivered: unknown, key: string) => T = (delivered) => delivered as T,
  ) {
    this.#stream = stream;
    this.#highWater = highWater;
    this.#highWaterBytes = highWaterBytes;
    this.#sizeOf = sizeOf;
    stream.on("data", (delivered: unknown) => {
      const { topic, partition } = delivered as { topic: string; partition: number };
      const key = partitionKey(topic, partition);
      const m = adapt(delivered, key);
      let queue = this.#queues.get(key);
      if (!queue) {
        queue = { messages: [], bytes: 0, since: Date.now() };
        this.#queues.set(key, queue);
        this.#delivered.add(key);
      }
      const bytes = sizeOf(m);
      queue.messages.push(m);
      queue.bytes += bytes;
      this.#size++;
      this.#bytes += bytes;
      if (!this.#paused && (this.#size >= this.#highWater || this.#bytes >= this.#highWaterBytes)) {
        this.#paused = true;
        stream.pause();
        process.nextTick(() => this.#drain());
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

  /** Messages buffered, all partitions together. */
  get size(): number {
    return this.#size;
  }

  /**
   * Whether the stream is paused: the buffer filled up (`highWater` messages or `highWaterBytes`
   * bytes) and has not been taken down to half since. The stream delivers faster than batches are
   * taken: a backlog.
   */
  get paused(): boolean {
    return this.#paused;
  }

  /** Whether the stream has delivered a message of the partition `key`. */
  delivered(key: string): boolean {
    return this.#delivered.has(key);
  }

  /**
   * Whether every message the stream has pushed is in the reader: the stream holds none back in
   * its own buffer. Paused, it holds none once the rest of the response at hand is taken in
   * (#drain), and a response that comes while paused waits in that buffer: the reader being full
   * says nothing of where the stream stands on the partitions it delivered nothing of.
   */
  get holdsAll(): boolean {
    return this.#stream.readableLength === 0;
  }

  /** Wakes a waiting `next` to look again: a claim was released. */
  poke(): void {
    this.#notify();
  }

  /** Makes the waiting (or next) call of `next` return [] at once: the pipeline must stop reading. */
  interrupt(): void {
    this.#interrupted = true;
    this.#notify();
  }

  /**
   * Takes up to `max` messages, and up to `maxBytes` bytes (at least one message however large),
   * of the partitions with the fewest `claims`, in each partition's order. It returns once one
   * such partition holds `max` or `maxBytes`, one has waited `lingerMs` since its oldest message
   * arrived, or the buffer is full; due partitions come first, then the fullest
   * (more events of one entity in a batch, fewer rows written). Returns [] when the signal fires
   * first or after `interrupt`; throws as soon as the stream has died: what it still buffers is
   * dropped, to be read again from the committed offsets. One caller at a time (one waiter).
   */
  async next({ max, maxBytes = Number.POSITIVE_INFINITY, lingerMs, signal, claims }: NextOptions): Promise<T[]> {
    for (;;) {
      if (signal.aborted) return [];
      if (this.#interrupted) {
        this.#interrupted = false;
        return [];
      }
      if (this.#failure) throw this.#failure;
      const now = Date.now();
      const candidates = this.#candidates(claims);
      if (candidates.length === 0) {
        await this.#wait(Number.POSITIVE_INFINITY, signal);
        continue;
      }
      const dueAt = Math.min(...candidates.map(([, q]) => q.since + lingerMs));
      const full = candidates.some(([, q]) => q.messages.length >= max || q.bytes >= maxBytes);
      if (full || dueAt <= now || this.#paused) {
        return this.#take(candidates, max, maxBytes, lingerMs, now);
      }
      await this.#wait(dueAt - now, signal);
    }
  }

  #candidates(claims: (key: string) => number): [string, Queue<T>][] {
    let least = Number.POSITIVE_INFINITY;
    let candidates: [string, Queue<T>][] = [];
    for (const entry of this.#queues) {
      const claimed = claims(entry[0]);
      if (claimed < least) {
        least = claimed;
        candidates = [];
      }
      if (claimed === least) candidates.push(entry);
    }
    return candidates;
  }

  #take(candidates: [string, Queue<T>][], max: number, maxBytes: number, lingerMs: number, now: number): T[] {
    const due = (q: Queue<T>) => q.since + lingerMs <= now;
    candidates.sort(([, a], [, b]) =>
      due(a) !== due(b) ? (due(a) ? -1 : 1) : due(a) ? a.since - b.since : b.messages.length - a.messages.length,
    );
    const batch: T[] = [];
    let bytes = 0;
    for (const [key, queue] of candidates) {
      if (batch.length + queue.messages.length <= max && bytes + queue.bytes <= maxBytes) {
        // The whole queue fits: its bytes are known, no message needs measuring again.
        for (const m of queue.messages) batch.push(m);
        bytes += queue.bytes;
        this.#queues.delete(key);
      } else {
        bytes += this.#takePart(key, queue, batch, max, maxBytes - bytes, now);
      }
      if (batch.length >= max || bytes >= maxBytes) break;
    }
    this.#size -= batch.length;
    this.#bytes -= bytes;
    if (this.#paused && this.#size <= this.#highWater / 2 && this.#bytes <= this.#highWaterBytes / 2) {
      this.#paused = false;
      this.#stream.resume();
    }
    return batch;
  }

  /**
   * Moves the head of `queue` into `batch`: as many messages as `max` and `room` bytes allow, at
   * least one into an empty batch. Returns their bytes.
   */
  #takePart(key: string, queue: Queue<T>, batch: T[], max: number, room: number, now: number): number {
    let n = 0;
    let taken = 0;
    for (const m of queue.messages) {
      const size = this.#sizeOf(m);
      if (batch.length >= max || (batch.length > 0 && taken + size > room)) break;
      batch.push(m);
      taken += size;
      n++;
    }
    if (n === queue.messages.length) {
      this.#queues.delete(key);
    } else if (n > 0) {
      queue.messages.splice(0, n);
      queue.bytes -= taken;
      // The rest may wait one linger more for company: a fuller batch coalesces more.
      queue.since = now;
    }
    return taken;
  }

  /**
   * Takes in what the stream still holds once paused: the rest of the fetch response it was
   * pushing. Pausing stops the client's fetching, but what it had pushed after the pause would
   * wait in the stream until the reader had room again, and in it the response's other
   * partitions, behind the one that filled the buffer: a flooded partition would hold the others
   * back for as long as it lasts. The response is in memory either way.
   */
  #drain() {
    while (this.#paused && this.#failure === null && this.#stream.read() !== null) {}
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
