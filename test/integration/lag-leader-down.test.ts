import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin, Producer, stringSerializers } from "@platformatic/kafka";
import { layoutOf, readLag } from "../../src/read/lag.ts";
import { waitUntil } from "../../tools/stack/process.ts";
import { privateKafkaCluster } from "../support/private-servers.ts";

// One broker of two killed: the lag of the partitions the other leads is still read, and
// those the killed one led are not (its address refused, then no leader once the controller
// fences it, in 3 s). Partitions added meanwhile are counted.
test("the lag of the partitions a live broker leads is read while another broker is down", async (t) => {
  const cluster = await privateKafkaCluster(t);
  const [one, two] = cluster.nodes;
  const admin = new Admin({ clientId: "lg-lag", bootstrapBrokers: [one.address, two.address], retries: 0 });
  t.after(() => admin.close());
  const split = [
    { partition: 0, brokers: [1] },
    { partition: 1, brokers: [2] },
  ];
  await admin.createTopics({
    topics: [
      { topic: "lg-user", assignments: split },
      { topic: "lg-order", assignments: [{ partition: 0, brokers: [1] }] },
    ],
  });
  const producer = new Producer({ clientId: "lg-p", bootstrapBrokers: [one.address], serializers: stringSerializers });
  t.after(() => producer.close());
  const records = [0, 0, 0, 1, 1].map((partition) => ({ topic: "lg-user", partition, key: "k", value: "v" }));
  await producer.send({ messages: [...records, { topic: "lg-order", partition: 0, key: "k", value: "v" }] });
  const topics = ["lg-user", "lg-order"];
  const committed = new Map([
    ["lg-user:0", 1n],
    ["lg-user:1", 0n],
    ["lg-order:0", 0n],
  ]);
  // The figures with both brokers up (what was produced: a retried send may have written twice).
  const up = await readLag(admin, topics, committed);
  const [user0, user1] = up.lag.get("lg-user") ?? [];
  const [order0] = up.lag.get("lg-order") ?? [];
  assert.ok(typeof user0 === "bigint" && typeof user1 === "bigint" && typeof order0 === "bigint", String(up.lag));
  assert.ok(user0 >= 2n && user1 >= 2n && order0 >= 1n, String([user0, user1, order0]));
  assert.deepEqual(up.unread, new Set());
  process.kill(two.pid, "SIGKILL");
  const down = await readLag(admin, topics, committed);
  assert.deepEqual(down.lag.get("lg-order"), [order0]);
  assert.deepEqual(down.lag.get("lg-user"), [user0, undefined]);
  assert.deepEqual(down.unread, new Set(["lg-user:1"]));
  await admin.createPartitions({ topics: [{ name: "lg-order", count: 2, assignments: [{ brokerIds: [1] }] }] });
  await waitUntil(
    async () => {
      const layout = await layoutOf(admin, topics);
      return layout.get("lg-user")?.partitions?.[1]?.leader === -1 && layout.get("lg-order")?.partitionsCount === 2;
    },
    { timeoutMs: 15000, what: "node 2 fenced" },
  );
  const fenced = await readLag(admin, topics, committed);
  assert.deepEqual(
    fenced.lag,
    new Map([
      ["lg-user", [undefined, undefined]],
      ["lg-order", [order0, -1n]],
    ]),
  );
});
