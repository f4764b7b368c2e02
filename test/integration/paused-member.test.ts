import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin, Consumer } from "@platformatic/kafka";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  BROKER,
  hexId,
  produce,
  spawnService,
  testDatabase,
  testEnv,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A member stopped past its session timeout (SIGSTOP, a paused VM) is dropped by the group. When
// it wakes, its heartbeat learns so, and until its JoinGroup is answered the Kafka client holds no
// member id. The first commit of the idle partitions' positions, due while it was stopped, went
// out then with a null member id: the broker, unable to read it, closed the connection, and the
// rejoin on it failed six times ("Connection closed"), logged as "no answer from the brokers ...;
// start Kafka" while Kafka was up (read/client-fixes/member-commit.ts).

test(
  "a member paused past its session timeout joins again at once, and says that the group dropped it",
  { timeout: 60_000 },
  async (t) => {
    const db = await testDatabase(t);
    const topics = await testTopics(t, 2);
    const sources = topics.all.filter((x) => x !== topics.dlq);
    const env = testEnv(db, topics);
    const group = env.KAFKA_GROUP_ID as string;
    const producer = await testProducer(t);
    const admin = new Admin({ clientId: "tests-paused", bootstrapBrokers: [BROKER] });
    t.after(() => admin.close());
    const doc = fixture("user.created").value.data as never;
    const applied = async (id: string) => (await db.query("SELECT 1 FROM users WHERE user_id = ?", [id])).length === 1;

    const a = spawnService(t, env);
    await waitFor("the service joined", async () => a.log().includes("joined the consumer group"), 30_000);
    const first = hexId(1, "a1");
    await produce(producer, topics.prefix, [emit("user.created", first, doc)]);
    await waitFor("the first event applied", () => applied(first), 30_000);
    await waitFor("its offset committed", async () => (await committedPartitions(group, sources)) >= 1, 30_000);
    a.child.kill("SIGSTOP");
    t.after(() => a.child.kill("SIGCONT"));
    // Stopped, the service commits nothing more: the partitions without events have no committed
    // offset yet (their first commit comes IDLE_COMMIT_MS, 5 s, after the start), so it is made
    // at the wake, after the heartbeat that finds the member dropped (due sooner, it goes first).
    assert.equal(
      await committedPartitions(group, sources),
      1,
      "only the first event's partition committed before the stop",
    );
    await waitFor(
      "the group to drop the stopped member",
      async () => (await admin.describeGroups({ groups: [group] })).get(group)?.state === "Empty",
      30_000,
    );

    const second = hexId(2, "a1");
    await produce(producer, topics.prefix, [emit("user.created", second, doc)]);
    const logged = a.log().length;
    a.child.kill("SIGCONT");
    await waitFor("the event sent during the stop applied", () => applied(second), 30_000);
    await waitFor(
      "the idle positions committed",
      async () => (await committedPartitions(group, sources)) === sources.length * 2,
      30_000,
    );
    const woke = a.log().slice(logged);
    assert.doesNotMatch(woke, /could not be joined again|no answer from the brokers|start Kafka/);
    assert.match(
      woke,
      /"msg":"the group dropped this member \(it had not been heard from for the session timeout\) and it joined again: the events in hand are not written but read again from the committed offsets"/,
    );
    assert.equal(a.child.exitCode, null);
  },
);

/** How many partitions of `topics` (two each) the group has committed an offset for. */
async function committedPartitions(groupId: string, topics: string[]): Promise<number> {
  const consumer = new Consumer({ clientId: "tests-offsets", bootstrapBrokers: [BROKER], groupId });
  try {
    const committed = await consumer.listCommittedOffsets({
      topics: topics.map((topic) => ({ topic, partitions: [0, 1] })),
    });
    return [...committed.values()].flat().filter((offset) => offset >= 0n).length;
  } finally {
    await consumer.close();
  }
}
