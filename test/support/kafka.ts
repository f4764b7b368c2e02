import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import {
  Admin,
  ConfigResourceTypes,
  Consumer,
  compatibilityPartitioner,
  IncrementalAlterConfigOperationTypes,
  ProduceAcks,
  Producer,
} from "@platformatic/kafka";
import { TOPICS } from "../../src/domains/registry.ts";
import type { EmittedEvent } from "../../src/generate/emit.ts";
import { waitFor } from "../../src/testing/support.ts";
import { loadStackConfig } from "../../tools/stack/config.ts";

// The integration tests' side of Kafka: topics of their own under a random prefix (deleted
// afterwards), producing, and waiting for what a group has committed. Re-exported by helpers.ts.

export const stack = loadStackConfig();
export const BROKER = `127.0.0.1:${stack.kafkaPort}`;
export const randomName = (prefix: string) => `${prefix}${randomBytes(5).toString("hex")}`;

export interface TestTopics {
  prefix: string;
  dlq: string;
  all: string[];
}

/**
 * The five source topics and a dead-letter topic named under a random prefix, none created; those
 * that exist when the test ends are deleted. With the admin client that deletes them.
 */
export function namedTopics(t: TestContext): TestTopics & { admin: Admin } {
  const prefix = randomName("t").concat(".");
  const dlq = `${prefix}dlq`;
  const all = [...TOPICS.map((topic) => `${prefix}${topic}`), dlq];
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(async () => {
    await deleteTopicsThatExist(admin, all);
    await admin.close();
  });
  return { prefix, dlq, all, admin };
}

/** The five source topics and a dead-letter topic under a random prefix; deleted afterwards. */
export async function testTopics(t: TestContext, partitions = 3): Promise<TestTopics> {
  const { admin, ...topics } = namedTopics(t);
  await admin.createTopics({ topics: topics.all, partitions, replicas: 1 });
  await topicsReady(admin, topics.all, partitions);
  return topics;
}

/** A transactional producer of the test's own, closed afterwards. */
export function transactionalProducer(t: TestContext): Producer<Buffer, Buffer, Buffer, Buffer> {
  const producer = new Producer({
    clientId: "tests-transactional",
    bootstrapBrokers: [BROKER],
    acks: ProduceAcks.ALL,
    idempotent: true,
    transactionalId: randomName("tests-tx-"),
  });
  t.after(() => producer.close());
  return producer;
}

/**
 * Deletes those of `topics` that exist: the cleanup of a test or a run that may have failed
 * before creating them all. Any other failure is thrown, so that topics left behind are seen.
 */
export async function deleteTopicsThatExist(admin: Admin, topics: readonly string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((topic) => existing.has(topic));
  if (present.length > 0) await admin.deleteTopics({ topics: present });
}

/**
 * Waits until every partition of fresh topics has a leader. Producing earlier fails for some
 * partitions, and the client's retry then re-sends the whole request, duplicating the messages
 * of the partitions that had succeeded.
 */
/** Sets one of a topic's configurations (max.message.bytes, cleanup.policy, ...). */
export async function setTopicConfig(admin: Admin, topic: string, name: string, value: string): Promise<void> {
  await admin.incrementalAlterConfigs({
    resources: [
      {
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: topic,
        configs: [{ name, configOperation: IncrementalAlterConfigOperationTypes.SET, value }],
      },
    ],
  });
}

export async function topicsReady(admin: Admin, topics: string[], partitions: number): Promise<void> {
  await waitFor(`leaders for ${topics.join(", ")}`, async () => {
    const metadata = await admin.metadata({ topics, forceUpdate: true });
    return topics.every((topic) => {
      const m = metadata.topics.get(topic);
      return m?.partitions.length === partitions && m.partitions.every((p) => p.leader >= 0);
    });
  });
}

export async function testProducer(t: TestContext, broker = BROKER) {
  const producer = new Producer({
    clientId: "tests",
    bootstrapBrokers: [broker],
    acks: ProduceAcks.ALL,
    // A retried request must not write its messages twice: tests count them.
    idempotent: true,
    // Oversized poison (over 1 MiB, the broker's default limit) goes through compressed.
    compression: "gzip",
    // The same key → partition mapping as the Java and Python clients the upstream uses.
    partitioner: compatibilityPartitioner,
  });
  t.after(() => producer.close());
  return producer;
}

/** Sends events (as `emit` builds them) to the test's topics; values may also be raw bytes or null. */
export async function produce(
  producer: Producer,
  prefix: string,
  events: (EmittedEvent | { topic: string; key: string; value: Buffer | null })[],
): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    await producer.send({
      messages: events.slice(i, i + 500).map((e) => ({
        topic: `${prefix}${e.topic}`,
        key: Buffer.from(e.key),
        value:
          e.value === null
            ? (null as unknown as Buffer)
            : Buffer.isBuffer(e.value)
              ? e.value
              : Buffer.from(JSON.stringify(e.value)),
      })),
    });
  }
}

/** Committed offsets of a group, summed over the given topics' partitions. */
export async function committedTotal(groupId: string, topics: string[], partitions = 3): Promise<bigint> {
  const consumer = new Consumer({ clientId: "tests-offsets", bootstrapBrokers: [BROKER], groupId });
  try {
    const offsets = await consumer.listCommittedOffsets({
      topics: topics.map((topic) => ({ topic, partitions: [...Array(partitions).keys()] })),
    });
    let total = 0n;
    for (const list of offsets.values()) for (const o of list) if (o > 0n) total += o;
    return total;
  } finally {
    await consumer.close();
  }
}

/** Whether the group has committed, on every partition of `topics`, the end of the log. */
export async function caughtUp(groupId: string, topics: string[], partitions = 3, broker = BROKER): Promise<boolean> {
  const consumer = new Consumer({ clientId: "tests-offsets", bootstrapBrokers: [broker], groupId });
  try {
    return await groupCaughtUp(consumer, topics, partitions);
  } finally {
    await consumer.close();
  }
}

/** The same check through a consumer of the group that the caller keeps open (the benchmark polls it). */
export async function groupCaughtUp(consumer: Consumer, topics: string[], partitions: number): Promise<boolean> {
  const committed = await consumer.listCommittedOffsets({
    topics: topics.map((topic) => ({ topic, partitions: [...Array(partitions).keys()] })),
  });
  const ends = await consumer.listOffsets({ topics });
  // Every partition of every topic must be accounted for: a missing answer is not "nothing to do".
  return topics.every((topic) => {
    const end = ends.get(topic);
    const done = committed.get(topic) ?? [];
    return end?.length === partitions && end.every((e, p) => e === 0n || done[p] === e);
  });
}

/** The number of messages a topic holds: the sum of its partitions' end offsets. */
export async function topicSize(topic: string): Promise<number> {
  const consumer = new Consumer({
    clientId: "tests-offsets",
    bootstrapBrokers: [BROKER],
    groupId: randomName("size-"),
  });
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
    return Number(ends.reduce((a, b) => a + b, 0n));
  } finally {
    await consumer.close();
  }
}

/** Reads every message of a topic from the beginning (e.g. the dead-letter topic). */
export async function readTopic(topic: string, expected: number, timeoutMs = 20000) {
  const consumer = new Consumer({
    clientId: "tests-reader",
    bootstrapBrokers: [BROKER],
    groupId: randomName("reader-"),
  });
  const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false });
  const out: {
    key: string | null;
    value: Buffer;
    /** Name → value; the last one where a name repeats. */
    headers: Map<string, string>;
    /** Every header in its order. */
    entries: [string, string][];
    partition: number;
  }[] = [];
  // Flowing mode: the client's stream can stall when read with read() (docs/decisions.md).
  stream.on("data", (m) => {
    const entries = (m.headerEntries as [unknown, unknown][]).map(
      ([k, v]) => [String(k ?? ""), String(v ?? "")] as [string, string],
    );
    const headers = new Map(entries);
    out.push({ key: m.key ? m.key.toString() : null, value: m.value, headers, entries, partition: m.partition });
  });
  try {
    await waitFor(`${expected} messages on ${topic}`, async () => out.length >= expected, timeoutMs);
  } finally {
    await stream.close();
    await consumer.close(true);
  }
  return out;
}

/** Record headers as a producer sends them, from names and texts (a name may come twice in a list). */
export function headerMap(
  fields: Record<string, string> | readonly (readonly [string, string])[],
): Map<Buffer, Buffer> {
  const entries = Array.isArray(fields) ? fields : Object.entries(fields);
  return new Map(entries.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
}
