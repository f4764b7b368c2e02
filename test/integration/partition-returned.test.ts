import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { type TestContext, test } from "node:test";
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

// A partition taken away from the service while a batch of it is in hand, and handed back by the
// next rebalance: the service joined both, so no lapse says it was another member's in between.
// In each test a batch's users partitions are written while its products partitions wait on a
// table lock, a second member takes a users partition and commits past what the service wrote,
// and hands it back; the service must not move that commit back once the lock is gone.

const N = 6;

/** N users and N products over two partitions each, a migrated database, and the products tables locked. */
async function usersWrittenProductsLocked(t: TestContext) {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 2);
  const usersTopic = `${topics.prefix}user`;
  const productsTopic = `${topics.prefix}product`;
  const producer = await testProducer(t);
  const send = (topic: string, partition: number, e: ReturnType<typeof emit>) =>
    producer.send({
      messages: [{ topic, partition, key: Buffer.from(e.key), value: Buffer.from(JSON.stringify(e.value)) }],
    });
  const doc = (type: string) => fixture(type).value.data as Record<string, unknown>;
  const user = (i: number, tag: string) => emit("user.created", hexId(i, tag), doc("user.created") as never);
  for (let i = 0; i < N; i++) {
    await send(usersTopic, i % 2, user(i, "c1"));
    await send(productsTopic, i % 2, emit("product.created", hexId(i, "c3"), doc("product.created") as never));
  }
  await migrate(testPool(t, db));
  // The products transactions wait on the lock; the users ones commit.
  const locker = await adminConnection(db.name);
  t.after(() => locker.end());
  await locker.query("LOCK TABLES products WRITE, product_variants WRITE, entity_tombstones WRITE");
  return {
    db,
    topics,
    sources: topics.all.filter((x) => x !== topics.dlq),
    usersTopic,
    productsTopic,
    send,
    user,
    unlock: () => locker.query("UNLOCK TABLES"),
  };
}

/** Starts the service with one batch in hand at a time; resolves once that batch waits on the lock. */
async function startWithOneBatch(
  t: TestContext,
  s: Awaited<ReturnType<typeof usersWrittenProductsLocked>>,
  groupId?: string,
) {
  const config = testConfig(s.db, s.topics, {
    ...(groupId === undefined ? {} : { KAFKA_GROUP_ID: groupId }),
    BATCHES_IN_FLIGHT: "1",
    BATCH_LINGER_MS: "1500",
    LOG_LEVEL: "info",
  });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  await waitFor("the users rows written", async () => (await rowCount(s.db.conn, "users")) === N, 30000);
  await waitFor("the products transactions waiting on the lock", async () => (await tableLockWaits(s.db)) > 0);
  return { config, joins: () => lines.filter((l) => String(l.msg).startsWith("joined the consumer group")).length };
}

test("a partition that moved away and came back while its batch was in hand keeps the other owner's commit", async (t) => {
  const s = await usersWrittenProductsLocked(t);
  const { usersTopic, productsTopic, send } = s;
  const { config, joins } = await startWithOneBatch(t, s);

  // Another member takes one of the users partitions, writes later events there and commits them.
  const other = new Consumer({
    clientId: "tests-other-owner",
    bootstrapBrokers: [BROKER],
    groupId: config.kafkaGroupId,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    autocommit: false,
  });
  const stream = await other.consume({ topics: s.sources, mode: "committed", fallbackMode: "earliest" });
  stream.pause();
  await waitFor("the other member holding a users partition", async () =>
    Boolean(other.assignments?.some((a) => a.topic === usersTopic && a.partitions.length > 0)),
  );
  await waitFor("the service rejoined", async () => joins() >= 2);
  const moved = other.assignments?.find((a) => a.topic === usersTopic)?.partitions[0] as number;
  for (let i = 0; i < 3; i++) {
    await send(usersTopic, moved, s.user(100 + i, "c1"));
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
  await s.unlock();
  await waitFor("the products rows written", async () => (await rowCount(s.db.conn, "products")) === N, 30000);
  await waitFor("the products offsets committed", async () =>
    (await committed()).products.every((o) => o === BigInt(N / 2)),
  );
  assert.equal((await committed()).users, end, "the users partition's committed offset moved back");
});

// With read-ahead: while the batch waits, later events of the users partitions reach the service's
// reader. One users partition moves to the other member, which commits past those events, and
// comes back; the batch's own partitions stay the service's throughout. The events read ahead
// were read in the tenure that ended: written, they would be applied after the other owner's, and
// their offsets would move its commit back.

/** The users partition that moves to the other member and back. */
const MOVED = 1;

test("events read ahead of a partition that moved away and came back are not written", async (t) => {
  const s = await usersWrittenProductsLocked(t);
  const { usersTopic, send } = s;

  // The other member joins first, so it leads the group and decides who owns what: the service
  // everything, but for the partitions in `toOther` (the single-member assignment is all its own,
  // but it never reads nor commits them).
  const toOther = new Set<string>();
  const other = new Consumer({
    clientId: "tests-other-owner",
    bootstrapBrokers: [BROKER],
    groupId: `group-returned-${s.topics.prefix.slice(1, -1)}`,
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
  const stream = await other.consume({ topics: s.sources, mode: "committed", fallbackMode: "earliest" });
  stream.pause();

  const { joins } = await startWithOneBatch(t, s, other.groupId);
  const othersUsers = () => other.assignments?.find((a) => a.topic === usersTopic)?.partitions ?? [];

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
    await send(usersTopic, i % 2, s.user(i, "c2"));
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
    await send(usersTopic, MOVED, s.user(200 + i, "c1"));
  }
  const end = BigInt(N + 3);
  await other.commit({ offsets: [{ topic: usersTopic, partition: MOVED, offset: end, leaderEpoch: -1 }] });
  toOther.clear();
  seen = joins();
  await other.joinGroup({});
  await waitFor("the users partition back", async () => othersUsers().length === 0 && joins() > seen);

  const committed = async () =>
    (await other.listCommittedOffsets({ topics: [{ topic: usersTopic, partitions: [0, 1] }] })).get(usersTopic) ?? [];
  await s.unlock();
  await waitFor("the products rows written", async () => (await rowCount(s.db.conn, "products")) === N, 30000);
  await waitFor(
    "the events read ahead of the partition kept committed",
    async () => (await committed())[1 - MOVED] === BigInt(N),
    30000,
  );
  assert.equal((await committed())[MOVED], end, "the other owner's commit moved back");
});
