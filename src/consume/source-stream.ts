import type { Consumer, Message, MessagesStream } from "@platformatic/kafka";
import { recordBytes } from "../dead-letter/publish.ts";
import { messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import { BatchReader } from "./batch-reader.ts";

export type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;

/**
 * The reader buffers this many batches' worth of messages before it pauses the stream, so a batch
 * can be read while others are written. One is enough: Kafka fills it faster than MySQL empties a
 * batch, and every buffered message survives the young generation's collections, which then copy
 * it (docs/decisions.md).
 */
const READER_BUFFER_BATCHES = 1;

export interface SourceStreamOptions {
  autoOffsetReset: "earliest" | "latest";
  batchMaxEvents: number;
  batchMaxBytes: number;
}

/**
 * The group's message stream of the source topics, opened from the committed offsets when first
 * read, and its batch reader. A stream that failed, or read past events that must be read again,
 * is closed; the next `open` starts a new one, numbered one higher.
 */
export class SourceStream {
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #topics: readonly string[];
  readonly #options: SourceStreamOptions;
  readonly #log: Logger;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  #reader: BatchReader<KafkaMessage> | null = null;
  /** How many streams were opened: the number of the open (or last) one. */
  #opened = 0;

  constructor(
    consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
    topics: readonly string[],
    options: SourceStreamOptions,
    log: Logger,
  ) {
    this.#consumer = consumer;
    this.#topics = topics;
    this.#options = options;
    this.#log = log;
  }

  /** The open stream's reader, if a stream is open. */
  get reader(): BatchReader<KafkaMessage> | null {
    return this.#reader;
  }

  /** The number of the open (or last) stream. */
  get number(): number {
    return this.#opened;
  }

  /** The reader of the open stream; a dead stream's reader throws its failure, and the caller closes it. */
  async open(): Promise<BatchReader<KafkaMessage>> {
    if (this.#reader) return this.#reader;
    const stream = await this.#consumer.consume({
      topics: [...this.#topics],
      mode: "committed",
      fallbackMode: this.#options.autoOffsetReset,
    });
    // Failures surface through BatchReader.next; this listener only keeps an 'error' from being unhandled.
    stream.on("error", (err) => this.#log.debug({ err: messageOf(err) }, "Kafka message stream failed"));
    this.#stream = stream;
    this.#opened++;
    const { batchMaxEvents, batchMaxBytes } = this.#options;
    this.#reader = new BatchReader<KafkaMessage>(
      stream,
      READER_BUFFER_BATCHES * batchMaxEvents,
      READER_BUFFER_BATCHES * batchMaxBytes,
      // A record's bytes as it travels in a record batch: what its sender chose to make it hold.
      recordBytes,
    );
    return this.#reader;
  }

  async close(): Promise<void> {
    const stream = this.#stream;
    this.#stream = null;
    this.#reader = null;
    if (!stream || stream.destroyed) return;
    try {
      await stream.close();
    } catch (err) {
      this.#log.debug({ err: messageOf(err) }, "closing a failed Kafka stream");
    }
  }
}
