import { Admin, Consumer, ProduceAcks, Producer } from "@platformatic/kafka";
import { TOPICS } from "../../src/domains/registry.ts";
import { deleteTopicsThatExist, topicsReady } from "../../test/support/helpers.ts";

// The benchmark's Kafka side: fresh topics under a run's prefix, its producer, the read ceiling,
// and the committed offsets of the service's group. Everything is passed in, never read from the
// options, so that the producing process (producer-process.ts) can use it too.

export const sourceTopics = (prefix: string) => TOPICS.map((t) => `${prefix}${t}`);
export const allTopics = (prefix: string) => [...sourceTopics(prefix), `${prefix}dlq`];

export async function createTopics(broker: string, prefix: string, partitions: number): Promise<void> {
  const a = new Admin({ clientId: "bench", bootstrapBrokers: [broker] });
  await a.createTopics({ topics: allTopics(prefix), partitions, replicas: 1 });
  await topicsReady(a, allTopics(prefix), partitions);
  await a.close();
}

export async function deleteTopics(broker: string, prefix: string): Promise<void> {
  const a = new Admin({ clientId: "bench", bootstrapBrokers: [broker] });
  try {
    await deleteTopicsThatExist(a, allTopics(prefix));
  } finally {
    await a.close();
  }
}

export function newProducer(broker: string): Producer<Buffer, Buffer, Buffer, Buffer> {
  return new Producer({
    clientId: "bench",
    bootstrapBrokers: [broker],
    acks: ProduceAcks.ALL,
    idempotent: true,
    compression: "lz4",
  });
}

/** The Kafka read ceiling: a bare consumer reads every message and does nothing with it. */
export async function kafkaCeiling(broker: string, prefix: string, total: number, tag: string): Promise<number> {
  const c = new Consumer({ clientId: "bench-ceiling", bootstrapBrokers: [broker], groupId: `bench-ceiling-${tag}` });
  const started = performance.now();
  const stream = await c.consume({ topics: sourceTopics(prefix), mode: "earliest", autocommit: false });
  let n = 0;
  await new Promise<void>((resolve) => {
    stream.on("data", () => {
      if (++n === total) resolve();
    });
  });
  const seconds = (performance.now() - started) / 1000;
  await stream.close();
  await c.close(true);
  return total / seconds;
}

/** A group's progress through fresh topics: what it has committed, and whether that is everything. */
export class GroupOffsets {
  readonly #consumer: Consumer;
  readonly #topics: string[];
  readonly #partitions: number;

  constructor(broker: string, prefix: string, partitions: number, groupId: string) {
    this.#consumer = new Consumer({ clientId: "bench-offsets", bootstrapBrokers: [broker], groupId });
    this.#topics = sourceTopics(prefix);
    this.#partitions = partitions;
  }

  /** Messages committed (the topics start at offset 0), and whether every partition's end is committed. */
  async read(): Promise<{ committed: number; done: boolean }> {
    const partitions = [...Array(this.#partitions).keys()];
    const committed = await this.#consumer.listCommittedOffsets({
      topics: this.#topics.map((topic) => ({ topic, partitions })),
    });
    const ends = await this.#consumer.listOffsets({ topics: this.#topics });
    let sum = 0n;
    let done = true;
    for (const topic of this.#topics) {
      const end = ends.get(topic);
      const got = committed.get(topic) ?? [];
      // Every partition must be accounted for: a missing answer is not "nothing to do".
      if (end?.length !== this.#partitions) done = false;
      end?.forEach((e, p) => {
        const c = got[p] ?? -1n;
        if (c > 0n) sum += c;
        if (e !== 0n && c !== e) done = false;
      });
    }
    return { committed: Number(sum), done };
  }

  async close(): Promise<void> {
    await this.#consumer.close();
  }
}
