import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import zlib from "node:zlib";
import { Admin } from "@platformatic/kafka";
import { emit } from "../../src/generate/emit.ts";
import { MAX_MARKED_RECORDS } from "../../src/read/client-fixes/batch-markers.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { batchBytes } from "../../src/testing/record-batches.ts";
import {
  adminConnection,
  BROKER,
  caughtUp,
  hexId,
  spawnService,
  type TestDatabase,
  testDatabase,
  testEnv,
  testTopics,
  topicSize,
  waitFor,
} from "../support/helpers.ts";
import { setTopicConfig, type TestTopics } from "../support/kafka.ts";
import { produceRaw } from "../support/raw-produce.ts";

// Records of a few bytes each (no key, no value), 100,000 to a zstd batch: 80 KB on the wire. The
// client makes several objects of every record of a response before any caller sees one, and a
// response was parsed until its batches had decompressed to 64 MiB, which these never reach:
// four such batches in one response ran the service's 256 MB heap out, and again at every
// restart. A response is now parsed until it has made MAX_RECORDS_PER_FETCH records
// (src/read/client-fixes/fetch-budget.ts); the rest is fetched again.

/** One user.created of user `hexId(n, "e9")`, produced after the flood as any producer sends it: its id. */
async function userAfter(topic: string, n: number, timestamp: bigint): Promise<string> {
  const id = hexId(n, "e9");
  const e = emit("user.created", id, { ...(fixture("user.created").value.data as object), id } as never);
  const value = Buffer.from(JSON.stringify(e.value));
  await produceRaw(topic, 0, batchBytes([{ offsetDelta: 0, key: Buffer.from(id), value }], { timestamp }));
  return id;
}

/**
 * The service spawned on the topics until every offset is committed, an exit ending the wait at
 * once (it failed); the users it wrote, and a check that it is still running.
 */
async function drained(t: TestContext, db: TestDatabase, topics: TestTopics) {
  const env = testEnv(db, topics);
  const service = spawnService(t, env);
  const exited = () => service.child.exitCode !== null || service.child.signalCode !== null;
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor(
    "every offset committed",
    async () => exited() || caughtUp(env.KAFKA_GROUP_ID as string, sources, 1),
    180_000,
  );
  const running = () => assert.ok(!exited(), `the service exited:\n${service.log().slice(-2000)}`);
  running();
  const conn = await adminConnection(db.name);
  t.after(() => conn.end());
  const [rows] = await conn.query("SELECT user_id FROM users");
  return { users: (rows as { user_id: string }[]).map((r) => r.user_id), running };
}

const BATCHES = 12;

test("a backlog of compressed batches of 100,000 tiny records each: every offset committed, the service's heap holds", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const topic = `${topics.prefix}user`;
  const timestamp = BigInt(Date.now());
  const tiny = Array.from({ length: MAX_MARKED_RECORDS }, (_, i) => ({ offsetDelta: i, value: null }));
  const level = { params: { [zlib.constants.ZSTD_c_compressionLevel]: 19 } };
  const batch = batchBytes(tiny, { codec: 4, compress: (b) => zlib.zstdCompressSync(b, level), timestamp });
  // All of them fit one fetch response of 1 MiB.
  assert.ok(batch.length * BATCHES < 1024 * 1024, `${batch.length} bytes a batch`);
  for (let i = 0; i < BATCHES; i++) await produceRaw(topic, 0, batch);
  // And an event as any producer sends it, after them.
  const id = await userAfter(topic, 1, timestamp);
  const { users, running } = await drained(t, db, topics);
  assert.deepEqual(users, [id]);
  running();
});

test("an uncompressed batch of 450,000 tiny records, on a topic raised for 4 MiB events: read as markers, dead letters, the service's heap holds", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const topic = `${topics.prefix}user`;
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  // A topic that takes events of MAX_MESSAGE_BYTES at its largest, uncompressed.
  await setTopicConfig(admin, topic, "max.message.bytes", String(8 * 1024 * 1024));
  const timestamp = BigInt(Date.now());
  const tiny = Array.from({ length: 450_000 }, (_, i) => ({ offsetDelta: i, value: null }));
  const batch = batchBytes(tiny, { timestamp });
  // 4 MB: the client made all 450,000 records of it at once, and the 256 MB heap ran out at every start.
  assert.ok(batch.length < 4.5 * 1024 * 1024, `${batch.length} bytes`);
  await produceRaw(topic, 0, batch);
  const id = await userAfter(topic, 2, timestamp);
  const { users } = await drained(t, db, topics);
  assert.deepEqual(users, [id]);
  // One letter per marker: as many as a batch is read with.
  await waitFor("the letters written", async () => (await topicSize(topics.dlq)) === MAX_MARKED_RECORDS, 30_000);
});
