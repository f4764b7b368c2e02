import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { startService } from "../../src/service.ts";
import {
  BROKER,
  capturingLogger,
  hungServer,
  runCli,
  testConfig,
  testDatabase,
  testEnv,
  testTopics,
  waitFor,
} from "../support/helpers.ts";
import { addPartitions, usersOnPartitions } from "../support/partition-users.ts";

// An address listed first in KAFKA_BOOTSTRAP_SERVERS that takes connections and never answers (a
// hung broker: its kernel still accepts): what any broker can answer went there first and waited
// the client's 30 s request timeout; the admin's retries did not move on, and the service had not
// started after 10 minutes. It starts, says the silent address as an outage that ends, and its
// lag and partition watch (an admin without retries) still hear the brokers that answer. The
// `rewind` command failed after its retries, each sent there.

/** The address of a server that takes connections and never answers. */
const hungAddress = async (t: { after: (fn: () => void) => void }) => {
  const { host, port } = await hungServer(t);
  return `${host}:${port}`;
};

test(
  "a bootstrap address that never answers, listed first: the service starts, and its silence ends",
  { timeout: 300_000 },
  async (t) => {
    const hung = await hungAddress(t);
    const topics = await testTopics(t, 1);
    const db = await testDatabase(t);
    const config = testConfig(db, topics, { KAFKA_BOOTSTRAP_SERVERS: `${hung},${BROKER}` });
    const { log, lines } = capturingLogger();
    const service = await startService(config, log);
    t.after(() => service.stop());
    const outageLines = () => lines.filter((l) => /^Kafka (unavailable|is back)/.test(String(l.msg))).map((l) => l.msg);
    const { send, applied } = usersOnPartitions(t, db, `${topics.prefix}user`, "b7");
    await send(1, 0);
    await waitFor("the first event applied", () => applied(1), 60_000);
    await waitFor("the outage over", async () => outageLines().length === 2, 60_000);
    assert.equal(
      outageLines()[0],
      `Kafka unavailable, pausing and retrying with backoff: no answer from broker ${hung} for 10 s (paused, hung or cut off by the network; its connections stay open): what it leads and coordinates waits for it`,
    );
    assert.match(String(outageLines()[1]), /^Kafka is back after/);

    // Heard by the partition watch (the lag's turn, on an admin that does not retry), and read
    // by a stream opened again on the topics that admin lists.
    const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
    t.after(() => admin.close());
    await addPartitions(admin, `${topics.prefix}user`, 2);
    await send(2, 1);
    await waitFor("the event of the new partition applied", () => applied(2), 60_000);
    assert.equal(outageLines().length, 2, `one outage: ${outageLines().join(" | ")}`);
  },
);

test("a command with that address listed first asks the brokers that answer", { timeout: 120_000 }, async (t) => {
  const hung = await hungAddress(t);
  const topics = await testTopics(t, 1);
  const env = testEnv({ name: "unused" }, topics, { KAFKA_BOOTSTRAP_SERVERS: `${hung},${BROKER}` });
  // Its first request waits out the client's 30 s request timeout there; the retry goes elsewhere.
  const { stdout, stderr } = await runCli(["rewind", "--to", "earliest", "--dry-run"], env);
  assert.match(stdout, new RegExp(`^${topics.prefix}user +0 +- +- +0 +-$`, "m"));
  assert.match(stdout, /^dry run: a rewind would be refused: group \S+ has no committed offsets/m);
  assert.equal(stderr, "");
});
