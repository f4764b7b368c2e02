import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config/index.ts";
import { emit } from "../../src/generate/emit.ts";
import { createLogger } from "../../src/log.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  capturingLogger,
  hexId,
  privatePort,
  produce,
  testDatabase,
  testEnv,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// Instances of one group share its partitions: with different databases, each would get part of
// the events. The second one waits for the first to leave, and says why.

const user = (n: number) => {
  const id = hexId(n, "9d");
  return emit("user.created", id, { ...(fixture("user.created").value.data as object), id } as never);
};

test("an instance of the group with another database waits, saying why, until the member writing elsewhere has left", async (t) => {
  const [one, two] = [await testDatabase(t), await testDatabase(t)];
  const topics = await testTopics(t, 2);
  const env = testEnv(one, topics);
  const first = await startService(loadConfig(env), createLogger("silent"));
  t.after(() => first.stop());
  const producer = await testProducer(t);
  await produce(producer, topics.prefix, [user(1), user(2)]);
  const users = async (db: typeof one) => (await db.query("SELECT user_id FROM users")).length;
  await waitFor("the first instance to apply both", async () => (await users(one)) === 2);

  const { log, lines } = capturingLogger();
  const port = await privatePort();
  const starting = startService(loadConfig({ ...env, MYSQL_DATABASE: two.name, METRICS_PORT: String(port) }), log);
  t.after(async () => (await starting).stop());
  const conflict = await waitFor("the conflict to be said", async () =>
    lines.find((l) => String(l.msg).includes("writes to another database")),
  );
  assert.match(
    String(conflict.msg),
    new RegExp(
      `^Kafka group unavailable, pausing and retrying with backoff: a member of KAFKA_GROUP_ID ${env.KAFKA_GROUP_ID} writes to another database \\(${one.name} at 127\\.0\\.0\\.1:\\d+; this one: ${two.name} at 127\\.0\\.0\\.1:\\d+\\)`,
    ),
  );
  // Probes and alerts see it: not ready, and an outage of its own (AnalyticsDependencyOutage).
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(ready.status, 503);
  assert.match(await ready.text(), /a member of the consumer group writes to another database/);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, /^analytics_outage\{dependency="Kafka group"\} 1$/m);
  await produce(producer, topics.prefix, [user(3)]);
  await waitFor("the first instance to apply the third", async () => (await users(one)) === 3);
  assert.equal(await users(two), 0, "the second instance read nothing while the first was in the group");

  await first.stop();
  await starting;
  await produce(producer, topics.prefix, [user(4)]);
  await waitFor("the second instance to apply the fourth", async () => (await users(two)) === 1);
  assert.equal(lines.filter((l) => String(l.msg).includes("writes to another database")).length, 1, "said once");
});

test("instances of the group on one database, named two ways, share it", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 2);
  const env = testEnv(db, topics);
  const first = await startService(loadConfig(env), createLogger("silent"));
  t.after(() => first.stop());
  const { log, lines } = capturingLogger();
  const second = await startService(loadConfig({ ...env, MYSQL_HOST: "localhost" }), log);
  t.after(() => second.stop());
  const producer = await testProducer(t);
  await produce(producer, topics.prefix, [user(1), user(2), user(3), user(4)]);
  await waitFor("all four applied", async () => (await db.query("SELECT user_id FROM users")).length === 4);
  assert.ok(!lines.some((l) => String(l.msg).includes("another database")));
});
