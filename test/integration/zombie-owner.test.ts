import assert from "node:assert/strict";
import { test } from "node:test";
import { migrate } from "../../src/db/migrate.ts";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  adminConnection,
  caughtUp,
  hexId,
  lockWaits,
  openTransactions,
  spawnService,
  testDatabase,
  testEnv,
  testPool,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A batch its member retries after a database outage, once a rebalance has handed its partition
// to another member that wrote the partition's later events: the old owner must not write its
// older batch over them. Two events of one entity with one timestamp (docs/events.md#ordering-and-staleness:
// equal timestamps apply) make such a late write visible: the first applied after the second undoes it.

test(
  "a batch retried after an outage is not written once its partition has moved away",
  { timeout: 150_000 },
  async (t) => {
    const db = await testDatabase(t);
    const topics = await testTopics(t, 2);
    const sources = topics.all.filter((x) => x !== topics.dlq);
    await migrate(testPool(t, db));
    const producer = await testProducer(t);
    const users = [hexId(0, "b1"), hexId(1, "b1")];
    const doc = fixture("user.created").value.data as Record<string, unknown>;
    const named = (name: string) => ({ ...doc, profile: { ...(doc.profile as object), display_name: name } });
    // User i on partition i of the user topic, whatever its key hashes to.
    const send = (type: "user.created" | "user.updated", name: string, timestamp: string) =>
      producer.send({
        messages: users.map((id, partition) => {
          const e = emit(type, id, named(name) as never, { timestamp });
          return {
            topic: `${topics.prefix}user`,
            partition,
            key: Buffer.from(id),
            value: Buffer.from(JSON.stringify(e.value)),
          };
        }),
      });
    const T = "2026-03-02T10:00:00.000000Z";
    const env = testEnv(db, topics, { BATCH_MAX_EVENTS: "2" });
    const group = env.KAFKA_GROUP_ID as string;
    const names = async () => {
      const [rows] = await db.conn.query("SELECT display_name AS n FROM users ORDER BY user_id");
      return (rows as { n: string }[]).map((r) => r.n);
    };

    // A alone owns both partitions and applies the creates.
    const serviceA = spawnService(t, env);
    await send("user.created", "created", "2026-03-02T09:00:00.000000Z");
    await waitFor(
      "both creates committed",
      async () => (await names()).length === 2 && caughtUp(group, sources, 2),
      60000,
    );

    // Both rows locked: A's batches of the first twins wait on them.
    const locker = await adminConnection(db.name);
    t.after(() => locker.end());
    await locker.query("START TRANSACTION");
    await locker.query("SELECT * FROM users FOR UPDATE");
    await send("user.updated", "first", T);
    await waitFor("A's two batches waiting on the lock", async () => (await lockWaits(db)).length === 2, 30000);
    const ofA = await lockWaits(db);
    await send("user.updated", "second", T);

    // B joins and is given one of the partitions: it reads it from the commit and waits on the lock too.
    const a = serviceA;
    spawnService(t, env);
    await waitFor("B waiting on the lock too", async () => (await lockWaits(db)).length === 3, 60000);
    // A's statements fail (an outage: A waits and retries); the lock goes, B writes both twins of its user.
    for (const id of ofA) await db.conn.query(`KILL QUERY ${id}`);
    await locker.query("ROLLBACK");
    await waitFor("both partitions committed", () => caughtUp(group, sources, 2), 60000);
    // A drops the batch of the partition it lost and reads on from the commits (before the fix it
    // wrote it, and never said so); then no transaction of either is left open.
    await waitFor(
      "A read on from the committed offsets",
      async () => a.log().includes("partitions moved while their events were in hand"),
      60000,
    );
    await waitFor("no transaction open", async () => (await openTransactions(db)) === 0, 30000);
    assert.deepEqual(await names(), ["second", "second"], "each partition's last event stands");
  },
);
