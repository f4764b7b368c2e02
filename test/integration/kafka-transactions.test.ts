import assert from "node:assert/strict";
import { test } from "node:test";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  hexId,
  testConfig,
  testDatabase,
  testService,
  testTopics,
  transactionalProducer,
  waitFor,
} from "../support/helpers.ts";

// A transactional producer's aborted transactions are never applied: two of one producer in one
// fetch, and one larger than a fetch (its abort marker comes in a later one). The Kafka client
// alone let both through (src/read/client-fixes/aborted-transactions.ts).

test("events of aborted transactions never reach MySQL; the committed ones after them do", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = transactionalProducer(t);
  let next = 1;
  /** One transaction of `count` user.created events, each with about `bioBytes` of bio. */
  const transaction = async (count: number, outcome: "commit" | "abort", bioBytes = 100) => {
    const tx = await producer.beginTransaction();
    const ids = Array.from({ length: count }, () => hexId(next++, "e1"));
    const base = fixture("user.created").value.data as { profile: object };
    const events = ids.map((id) =>
      emit("user.created", id, {
        ...base,
        profile: { ...base.profile, bio: `${outcome} ${"b".repeat(bioBytes)}` },
      } as never),
    );
    for (let i = 0; i < events.length; i += 200) {
      await tx.send({
        messages: events.slice(i, i + 200).map((e) => ({
          topic: `${topics.prefix}user`,
          key: Buffer.from(e.key),
          value: Buffer.from(JSON.stringify(e.value)),
        })),
      });
    }
    await (outcome === "commit" ? tx.commit() : tx.abort());
    return ids;
  };
  await transaction(3, "abort");
  await transaction(3, "abort");
  const firstCommitted = await transaction(3, "commit");
  // 3,000 events of ~500 bytes: more than the service's 1 MiB fetch.
  await transaction(3000, "abort", 400);
  const lastCommitted = await transaction(3, "commit");

  await testService(t, testConfig(db, topics));
  const committed = [...firstCommitted, ...lastCommitted];
  // The partition is applied in order: once the last committed events are in, every record before them was read.
  await waitFor("the committed events applied", async () => {
    const [row] = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM users WHERE user_id IN (?)", [committed]);
    return row?.n === String(committed.length);
  });
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users"), [{ n: "6" }]);
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users WHERE bio LIKE 'abort%'"), [{ n: "0" }]);
});
