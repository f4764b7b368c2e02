import assert from "node:assert/strict";
import { test } from "node:test";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  caughtUp,
  hexId,
  produce,
  readTopic,
  spawnService,
  testConfig,
  testDatabase,
  testEnv,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A backlog of large events is taken in batches bounded by their bytes (BATCH_MAX_BYTES), not
// only by their count: two thousand events of a megabyte each, decoded at once, would hold more
// than the service's heap.

test("a backlog of large events is read in batches of at most BATCH_MAX_BYTES, and every event is applied", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  // About 30 KB of media per post: two fit in 64 KiB, three do not.
  const media = Array.from({ length: 180 }, (_, i) => ({
    media_type: "image",
    media_url: `https://cdn.example.com/${"m".repeat(80)}/${i}.jpg`,
  }));
  const posts = Array.from({ length: 30 }, (_, i) =>
    emit("post.created", hexId(i + 1, "d1"), { ...(fixture("post.created").value.data as object), media } as never),
  );
  const size = Buffer.byteLength(JSON.stringify(posts[0]?.value));
  assert.ok(size > 65536 / 3 && size < 65536 / 2, `a post is ${size} bytes`);
  // All of them wait in Kafka before the service starts: a backlog.
  await produce(producer, topics.prefix, posts);

  const batches: number[] = [];
  const config = testConfig(db, topics, { BATCH_MAX_BYTES: "65536" });
  await testService(t, config, {
    onBatch: (report) => batches.push(report.events.length),
  });
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, [`${topics.prefix}post`], 1), 60_000);
  assert.equal(Number((await db.query<{ n: number }>("SELECT COUNT(*) AS n FROM posts"))[0]?.n), 30);
  assert.equal(
    batches.reduce((a, b) => a + b, 0),
    30,
  );
  assert.ok(Math.max(...batches) <= 2, `events per batch: ${batches.join(", ")}`);
});

test("crafted values of MAX_MESSAGE_BYTES at its largest (4 MiB of empty objects, or of lists of 1e400 that a reparse would keep) fit the service's heap", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const limit = 4 * 1024 * 1024;
  /** A post of `limit` bytes whose media item's field x lists `unit` again and again. */
  const crafted = (n: number, unit: string) => {
    const e = emit("post.created", hexId(n, "d2"), fixture("post.created").value.data as never);
    const head = JSON.stringify(e.value).replace('"media_type":', '"x":[],"media_type":');
    const filler = `${unit},`.repeat(Math.floor((limit - Buffer.byteLength(head) - unit.length) / (unit.length + 1)));
    const value = Buffer.from(head.replace('"x":[]', `"x":[${filler}${unit}]`));
    assert.ok(value.length <= limit && value.length > limit - 2 * unit.length - 2, `${value.length} bytes`);
    return { topic: "post", key: e.key, value };
  };
  await produce(producer, topics.prefix, [
    crafted(1, "{}"),
    crafted(3, "[1e400]"),
    emit("post.created", hexId(2, "d2"), fixture("post.created").value.data as never),
  ]);
  // Spawned as deployed, with its 256 MB heap: in this process the test's own heap would be measured.
  const env = testEnv(db, topics, { MAX_MESSAGE_BYTES: String(limit) });
  const service = spawnService(t, env);
  await waitFor(
    "both events committed",
    () => caughtUp(env.KAFKA_GROUP_ID as string, [`${topics.prefix}post`], 1),
    60_000,
  );
  assert.equal(service.child.exitCode, null, service.log());
  // The lists of 1e400 hold more numbers than a reparse keeps: a bad field, dead-lettered.
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM posts"), [{ n: "2" }]);
  const [letter] = await readTopic(topics.dlq, 1);
  assert.equal(letter?.headers.get("dlq.error.code"), "bad_field");
});
