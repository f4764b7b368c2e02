import assert from "node:assert/strict";
import { test } from "node:test";
import { startService } from "../../src/service.ts";
import {
  BROKER,
  capturingLogger,
  kafkaRefusal,
  testConfig,
  testDatabase,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A client whose security settings don't match the listener gets one line naming the likely
// cause, from the real broker's real refusal (the local broker's listener is plaintext; the
// secured listeners' mismatches are in kafka-security.test.ts).

test("TLS towards a plaintext listener, SASL towards a listener without it, and a closed port are each named", async () => {
  assert.equal(
    await kafkaRefusal({ KAFKA_SSL: "true" }),
    `the brokers ${BROKER} did not complete a TLS handshake: they likely do not expect TLS on this port; set KAFKA_SSL=false or use their TLS listener (now KAFKA_SSL=true, KAFKA_SASL_MECHANISM=none)`,
  );
  assert.equal(
    await kafkaRefusal({
      KAFKA_SASL_MECHANISM: "SCRAM-SHA-256",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: "not-shown",
    }),
    `the brokers ${BROKER} do not expect SASL on this port: set KAFKA_SASL_MECHANISM=none or use their SASL listener (now KAFKA_SSL=false, KAFKA_SASL_MECHANISM=SCRAM-SHA-256)`,
  );
  const refused = await kafkaRefusal({ KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1" });
  assert.equal(refused, "nothing is listening at 127.0.0.1:1; start Kafka or set KAFKA_BOOTSTRAP_SERVERS");
  for (const line of [refused]) assert.ok(!line.includes("not-shown"));
});

test("the running service names a TLS mismatch in its one outage line", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const { log, lines } = capturingLogger();
  const config = testConfig(db, topics, {
    KAFKA_SSL: "true",
    KAFKA_BOOTSTRAP_SERVERS: BROKER,
    RETRY_MAX_BACKOFF_MS: "200",
  });
  const cancel = new AbortController();
  const starting = startService(config, log, {}, cancel.signal).catch((err: unknown) => err);
  t.after(async () => {
    cancel.abort();
    await starting;
  });
  const line = await waitFor("the outage line", async () => lines.find((l) => String(l.msg).includes("TLS handshake")));
  assert.match(String(line.msg), /^Kafka unavailable.*did not complete a TLS handshake/);
});
