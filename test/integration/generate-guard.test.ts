import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { type TestContext, test } from "node:test";
import { Admin, Consumer, FetchIsolationLevels } from "@platformatic/kafka";
import { GENERATED_HEADER } from "../../src/commands/generate-guard.ts";
import {
  BROKER,
  randomName,
  readTopic,
  runCliSync,
  type TestTopics,
  testProducer,
  testTopics,
  transactionalProducer,
  waitFor,
} from "../support/helpers.ts";

// generate writes only into empty topics or topics it filled itself: a topic whose last record it
// did not write (the platform's real topics, reached with the production settings) is refused in
// one line before anything is produced, unless --into-nonempty-topics says it is meant.

const generate = (topics: TestTopics, ...args: string[]) =>
  runCliSync(["generate", "--events", "200", ...args], {
    KAFKA_BOOTSTRAP_SERVERS: BROKER,
    KAFKA_TOPIC_PREFIX: topics.prefix,
    KAFKA_GROUP_ID: randomName("gen-group-"),
    LOG_LEVEL: "silent",
  });

const sources = (topics: TestTopics) => topics.all.filter((x) => x !== topics.dlq);

/** Every partition's end offset of the five source topics, as "topic/partition=end". */
async function endOffsets(topics: TestTopics): Promise<string[]> {
  const consumer = new Consumer({ clientId: "tests-offsets", bootstrapBrokers: [BROKER], groupId: randomName("gen-") });
  try {
    // Uncommitted: a transaction's marker counts as soon as the broker has it.
    const ends = await consumer.listOffsets({
      topics: sources(topics),
      isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
    });
    return [...ends].flatMap(([topic, list]) => list.map((end, p) => `${topic}/${p}=${end}`)).sort();
  } finally {
    await consumer.close();
  }
}

const total = (offsets: string[]) => offsets.reduce((sum, x) => sum + Number(x.split("=")[1]), 0);

/** One record as another producer writes it, without the header, on `topic` under the prefix. */
async function foreignRecord(t: TestContext, topics: TestTopics, topic = "order") {
  const producer = await testProducer(t);
  await producer.send({
    messages: [{ topic: `${topics.prefix}${topic}`, key: Buffer.from("k"), value: Buffer.from("{}"), partition: 1 }],
  });
}

const refusal = (topics: TestTopics, topic: string, offset: number) =>
  `analytics-service: generate: ${topics.prefix}${topic} on ${BROKER} holds records generate did not write (partition 1, offset ${offset}, without the ${GENERATED_HEADER} header): these look like real topics, read by every consumer of them, and fake events would reach them all; set KAFKA_TOPIC_PREFIX (now ${topics.prefix}) to a prefix of test topics, or pass --into-nonempty-topics if you mean to write into these\n`;

test("generate refuses topics holding a record it did not write, produces nothing, and says what to do", async (t) => {
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  // Generated records first, then a real one last on order/1: the last record decides.
  assert.equal(generate(topics).status, 0);
  const before = await endOffsets(topics);
  const at = Number(before.find((x) => x.startsWith(`${topics.prefix}order/1=`))?.split("=")[1]);
  await producer.send({
    messages: [{ topic: `${topics.prefix}order`, key: Buffer.from("k"), value: Buffer.from("{}"), partition: 1 }],
  });
  const withForeign = await endOffsets(topics);
  const r = generate(topics);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, refusal(topics, "order", at));
  assert.deepEqual(await endOffsets(topics), withForeign, "nothing produced");
});

test("generate writes into empty topics, again into its own, marking every record", async (t) => {
  const topics = await testTopics(t);
  for (const run of [1, 2]) {
    const r = generate(topics, "--seed", String(run));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(total(await endOffsets(topics)), 200 * run);
  }
  const users = await readTopic(`${topics.prefix}user`, 1);
  for (const m of users) assert.deepEqual(m.entries, [[GENERATED_HEADER, "true"]]);
});

test("--into-nonempty-topics writes into topics holding others' records", async (t) => {
  const topics = await testTopics(t);
  await foreignRecord(t, topics);
  assert.equal(generate(topics).status, 1);
  const r = generate(topics, "--into-nonempty-topics");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(total(await endOffsets(topics)), 201);
});

test("a transaction's commit marker at the end is looked past, to the record before it", async (t) => {
  const topics = await testTopics(t);
  const producer = transactionalProducer(t);
  const tx = await producer.beginTransaction();
  await tx.send({
    messages: [{ topic: `${topics.prefix}post`, key: Buffer.from("k"), value: Buffer.from("{}"), partition: 1 }],
  });
  await tx.commit();
  // Offset 0 is the record, 1 its transaction's marker, which the coordinator writes after the commit returns.
  await waitFor("the commit marker", async () => (await endOffsets(topics)).includes(`${topics.prefix}post/1=2`));
  const r = generate(topics);
  assert.equal(r.stderr, refusal(topics, "post", 0));
});

test("a partition whose records were all deleted counts as empty", async (t) => {
  const topics = await testTopics(t);
  await foreignRecord(t, topics);
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  await admin.deleteRecords({
    topics: [{ name: `${topics.prefix}order`, partitions: [{ partition: 1, offset: 1n }] }],
  });
  const r = generate(topics);
  assert.equal(r.status, 0, r.stderr);
});

test("large records before the marker: the whole window is read, not only the first fetch's part of it", async (t) => {
  const topics = await testTopics(t);
  const topic = `${topics.prefix}post`;
  // 400 kB each (random: the test producer's gzip can't shrink them), one batch each: a fetch of
  // 1 MiB holds about two. Four generated records at 0 to 3, another producer's at 4, its marker at 5.
  const big = () => randomBytes(400_000);
  const producer = await testProducer(t);
  for (let i = 0; i < 4; i++) {
    await producer.send({
      messages: [
        {
          topic,
          key: Buffer.from("g"),
          value: big(),
          partition: 1,
          headers: new Map([[Buffer.from(GENERATED_HEADER), Buffer.from("true")]]),
        },
      ],
    });
  }
  const tx = await transactionalProducer(t).beginTransaction();
  await tx.send({ messages: [{ topic, key: Buffer.from("k"), value: big(), partition: 1 }] });
  await tx.commit();
  await waitFor("the commit marker", async () => (await endOffsets(topics)).includes(`${topic}/1=6`));
  const r = generate(topics);
  assert.equal(r.stderr, refusal(topics, "post", 4));
});
