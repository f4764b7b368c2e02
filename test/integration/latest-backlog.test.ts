import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { migrate } from "../../src/db/migrate.ts";
import { startService } from "../../src/service.ts";
import {
  adminConnection,
  BROKER,
  capturingLogger,
  caughtUp,
  produce,
  rowCount,
  testConfig,
  testDatabase,
  testPool,
  testProducer,
  testTopics,
  userCreated,
  waitFor,
} from "../support/helpers.ts";

// Under `latest`, where the group stands on a partition without events is committed within 5 s
// (SourceStream.idlePositions), so a restart keeps its place. The reader's buffer full (a backlog
// on another partition, its batch waiting on MySQL) must not hold that commit back: a restart
// then would start at `latest` again, past what those partitions received meanwhile.

test("under latest, a backlog waiting on MySQL does not hold back the commit of the partitions without events", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 2);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const users = `${topics.prefix}user`;
  const config = testConfig(db, topics, { KAFKA_AUTO_OFFSET_RESET: "latest", BATCH_MAX_EVENTS: "5" });
  // The group has read nothing of the user topic yet: its 20 events are a backlog.
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  const partitionOffsets = [0, 1].map((partition) => ({ partition, offset: 0n }));
  await admin.alterConsumerGroupOffsets({ groupId: config.kafkaGroupId, topics: [{ name: users, partitionOffsets }] });
  const user = (n: number) => userCreated(n, "1b");
  await produce(
    await testProducer(t),
    topics.prefix,
    Array.from({ length: 20 }, (_, i) => user(i)),
  );
  await migrate(testPool(t, db));
  // The first batch waits on the lock, and the reader's buffer fills up behind it.
  const locker = await adminConnection(db.name);
  t.after(() => locker.end());
  await locker.query("LOCK TABLES users WRITE");

  const service = await startService(config, capturingLogger().log);
  t.after(() => service.stop());
  const others = sources.filter((x) => x !== users);
  const committedOthers = async () => {
    const offsets = await admin.listConsumerGroupOffsets({
      groups: [{ groupId: config.kafkaGroupId, topics: others.map((name) => ({ name, partitionIndexes: [0, 1] })) }],
    });
    return (offsets[0]?.topics ?? []).flatMap((x) => x.partitions.map((p) => p.committedOffset));
  };
  try {
    await waitFor(
      "the positions of the partitions without events committed while the backlog waits",
      async () => {
        const committed = await committedOthers();
        return committed.length === others.length * 2 && committed.every((o) => o >= 0n);
      },
      15_000,
    );
  } finally {
    await locker.query("UNLOCK TABLES");
  }
  await waitFor("caught up", () => caughtUp(config.kafkaGroupId, sources, 2), 30_000);
  assert.equal(await rowCount(locker, "users"), 20);
});
