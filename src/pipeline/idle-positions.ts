import type { OffsetCommitter } from "../commit/committer.ts";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import { partitionKey } from "../read/batch-reader.ts";
import type { SourceStream } from "../read/source-stream.ts";

/** How often the positions of partitions without events yet are committed. */
const IDLE_COMMIT_MS = 5_000;

/**
 * Commits where the stream stands on the partitions it has delivered no event of and the group
 * has committed nothing for, once per stream and offset (SourceStream.idlePositions): as a Kafka
 * consumer commits its position, so that a partition started at `latest` keeps its place over a
 * restart before its first event. One check at a time; a failed one is tried at the next tick.
 * `paused`: the pipeline is about to read again from the committed offsets, or stopping.
 */
export class IdlePositionCommits {
  readonly #source: SourceStream;
  readonly #committer: OffsetCommitter;
  readonly #paused: () => boolean;
  readonly #log: Logger;
  #busy = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(source: SourceStream, committer: OffsetCommitter, paused: () => boolean, log: Logger) {
    this.#source = source;
    this.#committer = committer;
    this.#paused = paused;
    this.#log = log;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.#commit(), IDLE_COMMIT_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #commit() {
    if (this.#busy || this.#paused()) return;
    this.#busy = true;
    try {
      const stream = this.#source.number;
      const positions = await this.#source.idlePositions();
      if (this.#paused() || stream !== this.#source.number) return;
      for (const position of positions)
        this.#committer.mark(partitionKey(position.topic, position.partition), position);
    } catch (err) {
      this.#log.debug({ err: messageOf(err) }, "reading the group's offsets for idle partitions failed");
    } finally {
      this.#busy = false;
    }
  }
}
