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
  caughtUp,
  hexId,
  produce,
  rowCount,
  tableLockWaits,
  testConfig,
  testDatabase,
  testPool,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";
import { TABLES } from "../support/model.ts";

// A partition taken from the service while its events are in hand, and handed back before any
// commit on it: the service must read it again from the start, not from where its stream had read
// to. The client resets a partition's position only to a committed offset, so the service reopens
// its stream whenever it drops events of a partition it no longer owns (docs/decisions.md).

const N = 10;

test("a partition handed back after its events were dropped is read again from its last commit", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const doc = (type: string) => fixture(type).value.data as Record<string, unknown>;
  const events = Array.from({ length: N }, (_, i) => [
    emit("user.created", hexId(i, "a1"), doc("user.created") as never),
    emit("supplier.created", hexId(i, "a2"), doc("supplier.created") as never),
    emit("product.created", hexId(i, "a3"), doc("product.created") as never),
    emit("order.created", hexId(i, "a4"), { ...doc("order.created"), order_number: `ORD-R-${i}` } as never),
    emit("post.created", hexId(i, "a5"), doc("post.created") as never),
  ]).flat();
  await produce(await testProducer(t), topics.prefix, events);
  await migrate(testPool(t, db));

  // Every table locked: the service's first transaction waits, with the rest of the topics' events in hand.
  const locker = await adminConnection(db.name);
  t.after(() => locker.end());
  await locker.query(`LOCK TABLES ${[...TABLES, "entity_tombstones"].map((n) => `${n} WRITE`).join(", ")}`);
  const config = testConfig(db, topics, { BATCH_MAX_EVENTS: "5", LOG_LEVEL: "info" });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  const said = (text: string) => lines.filter((l) => String(l.msg).startsWith(text)).length;
  await waitFor("the first batch waiting on the lock", async () => (await tableLockWaits(db)) > 0);

  // A second member takes some of the partitions (it never fetches or commits), and leaves again
  // once the service has dropped their events.
  const other = new Consumer({
    clientId: "tests-other-member",
    bootstrapBrokers: [BROKER],
    groupId: config.kafkaGroupId,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    autocommit: false,
  });
  const stream = await other.consume({ topics: sources, mode: "committed", fallbackMode: "earliest" });
  await waitFor("the other member holding partitions", async () =>
    other.assignments?.some((a) => a.partitions.length > 0),
  );
  await waitFor("the service rejoining with the rest", async () => said("joined the consumer group") >= 2);
  await locker.query("UNLOCK TABLES");
  await waitFor("the service reading again from the commits", async () => said("consuming again") >= 1);
  await stream.close();
  await other.close();

  await waitFor("every event committed", () => caughtUp(config.kafkaGroupId, sources, 1), 60000);
  for (const table of ["users", "suppliers", "products", "orders", "posts"]) {
    assert.equal(await rowCount(locker, table), N, table);
  }
});
