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
import { rawMember, subscription } from "../support/raw-group.ts";

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

// A SIGTERM while the group rebalances: the consumer closes with its rejoin under way (a member
// that does not join again holds the JoinGroup up to its rebalance timeout), and the rejoin fails
// after the close. The same comes of a broker that answers again, after a pause, during the
// shutdown: it has dropped the member, which is joining again when the consumer closes.
test("SIGTERM while the consumer joins the group again: stops and exits 0 at once", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = testEnv(db, topics, { SHUTDOWN_TIMEOUT_MS: "10000" });
  const group = env.KAFKA_GROUP_ID as string;
  // Subscribed as the service is: the leader assigns from the topics every member names.
  const reading = subscription(
    topics.all.filter((x) => x !== topics.dlq),
    Buffer.alloc(0),
  );
  const service = spawnService(t, env);
  await waitFor("the service in its group", async () => service.log().includes("joined the consumer group"), 60000);
  // A member that joins, then only heartbeats: it never joins again, and holds the next rebalance.
  await rawMember(t, group, reading, true, 120000);
  const before = service.log().split("partitions reassigned").length;
  await rawMember(t, group, reading, false);
  // Said as the heartbeat finds the group rebalancing, in the turn that starts the rejoin.
  await waitFor(
    "the service joining again",
    async () => service.log().split("partitions reassigned").length > before,
    30000,
  );
  const sent = Date.now();
  assert.equal(await service.kill("SIGTERM"), 0);
  // Its LeaveGroup waits behind the JoinGroup at the coordinator: given up on, said once.
  assert.match(service.log(), /"msg":"leaving the consumer group got no answer within 5 s \(a rejoin under way/);
  assert.match(service.log(), /"msg":"stopped"/);
  assert.ok(Date.now() - sent < 9000, `exited ${Date.now() - sent} ms after SIGTERM`);
});
