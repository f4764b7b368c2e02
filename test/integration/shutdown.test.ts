import assert from "node:assert/strict";
import { test } from "node:test";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  caughtUp,
  committedTotal,
  hexId,
  produce,
  spawnService,
  testDatabase,
  testEnv,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// SIGTERM in the middle of a backlog: the batches being written are finished and committed, the process
// leaves the group and exits 0 before SHUTDOWN_TIMEOUT_MS would force exit 1; a restart resumes.

test("SIGTERM mid-backlog: exits 0, commits only what is in MySQL, a restart finishes the rest", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  const doc = fixture("user.created").value.data as never;
  const events = Array.from({ length: 3000 }, (_, i) => emit("user.created", hexId(i, "dd"), doc));
  await produce(producer, topics.prefix, events);
  const env = testEnv(db, topics, { BATCH_MAX_EVENTS: "50", SHUTDOWN_TIMEOUT_MS: "10000" });
  const sources = topics.all.filter((x) => x !== topics.dlq);

  const first = spawnService(t, env);
  await waitFor("some progress", async () => (await committedTotal(env.KAFKA_GROUP_ID as string, sources)) > 0n);
  assert.equal(await first.kill("SIGTERM"), 0);
  const committed = await committedTotal(env.KAFKA_GROUP_ID as string, sources);
  const [{ n } = { n: "0" }] = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM users");
  assert.ok(BigInt(n) >= committed, `committed ${committed} offsets, but only ${n} rows exist`);

  spawnService(t, env);
  await waitFor("the rest", () => caughtUp(env.KAFKA_GROUP_ID as string, sources), 60000);
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users"), [{ n: "3000" }]);
});

test("SIGHUP (a closed terminal) stops the service as SIGTERM does: one line, exit 0", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const service = spawnService(t, testEnv(db, topics));
  await waitFor("the service in its group", async () => service.log().includes("joined the consumer group"), 60000);
  assert.equal(await service.kill("SIGHUP"), 0);
  assert.match(service.log(), /SIGHUP: finishing the batches being written, committing, leaving the group/);
  assert.match(service.log(), /"msg":"stopped"/);
});
