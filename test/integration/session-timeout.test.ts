import assert from "node:assert/strict";
import { test } from "node:test";
import { migrate } from "../../src/db/migrate.ts";
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
  testPool,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// The configuration allows a session timeout of up to 5 minutes (for members paused longer than
// the default allows); the Kafka client refused any longer than its rebalance timeout (102 s).

test(
  "a session timeout longer than the client's default rebalance timeout starts and consumes",
  { timeout: 60_000 },
  async (t) => {
    const db = await testDatabase(t);
    const topics = await testTopics(t, 1);
    await migrate(testPool(t, db));
    const config = testConfig(db, topics, { KAFKA_SESSION_TIMEOUT_MS: "300000" });
    const { log } = capturingLogger();
    const service = await startService(config, log);
    t.after(() => service.stop());
    const producer = await testProducer(t);
    const id = hexId(1, "5e");
    await produce(producer, topics.prefix, [emit("user.created", id, fixture("user.created").value.data as never)]);
    const sources = topics.all.filter((x) => x !== topics.dlq);
    await waitFor("the event applied", () => caughtUp(config.kafkaGroupId, sources, 1), 30_000);
    assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users WHERE user_id = ?", [id]), [{ n: "1" }]);
  },
);
