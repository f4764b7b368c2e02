import assert from "node:assert/strict";
import { test } from "node:test";
import { emit } from "../../src/generate/emit.ts";
import { partitionKey } from "../../src/read/batch-reader.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  caughtUp,
  committedTotal,
  hexId,
  produce,
  testConfig,
  testDatabase,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// Offsets move only after the rows they stand for are committed: stop the service right after
// its first write, and the committed offsets never run ahead of the rows, nor lag behind the
// batches written (shutdown commits what they marked); restart it, and every event is there
// exactly once.

test("stopping right after a write loses nothing and doubles nothing", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  const userDoc = fixture("user.created").value.data as never;
  const orderDoc = fixture("order.created").value.data as Record<string, unknown>;
  const item = (orderDoc.items as Record<string, unknown>[])[0];
  const users = Array.from({ length: 300 }, (_, i) => emit("user.created", hexId(i, "aa"), userDoc));
  const orders = Array.from({ length: 50 }, (_, i) =>
    emit("order.created", hexId(i, "bb"), {
      ...orderDoc,
      order_number: `ORD-${i}`,
      items: [item, { ...item, item_id: "item-2" }],
    } as never),
  );
  await produce(producer, topics.prefix, [...users, ...orders]);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const config = testConfig(db, topics, { BATCH_MAX_EVENTS: "20" });

  // Per partition, the offset after the last event of the batches written before the stop.
  const written = new Map<string, bigint>();
  const first = await testService(t, config, {
    onBatch: (report) => {
      for (const e of report.events) {
        const key = partitionKey(e.topic, e.partition);
        if (e.offset + 1n > (written.get(key) ?? 0n)) written.set(key, e.offset + 1n);
      }
      void first.stop();
    },
  });
  await first.done;
  const committed = await committedTotal(config.kafkaGroupId, sources);
  const writtenTotal = [...written.values()].reduce((a, b) => a + b, 0n);
  assert.equal(committed, writtenTotal, "every batch written before the stop has its offsets committed");
  const [{ n: rowsAfterStop } = { n: 0 }] = await db.query<{ n: number }>(
    "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM orders) AS n",
  );
  assert.ok(committed > 0n, "the first batch was committed");
  assert.ok(committed < 350n, "the service stopped before the end");
  assert.ok(BigInt(rowsAfterStop) >= committed, `committed ${committed} offsets but only ${rowsAfterStop} rows exist`);

  await testService(t, config);
  await waitFor("every event committed", () => caughtUp(config.kafkaGroupId, sources));
  const [counts] = await db.query<{ users: string; orders: string; items: string }>(
    "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM orders) AS orders, (SELECT COUNT(*) FROM order_items) AS items",
  );
  assert.deepEqual(counts, { users: "300", orders: "50", items: "100" }); // COUNT(*) is BIGINT: read as text
});
