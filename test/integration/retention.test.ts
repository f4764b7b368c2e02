import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { emit } from "../../src/generate/emit.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  BROKER,
  capturingLogger,
  caughtUp,
  hexId,
  produce,
  testConfig,
  testDatabase,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// Events deleted by retention before the group read them: the client reads on from the log's start
// (earliest) or end (latest), as Kafka's consumers do; the service says which offsets it never read.

const users = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) =>
    emit("user.created", hexId(from + i, "7e"), { ...(fixture("user.created").value.data as object) } as never),
  );

for (const reset of ["earliest", "latest"] as const) {
  test(`offsets deleted before the group read them (${reset}): one line naming them, and where it reads on`, async (t) => {
    const db = await testDatabase(t);
    const topics = await testTopics(t, 1);
    const producer = await testProducer(t);
    const config = testConfig(db, topics, { KAFKA_AUTO_OFFSET_RESET: reset });
    const sources = topics.all.filter((x) => x !== topics.dlq);
    const topic = `${topics.prefix}user`;
    // The group joins first: with latest, a group without committed offsets starts at the end.
    const joined = capturingLogger();
    const first = await startService(config, joined.log);
    t.after(() => first.stop());
    await waitFor("the group joined", async () => joined.lines.some((l) => l.msg === "joined the consumer group"));
    await produce(producer, topics.prefix, users(0, 10));
    await waitFor("the first ten committed", () => caughtUp(config.kafkaGroupId, sources, 1), 30000);
    await first.stop();

    // Ten more (offsets 10–19), of which retention deletes the first five before the group is back.
    await produce(producer, topics.prefix, users(10, 10));
    const admin = new Admin({ clientId: "tests-retention", bootstrapBrokers: [BROKER] });
    t.after(() => admin.close());
    await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 15n }] }] });

    const { log, lines } = capturingLogger();
    const second = await startService(config, log);
    t.after(() => second.stop());
    const said = () => lines.filter((l) => String(l.msg).includes("is no longer in the log")).map((l) => String(l.msg));
    await waitFor("the line", async () => said().length > 0, 30000);
    // One more event, so that the group commits past where it read on (with latest, nothing else is read).
    await produce(producer, topics.prefix, users(20, 1));
    await waitFor("caught up again", () => caughtUp(config.kafkaGroupId, sources, 1), 30000);
    const expected =
      reset === "earliest"
        ? `${topic}/0: offset 10 is no longer in the log (offsets 15–19 are): offsets 10–14 were deleted (retention) before the group read them; reading on from 15 (KAFKA_AUTO_OFFSET_RESET=earliest)`
        : `${topic}/0: offset 10 is no longer in the log (offsets 15–19 are): offsets 10–14 were deleted (retention) before the group read them; reading on from 20 (KAFKA_AUTO_OFFSET_RESET=latest); the 5 still in the log are skipped too`;
    assert.deepEqual(said(), [expected]);
    const [{ n } = { n: "" }] = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM users");
    assert.equal(n, reset === "earliest" ? "16" : "11");
  });
}

test("a source topic deleted under the service: named once, the others read on; created again, it is read too", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, { RETRY_MAX_BACKOFF_MS: "500" });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  await waitFor("the group joined", async () => lines.some((l) => l.msg === "joined the consumer group"));
  const post = `${topics.prefix}post`;
  const admin = new Admin({ clientId: "tests-deleted-topic", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  await admin.deleteTopics({ topics: [post] });
  await produce(producer, topics.prefix, users(30, 1));
  // Read on without the deleted topic: the user event is applied while post does not exist.
  await waitFor(
    "the user event applied",
    async () => (await db.query("SELECT user_id FROM users")).length === 1,
    60000,
  );
  const said = (pattern: RegExp) => lines.map((l) => String(l.msg)).filter((m) => pattern.test(m));
  // The stream failed, briefly: its outage line names the topic, the next line what happens now.
  // The user event may be applied before the stream meets the deleted topic (a fetch, a rejoin).
  await waitFor("the deleted topic named", async () => said(/not found/).length >= 2, 60000);
  assert.deepEqual(said(/not found/), [
    `Kafka unavailable, pausing and retrying with backoff: source topic ${post} not found (deleted?)`,
    `source topic ${post} not found (not created yet, deleted, or hidden from this Kafka user): reading the others, and it once it exists`,
  ]);
  assert.ok(!said(/Unknown topic/).some((l) => l.includes(`${topics.prefix}user`)), "the user topic is not blamed");
  await admin.createTopics({ topics: [post], partitions: 1, replicas: 1 });
  await produce(producer, topics.prefix, [fixture("post.created")]);
  await waitFor(
    "the post event applied",
    async () => (await db.query("SELECT post_id FROM posts")).length === 1,
    90000,
  );
  assert.ok(said(/^consuming again from the committed offsets: source topic .* exists now$/).length >= 1);
  await waitFor("caught up", () =>
    caughtUp(
      config.kafkaGroupId,
      topics.all.filter((x) => x !== topics.dlq),
      1,
    ),
  );
});

test("offsets deleted on several partitions of a topic at once: one line for each partition, not only the first", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 3);
  const producer = await testProducer(t);
  const config = testConfig(db, topics);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const topic = `${topics.prefix}user`;
  // Three events on each partition, chosen by hand, so each partition's offsets are known.
  const data = fixture("user.created").value.data as object;
  const send = (from: number) =>
    producer.send({
      messages: [0, 1, 2].flatMap((partition) =>
        [0, 1, 2].map((i) => {
          const e = emit("user.created", hexId(from + partition * 3 + i, "7f"), { ...data } as never);
          return { topic, partition, key: Buffer.from(e.key), value: Buffer.from(JSON.stringify(e.value)) };
        }),
      ),
    });
  const first = await startService(config, capturingLogger().log);
  t.after(() => first.stop());
  await send(0);
  await waitFor("the first nine committed", () => caughtUp(config.kafkaGroupId, sources, 3), 30000);
  await first.stop();

  // Three more on each partition (offsets 3–5), of which retention deletes the first two on
  // partitions 1 and 2 (the first of the topic in the fetch, partition 0, keeps its events).
  await send(9);
  const admin = new Admin({ clientId: "tests-retention", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  await admin.deleteRecords({
    topics: [{ name: topic, partitions: [1, 2].map((partition) => ({ partition, offset: 5n })) }],
  });

  const { log, lines } = capturingLogger();
  const second = await startService(config, log);
  t.after(() => second.stop());
  await waitFor("caught up again", () => caughtUp(config.kafkaGroupId, sources, 3), 30000);
  await waitFor(
    "the users of the log applied",
    async () => (await db.query("SELECT user_id FROM users")).length === 14,
  );
  const said = () =>
    lines
      .filter((l) => String(l.msg).includes("is no longer in the log"))
      .map((l) => String(l.msg))
      .sort();
  await waitFor("a line per partition", async () => said().length >= 2, 10000).catch(() => undefined);
  assert.deepEqual(
    said(),
    [1, 2].map(
      (p) =>
        `${topic}/${p}: offset 3 is no longer in the log (offsets 5–5 are): offsets 3–4 were deleted (retention) before the group read them; reading on from 5 (KAFKA_AUTO_OFFSET_RESET=earliest)`,
    ),
  );
});
