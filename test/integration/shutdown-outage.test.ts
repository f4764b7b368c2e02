import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { startLatencyProxy } from "../../tools/bench/latency-proxy.ts";
import { OPERATIONS_DOC } from "../../tools/docs/config-table.ts";
import {
  committedTotal,
  hexId,
  produce,
  spawnService,
  stack,
  testDatabase,
  testEnv,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A stop while the service waits out a MySQL outage: docs/operations.md#run-and-shutdown says what
// the process does, and an operator's supervisor acts on its exit status. The database is reached
// through a relay the test closes, as a network cut would (the bench's latency proxy, without delay).

test("SIGTERM while MySQL is out: exit 0 at once, nothing committed, as the docs say", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  const mysql = await startLatencyProxy({ host: "127.0.0.1", port: stack.mysqlPort }, 0);
  t.after(() => mysql.close());
  const env = testEnv(db, topics, { MYSQL_PORT: String(mysql.port), SHUTDOWN_TIMEOUT_MS: "30000" });
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const service = spawnService(t, env);
  await waitFor("the service in its group", async () => service.log().includes("joined the consumer group"), 60000);

  await mysql.close();
  const doc = fixture("user.created").value.data as never;
  await produce(producer, topics.prefix, [emit("user.created", hexId(1, "e7"), doc)]);
  await waitFor("the outage noticed", async () => service.log().includes("MySQL unavailable"), 30000);

  const asked = performance.now();
  assert.equal(await service.kill("SIGTERM"), 0);
  const tookMs = performance.now() - asked;
  assert.ok(tookMs < 10000, `stopped in ${Math.round(tookMs)} ms, not after SHUTDOWN_TIMEOUT_MS`);
  assert.equal(await committedTotal(env.KAFKA_GROUP_ID as string, sources), 0n, "the event is read again");

  const section = /^### run and shutdown$([\s\S]*?)^### /m.exec(readFileSync(OPERATIONS_DOC, "utf8"))?.[1] ?? "";
  assert.match(section.replace(/\s+/g, " "), /while it waits out an outage of MySQL, it exits 0 at once/);
});
