import assert from "node:assert/strict";
import { test } from "node:test";
import { SOURCE_TOPICS } from "../../src/kafka/topics.ts";
import { startService } from "../../src/service.ts";
import { kafkaDown, kafkaUp } from "../../tools/stack/kafka.ts";
import {
  capturingLogger,
  caughtUp,
  produce,
  testConfig,
  testDatabase,
  testKafkaBroker,
  testProducer,
  userUpdates,
  waitFor,
} from "../support/helpers.ts";

// A broker of the test's own (own data folder and ports, so the shared one is never disturbed)
// is stopped and started again under a running service: it reconnects, loses nothing, commits on.

test("a Kafka broker restart is survived: nothing lost, the service carries on", { timeout: 240_000 }, async (t) => {
  const { stack, broker, topics } = await testKafkaBroker(t);

  const db = await testDatabase(t);
  const config = testConfig(db, topics, { KAFKA_BOOTSTRAP_SERVERS: broker, RETRY_MAX_BACKOFF_MS: "1000" });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  const wave = (version: number) => userUpdates(50, "ab", version);
  const sources = [...SOURCE_TOPICS];

  const first = await testProducer(t, broker);
  await produce(first, "", wave(1));
  await waitFor("wave 1", () => caughtUp(config.kafkaGroupId, sources, 2, broker), 60000);

  await kafkaDown(stack);
  await waitFor("the outage entered", async () => lines.some((l) => String(l.msg).startsWith("Kafka unavailable")));
  // Said as the start says it, with what to do, not as the client's "fetch failed 6 times".
  assert.equal(
    lines.find((l) => String(l.msg).startsWith("Kafka unavailable"))?.msg,
    `Kafka unavailable, pausing and retrying with backoff: nothing is listening at ${broker}; start Kafka or set KAFKA_BOOTSTRAP_SERVERS`,
  );
  await kafkaUp(stack);
  // Before any new event: the first fetch that succeeds ends the outage, even on a quiet group.
  await waitFor(
    "the outage over",
    async () => lines.some((l) => String(l.msg).startsWith("Kafka is back after")),
    60000,
  );
  const second = await testProducer(t, broker);
  await produce(second, "", wave(2));
  await waitFor("wave 2 after the restart", () => caughtUp(config.kafkaGroupId, sources, 2, broker), 120000);
  assert.deepEqual(await db.query("SELECT version, COUNT(*) AS n FROM users GROUP BY version"), [
    { version: 2, n: "50" },
  ]);
  assert.ok(!lines.some((l) => (l.level as number) >= 50), "no error was logged");
});
