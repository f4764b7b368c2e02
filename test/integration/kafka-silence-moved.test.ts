import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { Consumer } from "@platformatic/kafka";
import { SOURCE_TOPICS } from "../../src/kafka/topics.ts";
import { startService } from "../../src/service.ts";
import {
  capturingLogger,
  caughtUp,
  httpProbe,
  privatePort,
  produce,
  randomName,
  testConfig,
  testDatabase,
  testKafkaCluster,
  testProducer,
  userUpdates,
  waitFor,
} from "../support/helpers.ts";

// One broker of two stops answering (SIGSTOP) and stays stopped; the controller moves what it
// led, partitions and the group's coordinator, to the other. Once the service reads from the new
// leaders and asks the silent broker nothing more, the outage is over, /readyz ready, with no event
// to say so: it once stayed on for as long as no event came (for ever on a quiet stream), and the
// lag check, asking the old leader again and again, held /readyz at "paused" for minutes more.
// Whether the stopped broker coordinated the group (the member then joins again on the other) or
// not, it is ready again within a minute (about 40 s in the runs here).
// It is node 2, a broker only: with node 1, the cluster's only controller, nothing would move.

describe(
  "a silent broker whose partitions move to another: the outage ends once they are read there, with no event",
  { concurrency: 2 },
  () => {
    test("it coordinated the group, and is listed first in KAFKA_BOOTSTRAP_SERVERS", { timeout: 300_000 }, (t) =>
      silentBrokerMoved(t, { coordinator: 2, silentFirst: true }),
    );
    test("the other broker coordinates the group", { timeout: 300_000 }, (t) =>
      silentBrokerMoved(t, { coordinator: 1, silentFirst: false }),
    );
  },
);

/**
 * Node 2 of a cluster of the test's own stopped, and left stopped, with the group coordinated by
 * node `coordinator`; `silentFirst`: node 2 listed first in KAFKA_BOOTSTRAP_SERVERS.
 */
async function silentBrokerMoved(
  t: TestContext,
  { coordinator, silentFirst }: { coordinator: 1 | 2; silentFirst: boolean },
) {
  const cluster = await testKafkaCluster(t);
  const db = await testDatabase(t);
  const port = await privatePort();
  const [leader, silent] = cluster.nodes;
  const config = testConfig(db, cluster.topics, {
    // Listed first, the stopped broker is still where what any broker can answer (the lag's
    // offsets, the topic list of a stream opened again) went: it must go to the other.
    KAFKA_BOOTSTRAP_SERVERS: (silentFirst ? [silent, leader] : [leader, silent]).map((n) => n.address).join(","),
    KAFKA_GROUP_ID: await groupCoordinatedBy(coordinator, leader.address),
    METRICS_PORT: String(port),
  });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  const get = httpProbe(port);
  const sources = [...SOURCE_TOPICS];
  await produce(await testProducer(t, leader.address), "", userUpdates(20, "5f", 1));
  await waitFor("wave 1", () => caughtUp(config.kafkaGroupId, sources, 2, leader.address), 60000);
  await waitFor("ready", async () => (await get("/readyz")).status === 200, 30000);
  // The broker stopped is the group's coordinator: it leads a partition of each topic too.
  process.kill(silent.pid, "SIGSTOP");
  const stopped = Date.now();
  const outageLines = () => lines.filter((l) => /^Kafka (unavailable|is back)/.test(String(l.msg))).map((l) => l.msg);
  await waitFor("the silence said", async () => outageLines().length >= 1, 30000);
  assert.match(String(outageLines()[0]), new RegExp(`no answer from broker ${silent.address} for 10 s`));

  // No event is produced: the fetches from the new leaders are all that says Kafka serves again.
  await waitFor("the outage over, the broker still stopped", async () => outageLines().length === 2, 120000);
  assert.match(String(outageLines()[1]), /^Kafka is back after/);
  await waitFor("ready, the broker still stopped", async () => (await get("/readyz")).status === 200, 60000);
  const readyAfter = Date.now() - stopped;
  assert.match((await get("/metrics")).body, /analytics_outage\{dependency="Kafka"\} 0/);

  // And the moved partitions are read: both of each topic, led by the broker that answers.
  await produce(await testProducer(t, leader.address), "", userUpdates(20, "5f", 2));
  await waitFor("wave 2", () => caughtUp(config.kafkaGroupId, sources, 2, leader.address), 120000);
  assert.deepEqual(await db.query("SELECT version, COUNT(*) AS n FROM users GROUP BY version"), [
    { version: 2, n: "20" },
  ]);
  assert.equal(outageLines().length, 2, "one outage, said once");
  t.diagnostic(`ready again ${readyAfter} ms after the broker stopped`);
}

/**
 * A group id that broker `node` coordinates (its offsets partition led there), asked without
 * joining: node 2 is no controller, so the cluster moves what it led once it stops.
 */
async function groupCoordinatedBy(node: number, broker: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const groupId = randomName("group-silent-");
    const consumer = new Consumer({ clientId: "tests-coordinator", bootstrapBrokers: [broker], groupId });
    try {
      if ((await consumer.findGroupCoordinator()) === node) return groupId;
    } finally {
      await consumer.close();
    }
  }
  throw new Error(`no group id of 50 is coordinated by node ${node}`);
}
