import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin, Consumer } from "@platformatic/kafka";
import { SourceStream } from "../../src/read/source-stream.ts";
import { startService } from "../../src/service.ts";
import {
  BROKER,
  capturingLogger,
  caughtUp,
  hexId,
  produce,
  randomName,
  testConfig,
  testDatabase,
  testProducer,
  testTopics,
  userCreated,
  waitFor,
} from "../support/helpers.ts";

// A group without committed offsets starts at KAFKA_AUTO_OFFSET_RESET. Under `latest`, a partition
// with no event since then had nothing committed, so a restart started at `latest` again, past
// what came while the service was down: those events were never read. The service now commits
// where it stands on such partitions, as a Kafka consumer commits its position.

const user = (n: number) => userCreated(n, "1a");

test("under latest, an event that comes while the service is down, before any other, is read after the restart", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 2);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, { KAFKA_AUTO_OFFSET_RESET: "latest" });
  const sources = topics.all.filter((x) => x !== topics.dlq);
  // Events from before the group's first start: latest skips them.
  await produce(producer, topics.prefix, [user(1), user(2), user(3)]);

  const first = await startService(config, capturingLogger().log);
  t.after(() => first.stop());
  await waitFor("where the group stands committed", () => caughtUp(config.kafkaGroupId, sources, 2), 30_000);
  await first.stop();

  await produce(producer, topics.prefix, [user(4)]);
  const second = await startService(config, capturingLogger().log);
  t.after(() => second.stop());
  await waitFor("caught up again", () => caughtUp(config.kafkaGroupId, sources, 2), 30_000);
  const rows = await db.query<{ user_id: string }>("SELECT user_id FROM users ORDER BY user_id");
  assert.deepEqual(
    rows.map((r) => r.user_id),
    [hexId(4, "1a")],
    "the event that came while the service was down is applied; the ones from before its first start are not",
  );
});

test("a partition handed over with events another member has not applied is not committed past them", async (t) => {
  const topics = await testTopics(t, 2);
  const topic = `${topics.prefix}user`;
  const group = randomName("idle-handover-");
  const producer = await testProducer(t);
  for (const partition of [0, 1]) {
    await producer.send({
      messages: Array.from({ length: 10 }, (_, i) => ({
        topic,
        partition,
        key: Buffer.from(`k${i}`),
        value: Buffer.from("{}"),
      })),
    });
  }
  // The group stands at 0 on both partitions: their 10 events are a backlog nobody has applied yet.
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(async () => {
    await admin.deleteGroups({ groups: [group] }).catch(() => {});
    await admin.close();
  });
  const partitionOffsets = [0, 1].map((partition) => ({ partition, offset: 0n }));
  await admin.alterConsumerGroupOffsets({ groupId: group, topics: [{ name: topic, partitionOffsets }] });

  const member = (clientId: string) =>
    new Consumer<Buffer, Buffer, Buffer, Buffer>({
      clientId,
      bootstrapBrokers: [BROKER],
      groupId: group,
      autocommit: false,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
    });
  // Another member holds a partition and has read none of its backlog (it never fetches).
  const other = member("tests-other-member");
  const otherStream = await other.consume({ topics: [topic], mode: "committed", fallbackMode: "latest" });
  // The service's stream, under latest, joins and reads the partition it is given.
  const consumer = member("tests-service");
  t.after(() => consumer.close(true));
  const source = new SourceStream(
    consumer,
    async () => [topic],
    { autoOffsetReset: "latest", batchMaxEvents: 100, batchMaxBytes: 1 << 20 },
    capturingLogger().log,
  );
  t.after(() => source.close());
  const reader = await source.open();
  const owned = () => consumer.assignments?.flatMap((a) => a.partitions) ?? [];
  await waitFor(
    "each member holding one partition",
    async () => owned().length === 1 && (other.assignments?.[0]?.partitions.length ?? 0) === 1,
  );
  await waitFor("the service's partition read", async () => reader.size === 10);

  // The other member leaves: its partition, and its backlog, are handed to the service. Where the
  // service's stream stands on it, until it has read the group's offsets again, is not where the
  // group stands: the pipeline's commit of the idle positions may come at any moment, this one too.
  const inHandover: Promise<unknown>[] = [];
  consumer.on("consumer:group:join", () => inHandover.push(Promise.resolve(source.idlePositions())));
  await otherStream.close();
  await other.close();
  await waitFor("the service owning both partitions", async () => owned().length === 2 && inHandover.length > 0);
  for (const positions of await Promise.all(inHandover)) {
    assert.deepEqual(positions, [], "no position past the other member's 10 unapplied events is to be committed");
  }
});
