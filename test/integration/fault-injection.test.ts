import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { DLQ_HEADERS, TRUNCATED_COPY_BYTES } from "../../src/dead-letter/letter.ts";
import { createRandom } from "../../src/generate/random.ts";
import { type Generated, generateStream } from "../../src/generate/stream.ts";
import { startPrivateServer, stopPrivateServer } from "../../tools/stack/mariadb-server.ts";
import { compareTables } from "../support/compare.ts";
import {
  BROKER,
  caughtUp,
  committedTotal,
  produce,
  readTopic,
  spawnService,
  type TestDatabase,
  type TestTopics,
  testDatabase,
  testEnv,
  testMariaServer,
  testProducer,
  testTopics,
  topicSize,
  waitFor,
} from "../support/helpers.ts";
import { applyModel, modelRows } from "../support/model.ts";

// Break things on purpose while a seeded random stream of all five domains is consumed — with
// duplicates, re-sent older events, deletes, restores, cancels and ~1% poison of every docs/events.md#bad-input
// class — then require the tables to equal an independent model of docs/events.md#what-each-event-does applied to the
// stream (per-table checksums, row diff on mismatch) and the dead-letter topic to hold exactly
// the poison. FAULT_EVENTS raises the stream size (CI runs 20,000).

const EVENTS = Number(process.env.FAULT_EVENTS ?? 20000);
const PARTITIONS = 6;
const SLOW = 240_000;

interface Scenario {
  db: TestDatabase;
  topics: TestTopics;
  env: Record<string, string>;
  stream: Generated[];
  sources: string[];
}

async function scenario(t: TestContext, seed: number, events: number, mysqlPort?: number): Promise<Scenario> {
  const db = await testDatabase(t, mysqlPort);
  const topics = await testTopics(t, PARTITIONS);
  const stream = generateStream({ seed, events });
  const producer = await testProducer(t);
  await produce(
    producer,
    topics.prefix,
    stream.map((g) => ({ topic: g.topic, key: g.key, value: g.value })),
  );
  const env = testEnv(db, topics, {
    // Small batches: the stream takes long enough to drain that the faults land mid-stream.
    BATCH_MAX_EVENTS: "200",
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    ...(mysqlPort ? { MYSQL_PORT: String(mysqlPort) } : {}),
  });
  return { db, topics, env, stream, sources: topics.all.filter((x) => x !== topics.dlq) };
}

const group = (s: Scenario) => s.env.KAFKA_GROUP_ID as string;
/** More committed than `before`, or nothing left to commit. */
const progressed = async (s: Scenario, before: bigint) =>
  (await committedTotal(group(s), s.sources, PARTITIONS)) > before || caughtUp(group(s), s.sources, PARTITIONS);
const drained = (s: Scenario) =>
  waitFor("every offset committed", () => caughtUp(group(s), s.sources, PARTITIONS), SLOW);

/** The tables equal the model; the dead-letter topic holds each poison message once or more, and nothing else. */
async function verify(s: Scenario): Promise<void> {
  const expected = modelRows(applyModel(s.stream));
  const { equal, report } = await compareTables(await s.db.connect(), expected);
  assert.ok(equal, `tables differ from the model:\n${report}`);

  const poison = s.stream.filter((g) => g.poison);
  assert.ok(poison.length >= EVENTS / 200, "the stream carries poison");
  const total = await topicSize(s.topics.dlq);
  const letters = await readTopic(s.topics.dlq, total, 60000);
  // At-least-once: a crash after the dead letter was written but before the commit writes it again.
  const distinct = new Map<string, Buffer>();
  for (const l of letters) {
    const at = `${l.headers.get(DLQ_HEADERS.topic)}:${l.headers.get(DLQ_HEADERS.partition)}:${l.headers.get(DLQ_HEADERS.offset)}`;
    distinct.set(at, l.value);
  }
  const key = (b: Buffer | null) => (b ?? Buffer.alloc(0)).subarray(0, TRUNCATED_COPY_BYTES).toString("base64");
  const want = poison.map((g) => key(g.value)).sort();
  const got = [...distinct.values()].map((v) => key(v)).sort();
  assert.equal(got.length, want.length, "one dead letter per poison message");
  assert.deepEqual(got, want, "the dead letters are exactly the poison messages");
}

test(
  `SIGKILL five times at random moments over ${EVENTS} events: tables equal the model`,
  { timeout: 600_000 },
  async (t) => {
    const s = await scenario(t, 20251125, EVENTS);
    const random = createRandom(7);
    for (let kill = 1; kill <= 5; kill++) {
      const before = await committedTotal(group(s), s.sources, PARTITIONS);
      const service = spawnService(t, s.env);
      await waitFor(`progress before kill ${kill}`, async () => await progressed(s, before), SLOW);
      // A random moment after the first commit: mid-batch, mid-commit or mid-dead-letter.
      await new Promise((resolve) => setTimeout(resolve, random.int(0, 400)));
      assert.equal(await service.kill("SIGKILL"), null);
    }
    const last = spawnService(t, s.env);
    await drained(s);
    await verify(s);

    await t.test("replay from the earliest offsets: identical tables, no timestamp ever moves back", async () => {
      // A signal during start-up (before the handlers exist) would just kill it: wait until it has joined.
      await waitFor("the service in the group", async () => last.log().includes("joined the consumer group"));
      assert.equal(await last.kill("SIGTERM"), 0);
      const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
      await waitFor("group deleted", async () => {
        await admin.deleteGroups({ groups: [group(s)] });
        return true;
      });
      await admin.close();
      const before = await versions(s.db);
      spawnService(t, s.env);
      let samples = 0;
      let previous = before;
      while (!(await caughtUp(group(s), s.sources, PARTITIONS))) {
        const now = await versions(s.db);
        for (const [id, ts] of previous) {
          const current = now.get(id);
          assert.ok(current !== undefined && current >= ts, `${id} moved from ${ts} to ${current} during the replay`);
        }
        previous = now;
        samples++;
      }
      assert.ok(samples > 0, "the replay was sampled while it ran");
      await verify(s);
    });
  },
);

test(
  `the database stopped and killed while ${EVENTS} events are consumed: tables equal the model`,
  { timeout: 600_000 },
  async (t) => {
    const server = await testMariaServer(t);
    const s = await scenario(t, 4242, EVENTS, server.port);
    spawnService(t, s.env);
    for (const kill of [false, true]) {
      const before = await committedTotal(group(s), s.sources, PARTITIONS);
      await waitFor("progress", () => progressed(s, before), SLOW);
      await stopPrivateServer(server, { kill });
      await startPrivateServer(server);
    }
    await drained(s);
    await verify(s);
  },
);

test(
  "three instances over 6 partitions, one killed mid-stream: tables equal the model",
  { timeout: 600_000 },
  async (t) => {
    const s = await scenario(t, 99, Math.min(EVENTS, 10000));
    const instances = [spawnService(t, s.env), spawnService(t, s.env), spawnService(t, s.env)];
    await waitFor("progress", async () => (await committedTotal(group(s), s.sources, PARTITIONS)) > 0n, SLOW);
    assert.equal(await instances[1]?.kill("SIGKILL"), null);
    await drained(s);
    await verify(s);
  },
);

/** Every parent row's event_timestamp, keyed by table and id. */
async function versions(db: TestDatabase): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [table, key] of [
    ["users", "user_id"],
    ["suppliers", "supplier_id"],
    ["products", "product_id"],
    ["orders", "order_id"],
    ["posts", "post_id"],
  ] as const) {
    const rows = await db.query<Record<string, string>>(`SELECT ${key} AS id, event_timestamp AS ts FROM ${table}`);
    for (const r of rows) out.set(`${table}:${r.id}`, r.ts as string);
  }
  return out;
}
