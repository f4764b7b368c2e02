import assert from "node:assert/strict";
import { test } from "node:test";
import { SOURCE_TOPICS } from "../../src/kafka/topics.ts";
import { startService } from "../../src/service.ts";
import {
  capturingLogger,
  caughtUp,
  httpProbe,
  privatePort,
  produce,
  testConfig,
  testDatabase,
  testKafkaBroker,
  testProducer,
  userUpdates,
  waitFor,
} from "../support/helpers.ts";

// A broker of the test's own stops answering without closing its connections (SIGSTOP: a hung
// JVM, a paused VM, a network that drops packets). The fetch in flight waited for the client's
// 30 s request timeout, then for each of its retries, with no line, /readyz ready and no outage
// counted. It is an outage within seconds, naming the broker, and over once it answers again.

test(
  "a broker that stops answering is an outage within seconds, naming it; over when it answers",
  { timeout: 240_000 },
  async (t) => {
    const kafka = await testKafkaBroker(t);
    const broker = kafka.broker;
    const pid = await kafka.pid();
    const db = await testDatabase(t);
    const port = await privatePort();
    const config = testConfig(db, kafka.topics, { KAFKA_BOOTSTRAP_SERVERS: broker, METRICS_PORT: String(port) });
    const { log, lines } = capturingLogger();
    const service = await startService(config, log);
    t.after(() => service.stop());
    const get = httpProbe(port);
    const kafkaOutage = async () => /analytics_outage\{dependency="Kafka"\} 1/.test((await get("/metrics")).body);
    const wave = (version: number) => userUpdates(20, "5e", version);
    const sources = [...SOURCE_TOPICS];
    const producer = await testProducer(t, broker);
    await produce(producer, "", wave(1));
    await waitFor("wave 1", () => caughtUp(config.kafkaGroupId, sources, 2, broker), 60000);
    assert.deepEqual(await get("/readyz"), { status: 200, body: "ready\n" });

    // The service fetches (200 ms a fetch), heartbeats and commits: each waits on the stopped broker.
    process.kill(pid, "SIGSTOP");
    const stopped = Date.now();
    const outageLines = () => lines.filter((l) => /^Kafka (unavailable|is back)/.test(String(l.msg))).map((l) => l.msg);
    await waitFor("the silence said", async () => outageLines().length === 1, 20000);
    assert.ok(Date.now() - stopped < 15000, `said ${Date.now() - stopped} ms after the broker stopped`);
    assert.equal(
      outageLines()[0],
      `Kafka unavailable, pausing and retrying with backoff: no answer from broker ${broker} for 10 s (paused, hung or cut off by the network; its connections stay open): what it leads and coordinates waits for it`,
    );
    const ready = await get("/readyz");
    assert.equal(ready.status, 503);
    assert.match(ready.body, /paused: waiting for Kafka/);
    assert.equal(await kafkaOutage(), true);

    process.kill(pid, "SIGCONT");
    await waitFor("the outage over", async () => outageLines().length === 2, 60000);
    assert.match(String(outageLines()[1]), /^Kafka is back after/);
    assert.equal(await kafkaOutage(), false);
    await produce(producer, "", wave(2));
    await waitFor("wave 2", () => caughtUp(config.kafkaGroupId, sources, 2, broker), 120000);
    await waitFor("ready again", async () => (await get("/readyz")).status === 200, 30000);
    assert.deepEqual(await db.query("SELECT version, COUNT(*) AS n FROM users GROUP BY version"), [
      { version: 2, n: "20" },
    ]);
    assert.equal(outageLines().length, 2, "one outage, said once");
  },
);
