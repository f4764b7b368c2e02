import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { type Decoder, DecoderFailedError, inlineDecoder } from "../src/apply/decoder.ts";
import { migrate } from "../src/db/migrate.ts";
import { emit } from "../src/events/emit.ts";
import { createLogger } from "../src/log.ts";
import { startService } from "../src/service.ts";
import { fixture } from "./fixtures.ts";
import {
  adminConnection,
  caughtUp,
  committedTotal,
  hexId,
  produce,
  testConfig,
  testDatabase,
  testPool,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "./helpers.ts";

// Batches of different partitions are written side by side (BATCHES_IN_FLIGHT): a partition
// whose transaction waits on MySQL holds back only itself. Here the users table is locked, so
// the user partition's batch waits; the product partition's batch is written and committed
// meanwhile, and the user partition follows once the lock is gone.

const doc = (type: string) => fixture(type).value.data as Record<string, unknown>;
const count = async (conn: Awaited<ReturnType<typeof adminConnection>>, table: string) => {
  const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number((rows as { n: number }[])[0]?.n);
};

/** Locks the users table; `reader` is a second session, since one holding LOCK TABLES reads only what it locked. */
async function lockUsers(t: TestContext, db: { name: string }) {
  const locker = await adminConnection(db.name);
  t.after(() => locker.end());
  const reader = await adminConnection(db.name);
  t.after(() => reader.end());
  await locker.query("LOCK TABLES users WRITE");
  return { locker, reader };
}

test("a partition waiting on a locked table does not hold back another partition", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await migrate(testPool(t, db));
  // Users first: read first, they would hold up the products in a pipeline of one batch at a time.
  await produce(await testProducer(t), topics.prefix, [
    emit("user.created", hexId(1, "b1"), doc("user.created") as never),
    emit("user.created", hexId(2, "b1"), doc("user.created") as never),
    emit("product.created", hexId(1, "b3"), doc("product.created") as never),
    emit("product.created", hexId(2, "b3"), doc("product.created") as never),
  ]);

  const { locker, reader } = await lockUsers(t, db);
  const config = testConfig(db, topics, { BATCH_MAX_EVENTS: "2" });
  await testService(t, config);

  try {
    await waitFor("the products written and committed while users are locked", async () => {
      const committed = await committedTotal(config.kafkaGroupId, [`${topics.prefix}product`], 1);
      return committed === 2n && (await count(reader, "products")) === 2;
    });
    assert.equal(await count(locker, "users"), 0, "the users batch went past the lock");
    assert.equal(await committedTotal(config.kafkaGroupId, [`${topics.prefix}user`], 1), 0n);
  } finally {
    // Also when the test fails: the database is dropped after it, which the lock would hold up.
    await locker.query("UNLOCK TABLES");
  }
  await waitFor("every event committed", () => caughtUp(config.kafkaGroupId, sources, 1));
  assert.equal(await count(reader, "users"), 2);
  assert.equal(await count(reader, "products"), 2);
});

test("a decoder failure while the partition's previous batch is written stops the service with that error", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  await migrate(testPool(t, db));
  await produce(
    await testProducer(t),
    topics.prefix,
    [1, 2, 3, 4].map((n) => emit("user.created", hexId(n, "b5"), doc("user.created") as never)),
  );
  // The second batch's decoding fails while the first waits on the lock: the failure must stop
  // the pipeline (not surface as an unhandled rejection), after the first batch is finished.
  const inline = inlineDecoder(1 << 20);
  let calls = 0;
  const decoder: Decoder = {
    decode: (values) =>
      ++calls === 2 ? Promise.reject(new DecoderFailedError("the decoder failed on cue")) : inline.decode(values),
    close: () => inline.close(),
  };
  const { locker, reader } = await lockUsers(t, db);
  const config = testConfig(db, topics, { BATCH_MAX_EVENTS: "2" });
  const service = await startService(config, createLogger("silent"), { decoder });
  const stopped = service.done.then(
    () => "stopped without an error",
    (err: unknown) => err,
  );
  try {
    await waitFor("the second batch handed to the decoder", async () => calls >= 2);
  } finally {
    await locker.query("UNLOCK TABLES");
  }
  const outcome = await stopped;
  assert.ok(outcome instanceof DecoderFailedError, `the service ended with: ${String(outcome)}`);
  assert.equal(await count(reader, "users"), 2, "the first batch was not finished");
  assert.equal(await committedTotal(config.kafkaGroupId, [`${topics.prefix}user`], 1), 2n);
});
