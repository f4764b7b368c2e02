import type { CommitOptionsPartition, Consumer, Message, MessagesStream } from "@platformatic/kafka";
import { getOrCreate } from "../collections.ts";
import { messageOf } from "../errors.ts";
import type { RecordHeaders } from "../kafka/records.ts";
import type { Logger } from "../log.ts";
import { BatchReader, partitionKey } from "./batch-reader.ts";
import { heldBytes, unreadHeaders } from "./client-fixes/record-headers.ts";

/**
 * A consumed record as the pipeline keeps it until its offset is committed: what a batch, a
 * decode and a letter read of it. The client's message holds more (a bound commit function, a
 * header map beside the list of its headers, its metadata); in a backlog thousands wait in the reader's
 * buffer and in the batch in hand, and every young-generation collection copies what they hold.
 */
export interface KafkaMessage {
  topic: string;
  partition: number;
  offset: bigint;
  /** The record's timestamp (ms); a negative one is Kafka's "none". */
  timestamp: bigint;
  leaderEpoch: number;
  key: Buffer | undefined;
  value: Buffer | undefined;
  /** Undefined when the record has none, or when they were left unread. */
  headers: RecordHeaders | undefined;
  /** How many headers the record had, when they were left unread (client-fixes/record-headers.ts). */
  headersUnread: number | undefined;
  /** What it holds in memory (client-fixes/record-headers.ts heldBytes): the reader's and the batches' byte bounds count this. */
  bytes: number;
  /**
   * Its partition's tenure when it reached the reader (read/owned-partitions.ts), undefined when
   * the partition was not this member's: a message read ahead before its partition was taken away
   * and handed back belongs to the tenure that ended, however late a batch takes it.
   */
  tenure: number | undefined;
}

type ClientMessage = Message<Buffer, Buffer, Buffer, Buffer>;

/** What the pipeline keeps of the client's message; `tenure`: its partition's as it arrives. */
export function keptOf(delivered: unknown, tenure?: number): KafkaMessage {
  const m = delivered as ClientMessage;
  const entries = m.headerEntries as RecordHeaders;
  const unread = unreadHeaders(entries);
  const headers = entries.length === 0 || unread !== undefined ? undefined : entries;
  const kept = {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    leaderEpoch: m.leaderEpoch,
    key: m.key,
    value: m.value,
    headers,
    headersUnread: unread?.count,
    bytes: 0,
    tenure,
  };
  kept.bytes = heldBytes({ key: m.key, value: m.value, headers: entries });
  return kept;
}

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
 * The group's message stream of the source topics that exist, opened from the committed offsets
 * when first read, and its batch reader. A stream that failed, or read past events that must be read again,
 * is closed; the next `open` starts a new one, numbered one higher.
 */
export class SourceStream {
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #topics: () => Promise<readonly string[]>;
  readonly #options: SourceStreamOptions;
  readonly #log: Logger;
  readonly #tenure: (key: string) => number | undefined;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  #reader: BatchReader<KafkaMessage> | null = null;
  /** The topics the open (or last) stream reads. */
  #reading: readonly string[] = [];
  /** How many streams were opened: the number of the open (or last) one. */
  #opened = 0;
  /** The idle positions already checked on the open stream, per partition (idlePositions). */
  #idleSettled = new Map<string, bigint>();

  constructor(
    consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
    topics: () => Promise<readonly string[]>,
    options: SourceStreamOptions,
    log: Logger,
    /** Each partition's tenure (OwnedPartitions.since), stamped on its messages as they arrive. */
    tenure: (key: string) => number | undefined = () => undefined,
  ) {
    this.#consumer = consumer;
    this.#topics = topics;
    this.#options = options;
    this.#log = log;
    this.#tenure = tenure;
  }

  /** The open stream's reader, if a stream is open. */
  get reader(): BatchReader<KafkaMessage> | null {
    return this.#reader;
  }

  /** Whether the open stream reads `topic`; with none open, whether the last one did (none yet: yes). */
  reads(topic: string): boolean {
    return this.#opened === 0 || this.#reading.includes(topic);
  }

  /**
   * The offsets the open stream's partitions have committed (at the join, and since), by
   * `topic:partition`; none once it failed: a dead stream no longer hears of rebalances, and its
   * partitions, taken away meanwhile, would be counted here and by their new owner. As the client's
   * getLag did, which left dead streams out.
   */
  committed(): ReadonlyMap<string, bigint> {
    const stream = this.#stream;
    return stream && !stream.destroyed && !stream.closed ? stream.offsetsCommitted : new Map();
  }

  /** The number of the open (or last) stream. */
  get number(): number {
    return this.#opened;
  }

  /** The reader of the open stream; a dead stream's reader throws its failure, and the caller closes it. */
  async open(): Promise<BatchReader<KafkaMessage>> {
    if (this.#reader) return this.#reader;
    const topics = await this.#topics();
    const stream = await this.#consumer.consume({
      topics: [...topics],
      mode: "committed",
      fallbackMode: this.#options.autoOffsetReset,
    });
    // Failures surface through BatchReader.next; this listener only keeps an 'error' from being unhandled.
    stream.on("error", (err) => this.#log.debug({ err: messageOf(err) }, "Kafka message stream failed"));
    this.#stream = stream;
    this.#reading = topics;
    this.#opened++;
    this.#idleSettled = new Map();
    const { batchMaxEvents, batchMaxBytes } = this.#options;
    this.#reader = new BatchReader<KafkaMessage>(
      stream,
      READER_BUFFER_BATCHES * batchMaxEvents,
      READER_BUFFER_BATCHES * batchMaxBytes,
      (m) => m.bytes,
      (delivered, key) => keptOf(delivered, this.#tenure(key)),
    );
    return this.#reader;
  }

  /**
   * Where the open stream stands on the partitions this member owns, the stream has delivered no
   * message of, and the group has no committed offset for: the reset position the stream started
   * from. Nothing before those offsets waits to be applied, so committing them loses nothing, and
   * a partition that started at `latest` and has had no event yet keeps its place over a restart:
   * without a commit, a restart would start at `latest` again and skip what came meanwhile. Each
   * position once per stream. Empty while the stream holds messages back that its reader has not
   * taken in; a full reader (a backlog elsewhere) holds back nothing of these partitions.
   *
   * A partition with a committed offset is left alone: its position may not be where the stream
   * stands. When a rebalance hands this member a partition, the client's position on it is, until
   * it has read the group's offsets again, whatever it held before: the log's end at the stream's
   * start for a partition it never owned (`latest`), ahead of events another member has not
   * applied; or where it stood before the partition moved away, behind another member's commits.
   */
  async idlePositions(): Promise<CommitOptionsPartition[]> {
    const stream = this.#stream;
    const candidates = this.#idleCandidates();
    if (!stream || candidates.length === 0) return [];
    const generation = this.#consumer.generationId;
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of candidates) getOrCreate(byTopic, topic, () => []).push(partition);
    const committed = await this.#consumer.listCommittedOffsets({
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    });
    // Read again after the wait: the stream, the assignment or the position may have changed.
    if (this.#stream !== stream || this.#consumer.generationId !== generation) return [];
    const still = new Map(this.#idleCandidates().map((p) => [partitionKey(p.topic, p.partition), p.offset]));
    const positions: CommitOptionsPartition[] = [];
    for (const position of candidates) {
      const key = partitionKey(position.topic, position.partition);
      this.#idleSettled.set(key, position.offset);
      const offset = committed.get(position.topic)?.[position.partition];
      if (offset === undefined || offset >= 0n || still.get(key) !== position.offset) continue;
      positions.push(position);
    }
    return positions;
  }

  /** The positions `idlePositions` checks: owned, nothing delivered, nothing held back, not checked yet at that offset. */
  #idleCandidates(): CommitOptionsPartition[] {
    const stream = this.#stream;
    const reader = this.#reader;
    if (!stream || !reader || stream.destroyed || !reader.holdsAll) return [];
    const positions: CommitOptionsPartition[] = [];
    for (const { topic, partitions } of this.#consumer.assignments ?? []) {
      for (const partition of partitions) {
        const key = partitionKey(topic, partition);
        const offset = stream.offsetsToFetch.get(key);
        if (offset === undefined || offset < 0n || reader.delivered(key)) continue;
        if (this.#idleSettled.get(key) === offset) continue;
        positions.push({ topic, partition, offset, leaderEpoch: -1 });
      }
    }
    return positions;
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
