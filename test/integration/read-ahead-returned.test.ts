import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
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

// As partition-returned.test.ts, but the service has also read ahead: while its batch waits on a
// table lock, later events of the users partitions reach its reader. One users partition moves to
// another member, which commits past those events, and comes back; the partitions of the batch
// that waits stay the service's throughout. The events read ahead of the partition that moved
// were read in the tenure that ended: written, they are applied after the other owner's, and
// their offsets move its commit back.

const N = 6;
/** The users partition that moves to the other member and back. */
const MOVED = 1;

test("events read ahead of a partition that moved away and came back are not written", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 2);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const usersTopic = `${topics.prefix}user`;
  const producer = await testProducer(t);
  const send = (topic: string, partition: number, e: ReturnType<typeof emit>) =>
    producer.send({
      messages: [{ topic, partition, key: Buffer.from(e.key), value: Buffer.from(JSON.stringify(e.value)) }],
    });
  const doc = (type: string) => fixture(type).value.data as Record<string, unknown>;
  for (let i = 0; i < N; i++) {
    await send(usersTopic, i % 2, emit("user.created", hexId(i, "c1"), doc("user.created") as never));
    await send(
      `${topics.prefix}product`,
      i % 2,
      emit("product.created", hexId(i, "c3"), doc("product.created") as never),
    );
  }
  await migrate(testPool(t, db));

  // The other member joins first, so it leads the group and decides who owns what: the service
  // everything, but for the partitions in `toOther` (the single-member assignment is all its own,
  // but it never reads nor commits them).
  const toOther = new Set<string>();
  const other = new Consumer({
    clientId: "tests-other-owner",
    bootstrapBrokers: [BROKER],
    groupId: `group-hD-${topics.prefix.slice(1, -1)}`,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    autocommit: false,
    partitionAssigner: (self, members, subscribed, metadata) => {
      const service = [...members.keys()].find((id) => id !== self) as string;
      const out = [...members.keys()].map((memberId) => ({
        memberId,
        assignments: new Map<string, { topic: string; partitions: number[] }>(),
      }));
      for (const topic of subscribed) {
        for (let p = 0; p < (metadata.topics.get(topic)?.partitionsCount ?? 0); p++) {
          const owner = toOther.has(`${topic}:${p}`) ? self : service;
          const member = out.find((m) => m.memberId === owner)?.assignments;
          const entry = member?.get(topic) ?? { topic, partitions: [] };
          entry.partitions.push(p);
          member?.set(topic, entry);
        }
      }
      return out;
    },
  });
  t.after(() => other.close(true));
  const stream = await other.consume({ topics: sources, mode: "committed", fallbackMode: "earliest" });
  stream.pause();

  const locker = await adminConnection(db.name);
  t.after(() => locker.end());
  await locker.query("LOCK TABLES products WRITE, product_variants WRITE, entity_tombstones WRITE");
  const config = testConfig(db, topics, {
    KAFKA_GROUP_ID: other.groupId,
    BATCHES_IN_FLIGHT: "1",
    BATCH_LINGER_MS: "1500",
    LOG_LEVEL: "info",
  });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  const joins = () => lines.filter((l) => String(l.msg).startsWith("joined the consumer group")).length;
  const othersUsers = () => other.assignments?.find((a) => a.topic === usersTopic)?.partitions ?? [];
  await waitFor("the users rows written", async () => (await rowCount(db.conn, "users")) === N, 30000);
  await waitFor("the products transactions waiting on the lock", async () => (await tableLockWaits(db)) > 0);

  // Read ahead: the batch in hand holds the pipeline back, not the stream's fetches. The client
  // tells its diagnostics channel of every record its stream takes in: the moved partition's three
  // are awaited there, as the service's stream (not the other member's) receives them.
  const readAhead = new Set<bigint>();
  const received = (ctx: unknown) => {
    const { client, result } = ctx as {
      client: { clientId: string };
      result?: { topic: string; partition: number; offset: bigint };
    };
    if (client.clientId !== other.clientId && result?.topic === usersTopic && result.partition === MOVED)
      readAhead.add(result.offset);
  };
  const receives = "tracing:plt:kafka:consumer:receives:asyncEnd";
  subscribe(receives, received);
  t.after(() => unsubscribe(receives, received));
  for (let i = 0; i < N; i++) {
    await send(usersTopic, i % 2, emit("user.created", hexId(i, "c2"), doc("user.created") as never));
  }
  await waitFor("the moved partition's later events in the service's reader", async () =>
    [3n, 4n, 5n].every((o) => readAhead.has(o)),
  );

  // The leader's rejoin rebalances the group: the users partition moves to it.
  toOther.add(`${usersTopic}:${MOVED}`);
  let seen = joins();
  await other.joinGroup({});
  await waitFor("the users partition moved", async () => othersUsers().includes(MOVED) && joins() > seen);
  // Its owner applies the events read ahead and three more, and commits past them.
  for (let i = 0; i < 3; i++) {
    await send(usersTopic, MOVED, emit("user.created", hexId(200 + i, "c1"), doc("user.created") as never));
  }
  const end = BigInt(N + 3);
  await other.commit({ offsets: [{ topic: usersTopic, partition: MOVED, offset: end, leaderEpoch: -1 }] });
  toOther.clear();
  seen = joins();
  await other.joinGroup({});
  await waitFor("the users partition back", async () => othersUsers().length === 0 && joins() > seen);

  const committed = async () =>
    (await other.listCommittedOffsets({ topics: [{ topic: usersTopic, partitions: [0, 1] }] })).get(usersTopic) ?? [];
  await locker.query("UNLOCK TABLES");
  await waitFor("the products rows written", async () => (await rowCount(db.conn, "products")) === N, 30000);
  await waitFor(
    "the events read ahead of the partition kept committed",
    async () => (await committed())[1 - MOVED] === BigInt(N),
    30000,
  );
  assert.equal((await committed())[MOVED], end, "the other owner's commit moved back");
});
