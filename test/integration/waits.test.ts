import assert from "node:assert/strict";
import { test } from "node:test";
import mysql from "mysql2/promise";
import { TOPICS } from "../../src/domains/registry.ts";
import { emit } from "../../src/generate/emit.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  capturingLogger,
  caughtUp,
  namedTopics,
  privatePort,
  produce,
  testConfig,
  testDatabase,
  testMariaServer,
  testProducer,
  testTopics,
  topicsReady,
  waitFor,
} from "../support/helpers.ts";

// Conditions the service waits out rather than failing on: topics that don't exist yet, a row
// lock held past the lock wait timeout, a server switched to read-only.

const doc = () => fixture("user.created").value.data as Record<string, unknown>;
const USER = "65a1f0c2e4b0a1b2c3d4e5f6";

test("missing topics are waited for (logged once, and out of the group for the metrics), then consumed", async (t) => {
  const db = await testDatabase(t);
  const { admin, ...topics } = namedTopics(t);
  const port = await privatePort();
  const config = testConfig(db, topics, { METRICS_PORT: String(port) });
  const member = async () =>
    /^analytics_group_member (\d)$/m.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1];
  const { log, lines } = capturingLogger();
  const starting = startService(config, log);
  await waitFor("the wait to be logged", async () => lines.some((l) => String(l.msg).startsWith("waiting for topics")));
  // Up and scraped, but consuming nothing: what AnalyticsNotInGroup watches.
  assert.equal(await member(), "0");
  await admin.createTopics({ topics: topics.all, partitions: 1, replicas: 1 });
  await topicsReady(admin, topics.all, 1);
  const service = await starting;
  t.after(() => service.stop());
  const producer = await testProducer(t);
  await produce(producer, topics.prefix, [fixture("user.created")]);
  await waitFor("the event applied", async () => (await db.query("SELECT user_id FROM users")).length === 1);
  assert.equal(await member(), "1");
  assert.equal(lines.filter((l) => String(l.msg).startsWith("waiting for topics")).length, 1);
  assert.deepEqual(await db.query("SELECT user_id FROM users"), [{ user_id: USER }]);
});

test("source topics that don't exist yet hold back none of the others; each is read once it exists", async (t) => {
  const db = await testDatabase(t);
  const { admin, ...topics } = namedTopics(t);
  const prefix = topics.prefix;
  const first = [`${prefix}user`, topics.dlq];
  await admin.createTopics({ topics: first, partitions: 1, replicas: 1 });
  await topicsReady(admin, first, 1);
  const { log, lines } = capturingLogger();
  const service = await startService(testConfig(db, topics), log);
  t.after(() => service.stop());
  const producer = await testProducer(t);
  await produce(producer, prefix, [fixture("user.created")]);
  await waitFor("the user event applied", async () => (await db.query("SELECT user_id FROM users")).length === 1);
  const missing = TOPICS.filter((x) => x !== "user").map((x) => `${prefix}${x}`);
  assert.ok(
    lines.some(
      (l) =>
        l.msg ===
        `source topics ${missing.join(", ")} not found (not created yet, deleted, or hidden from this Kafka user): reading the others, and these once they exist`,
    ),
  );
  assert.ok(!lines.some((l) => String(l.msg).startsWith("waiting for topics")), "one topic exists: nothing waits");
  await admin.createTopics({ topics: [`${prefix}post`], partitions: 1, replicas: 1 });
  await produce(producer, prefix, [fixture("post.created")]);
  await waitFor(
    "the post event applied",
    async () => (await db.query("SELECT post_id FROM posts")).length === 1,
    60000,
  );
  assert.ok(
    lines.some((l) => l.msg === `consuming again from the committed offsets: source topic ${prefix}post exists now`),
  );
});

test("lock wait timeouts and a read-only server are retried until they pass", async (t) => {
  const server = await testMariaServer(t);
  const db = await testDatabase(t, server.port);
  // The service's own account: read_only does not stop an account with SUPER, so not root.
  await db.conn.query("CREATE USER 'svc'@'127.0.0.1' IDENTIFIED BY 'svc-pass'");
  await db.conn.query(`GRANT ALL ON \`${db.name}\`.* TO 'svc'@'127.0.0.1'`);
  await db.conn.query("SET GLOBAL innodb_lock_wait_timeout = 1");
  const topics = await testTopics(t, 1);
  const config = testConfig(db, topics, {
    MYSQL_PORT: String(server.port),
    MYSQL_USER: "svc",
    MYSQL_PASSWORD: "svc-pass",
    RETRY_MAX_BACKOFF_MS: "300",
  });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  const producer = await testProducer(t);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const update = (version: number) =>
    emit("user.updated", USER, { ...doc(), version } as never, { timestamp: `2026-08-01T00:00:0${version}Z` });
  await produce(producer, topics.prefix, [update(1)]);
  await waitFor("first event", () => caughtUp(config.kafkaGroupId, sources, 1));
  const outages = () => lines.filter((l) => String(l.msg).startsWith("MySQL unavailable"));

  // Another transaction holds the row: the service's locking read times out, and retries.
  const holder = await mysql.createConnection({
    host: "127.0.0.1",
    port: server.port,
    user: "root",
    database: db.name,
  });
  t.after(() => holder.end());
  await holder.query("START TRANSACTION");
  await holder.query("SELECT * FROM users WHERE user_id = ? FOR UPDATE", [USER]);
  await produce(producer, topics.prefix, [update(2)]);
  await waitFor("the lock wait timeout noticed", async () => outages().length === 1, 30000);
  assert.match(String(outages()[0]?.msg), /Lock wait timeout/i);
  await holder.query("ROLLBACK");
  await waitFor("applied after the lock is released", () => caughtUp(config.kafkaGroupId, sources, 1), 30000);

  // A failover in progress: the server refuses writes for a while.
  await holder.query("SET GLOBAL read_only = 1");
  await produce(producer, topics.prefix, [update(3)]);
  await waitFor("read-only noticed", async () => outages().length === 2, 30000);
  assert.match(String(outages()[1]?.msg), /read-only|read_only/i);
  await holder.query("SET GLOBAL read_only = 0");
  await waitFor("applied once writable", () => caughtUp(config.kafkaGroupId, sources, 1), 30000);
  assert.deepEqual(await db.query("SELECT version FROM users"), [{ version: 3 }]);
});
