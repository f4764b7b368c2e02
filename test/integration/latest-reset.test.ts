import assert from "node:assert/strict";
import { test } from "node:test";
import { emit } from "../../src/generate/emit.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  capturingLogger,
  caughtUp,
  hexId,
  produce,
  testConfig,
  testDatabase,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A group without committed offsets starts at KAFKA_AUTO_OFFSET_RESET. Under `latest`, a partition
// with no event since then had nothing committed, so a restart started at `latest` again, past
// what came while the service was down: those events were never read. The service now commits
// where it stands on such partitions, as a Kafka consumer commits its position.

const user = (n: number) =>
  emit("user.created", hexId(n, "1a"), { ...(fixture("user.created").value.data as object) } as never);

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
