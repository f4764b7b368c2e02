import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { startService } from "../../src/service.ts";
import {
  BROKER,
  capturingLogger,
  caughtUp,
  produce,
  testConfig,
  testDatabase,
  testProducer,
  testTopics,
  userCreated,
  waitFor,
} from "../support/helpers.ts";

// Under KAFKA_AUTO_OFFSET_RESET=latest, a group that lost its committed offsets while the service
// was stopped (deleted by an operator, expired after offsets.retention.minutes, or a changed
// KAFKA_GROUP_ID) starts at the end: the events that came meanwhile are never read. That is
// Kafka's rule, but nothing said it; the start now warns when the database was written before.

const user = (n: number) => userCreated(n, "2b");

test("a group whose offsets were deleted while the service was stopped is said at the next start under latest", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, { KAFKA_AUTO_OFFSET_RESET: "latest" });

  const first = capturingLogger();
  const one = await startService(config, first.log);
  t.after(() => one.stop());
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  // Where it stands is committed within 5 s; then an event is read and applied.
  await waitFor("where the group stands committed", async () => {
    const [group] = await admin.listConsumerGroupOffsets({
      groups: [{ groupId: config.kafkaGroupId, topics: [{ name: `${topics.prefix}user`, partitionIndexes: [0] }] }],
    });
    return group?.topics[0]?.partitions[0]?.committedOffset === 0n;
  });
  await produce(producer, topics.prefix, [user(1)]);
  await waitFor("the first event applied", async () => (await db.query("SELECT 1 FROM users")).length === 1);
  await waitFor("its offset committed", () => caughtUp(config.kafkaGroupId, sources, 1));
  await one.stop();
  assert.ok(!first.lines.some((l) => /has no committed offsets/.test(String(l.msg))), "a new group is not warned of");

  await produce(producer, topics.prefix, [user(2)]);
  await admin.deleteGroups({ groups: [config.kafkaGroupId] });

  const second = capturingLogger();
  const two = await startService(config, second.log);
  t.after(() => two.stop());
  const said = second.lines.filter((l) => /has no committed offsets on the source topics/.test(String(l.msg)));
  assert.equal(said.length, 1, "one line at start");
  assert.match(
    String(said[0]?.msg),
    new RegExp(
      `^KAFKA_GROUP_ID ${config.kafkaGroupId} has no committed offsets on the source topics, but the database holds rows this service wrote: .*KAFKA_AUTO_OFFSET_RESET=latest .* rewind --to`,
    ),
  );
});
