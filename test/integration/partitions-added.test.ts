import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  BROKER,
  hexId,
  testConfig,
  testDatabase,
  testProducer,
  testService,
  testTopics,
  topicsReady,
  userCreated,
  waitFor,
} from "../support/helpers.ts";
import { addPartitions, usersOnPartitions } from "../support/partition-users.ts";

// A partition added to a source topic while the service runs is read without a restart: the
// client does not rejoin the group for it by itself (src/read/partition-watch.ts).

test("a partition added to a source topic while the service runs is assigned and its events applied", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const { send, applied } = usersOnPartitions(t, db, `${topics.prefix}user`, "f1");

  await testService(t, testConfig(db, topics));
  await send(1, 0);
  await waitFor("the first event applied", () => applied(1));

  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  await addPartitions(admin, `${topics.prefix}user`, 2);
  await send(2, 1);
  await waitFor("the event of the new partition applied", () => applied(2), 60_000);
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users"), [{ n: "2" }]);
});

test("two instances in one group: a source topic created while they run is assigned and all its partitions read", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 2);
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  const post = `${topics.prefix}post`;
  await admin.deleteTopics({ topics: [post] });
  await waitFor("the post topic gone", async () => !(await admin.listTopics()).includes(post));
  const config = testConfig(db, topics);
  await testService(t, config);
  await testService(t, config);
  const producer = await testProducer(t);
  const user = (n: number) => userCreated(n, "f2");
  await producer.send({
    messages: [0, 1].map((partition) => {
      const e = user(partition);
      return {
        topic: `${topics.prefix}user`,
        partition,
        key: Buffer.from(e.key),
        value: Buffer.from(JSON.stringify(e.value)),
      };
    }),
  });
  await waitFor("the users applied", async () => (await db.query("SELECT user_id FROM users")).length === 2);

  await admin.createTopics({ topics: [post], partitions: 2, replicas: 1 });
  await topicsReady(admin, [post], 2);
  const created = fixture("post.created").value;
  const posts = [0, 1].map((partition) => {
    const id = hexId(partition, "f3");
    const e = emit("post.created", id, { ...(created.data as object), post_id: id } as never);
    return { topic: post, partition, key: Buffer.from(e.key), value: Buffer.from(JSON.stringify(e.value)) };
  });
  // A producer of its own: another's metadata could still say the topic does not exist.
  await (await testProducer(t)).send({ messages: posts });
  await waitFor(
    "both partitions' posts applied",
    async () => (await db.query("SELECT post_id FROM posts")).length === 2,
    60_000,
  );
});
