import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { fixture, loadFixtures } from "../../src/testing/fixtures.ts";
import { startPrivateServer, stopPrivateServer } from "../../tools/stack/mariadb-server.ts";
import {
  caughtUp,
  httpProbe,
  privatePort,
  produce,
  testConfig,
  testDatabase,
  testMariaServer,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// /metrics carries every series the runbook names; /readyz follows the database.

test("metrics for each series, health, and readiness that follows the database", async (t) => {
  const server = await testMariaServer(t);
  const db = await testDatabase(t, server.port);
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  const port = await privatePort();
  const config = testConfig(db, topics, {
    MYSQL_PORT: String(server.port),
    METRICS_PORT: String(port),
    RETRY_MAX_BACKOFF_MS: "300",
  });
  const get = httpProbe(port);
  await testService(t, config);
  assert.deepEqual(await get("/healthz"), { status: 200, body: "ok\n" });
  // METRICS_HOST (127.0.0.1 by default) only: another loopback address is refused.
  const probe = connect(port, "127.0.0.2");
  const elsewhere = await new Promise<string>((resolve) => {
    probe.once("connect", () => resolve("connected"));
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
  probe.destroy();
  assert.equal(elsewhere, "ECONNREFUSED");

  // A post of its own: the fixture post is deleted later in the stream, and only an event that is
  // applied has its unknown values counted.
  const post = structuredClone(fixture("post.created"));
  const storyId = "65a1f0c2e4b0a1b2c3d4e5fb";
  Object.assign(post, { key: storyId });
  Object.assign(post.value, { entity_id: storyId });
  Object.assign(post.value.data as Record<string, unknown>, { id: storyId, post_type: "story" });
  await produce(producer, topics.prefix, [
    ...loadFixtures(),
    post,
    { topic: "user", key: "65a1f0c2e4b0a1b2c3d4e5f6", value: Buffer.from("not json") },
  ]);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("all committed", () => caughtUp(config.kafkaGroupId, sources));
  await waitFor("ready", async () => (await get("/readyz")).status === 200);

  const metrics = await waitFor("lag series", async () => {
    const { body } = await get("/metrics");
    return body.includes("analytics_consumer_lag{") ? body : undefined;
  });
  for (const series of [
    'analytics_events_total{event_type="user.created",outcome="applied"} 1',
    'analytics_events_total{event_type="product.deleted",outcome="applied"} 1',
    'analytics_events_total{event_type="unparsed",outcome="rejected"} 1',
    'analytics_dead_letters_total{reason="not_json"} 1',
    'analytics_rows_total{table="product_variants",operation="replace"}',
    'analytics_rows_total{table="users",operation="upsert"}',
    'analytics_unknown_enum_values_total{field="posts.post_type",value="story"} 1',
    "analytics_batch_events_bucket{",
    "analytics_batch_duration_seconds_bucket{",
    'analytics_outage{dependency="MySQL"} 0',
    "analytics_group_member 1",
    `analytics_consumer_lag{topic="${topics.prefix}user",partition="0"} 0`,
    "analytics_freshness_seconds ",
    'analytics_mysql_pool_connections{state="idle"}',
    "process_cpu_user_seconds_total",
  ]) {
    assert.ok(metrics.includes(series), `missing: ${series}`);
  }

  await stopPrivateServer(server);
  const down = await waitFor("unready", async () => {
    const r = await get("/readyz");
    return r.status === 503 ? r : undefined;
  });
  assert.match(down.body, /MySQL does not answer/);
  await produce(producer, topics.prefix, [fixture("user.updated")]);
  await waitFor("outage visible", async () =>
    (await get("/metrics")).body.includes('analytics_outage{dependency="MySQL"} 1'),
  );
  await startPrivateServer(server);
  await waitFor("ready again", async () => (await get("/readyz")).status === 200, 30000);
  const after = (await get("/metrics")).body;
  assert.match(after, /analytics_retries_total\{dependency="MySQL"\} [1-9]/);
  assert.ok(after.includes('analytics_outage{dependency="MySQL"} 0'));
});
