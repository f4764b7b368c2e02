import assert from "node:assert/strict";
import { test } from "node:test";
import { Consumer } from "@platformatic/kafka";
import { migrate } from "../../src/db/migrate.ts";
import { emit } from "../../src/generate/emit.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  adminConnection,
  BROKER,
  capturingLogger,
  hexId,
  rowCount,
  tableLockWaits,
  testConfig,
  testDatabase,
  testPool,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A batch's users partition is written and its transaction committed while the batch's products
// partition waits on a table lock. Meanwhile a second member takes the users partition, its
// owner commits past what the service wrote, and the partition comes back to the service (two
// rebalances the service joined both of: no lapse). The batch's offsets, marked once the products
// transaction is through, must not move back what the other owner committed.

const N = 6;

test("a partition that moved away and came back while its batch was in hand keeps the other owner's commit", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 2);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const usersTopic = `${topics.prefix}user`;
  const productsTopic = `${topics.prefix}product`;
  const producer = await testProducer(t);
  const send = (topic: string, partition: number, e: ReturnType<typeof emit>) =>
    producer.send({
      messages: [{ topic, partition, key: Buffer.from(e.key), value: Buffer.from(JSON.stringify(e.value)) }],
    });
  const doc = (type: string) => fixture(type).value.data as Record<string, unknown>;
  for (let i = 0; i < N; i++) {
    await send(usersTopic, i % 2, emit("user.created", hexId(i, "c1"), doc("user.created") as never));
    await send(productsTopic, i % 2, emit("product.created", hexId(i, "c3"), doc("product.created") as never));
  }
  await migrate(testPool(t, db));

  // The products transactions wait on the lock; the users ones commit.
  const locker = await adminConnection(db.name);
  t.after(() => locker.end());
  await locker.query("LOCK TABLES products WRITE, product_variants WRITE, entity_tombstones WRITE");
  // One batch in hand, all of the events in it.
  const config = testConfig(db, topics, { BATCHES_IN_FLIGHT: "1", BATCH_LINGER_MS: "1500", LOG_LEVEL: "info" });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  const joins = () => lines.filter((l) => String(l.msg).startsWith("joined the consumer group")).length;
  await waitFor("the users rows written", async () => (await rowCount(db.conn, "users")) === N, 30000);
  await waitFor("the products transactions waiting on the lock", async () => (await tableLockWaits(db)) > 0);

  // Another member takes one of the users partitions, writes later events there and commits them.
  const other = new Consumer({
    clientId: "tests-other-owner",
    bootstrapBrokers: [BROKER],
    groupId: config.kafkaGroupId,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    autocommit: false,
  });
  const stream = await other.consume({ topics: sources, mode: "committed", fallbackMode: "earliest" });
  stream.pause();
  await waitFor("the other member holding a users partition", async () =>
    Boolean(other.assignments?.some((a) => a.topic === usersTopic && a.partitions.length > 0)),
  );
  await waitFor("the service rejoined", async () => joins() >= 2);
  const moved = other.assignments?.find((a) => a.topic === usersTopic)?.partitions[0] as number;
  for (let i = 0; i < 3; i++) {
    await send(usersTopic, moved, emit("user.created", hexId(100 + i, "c1"), doc("user.created") as never));
  }
  const end = BigInt(N / 2 + 3);
  await other.commit({ offsets: [{ topic: usersTopic, partition: moved, offset: end, leaderEpoch: -1 }] });
  const committed = async () => {
    const reader = new Consumer({
      clientId: "tests-offsets",
      bootstrapBrokers: [BROKER],
      groupId: config.kafkaGroupId,
    });
    try {
      const offsets = await reader.listCommittedOffsets({
        topics: [
          { topic: usersTopic, partitions: [moved] },
          { topic: productsTopic, partitions: [0, 1] },
        ],
      });
      return { users: offsets.get(usersTopic)?.[moved], products: offsets.get(productsTopic) ?? [] };
    } finally {
      await reader.close();
    }
  };
  assert.equal((await committed()).users, end, "the other owner's commit");
  await stream.close();
  await other.close();
  await waitFor("the service rejoined with every partition", async () => joins() >= 3);

  // The batch goes through, and marks its offsets.
  await locker.query("UNLOCK TABLES");
  await waitFor("the products rows written", async () => (await rowCount(db.conn, "products")) === N, 30000);
  await waitFor("the products offsets committed", async () =>
    (await committed()).products.every((o) => o === BigInt(N / 2)),
  );
  assert.equal((await committed()).users, end, "the users partition's committed offset moved back");
});
