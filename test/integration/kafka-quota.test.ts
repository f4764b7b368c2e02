import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { SOURCE_TOPICS } from "../../src/kafka/topics.ts";
import { startService } from "../../src/service.ts";
import {
  capturingLogger,
  caughtUp,
  produce,
  testConfig,
  testDatabase,
  testKafkaBroker,
  testProducer,
  waitFor,
} from "../support/helpers.ts";

// A broker that throttles a client over its quota answers at once, saying for how long it will
// read nothing more on that connection (throttle_time_ms, KIP-219); the client sends on, and its
// next request waits that long. A wave of poison under a producer quota on the dead-letter
// producer was said as a Kafka outage, three times over (the dead-letter send's silence and the
// broker's), /readyz 503, while every request was answered: a quota is no outage.

test("a broker throttling the dead-letter producer (a quota) is no outage", { timeout: 300_000 }, async (t) => {
  const kafka = await testKafkaBroker(t);
  const db = await testDatabase(t);
  const config = testConfig(db, kafka.topics, { KAFKA_BOOTSTRAP_SERVERS: kafka.broker });
  const producer = await testProducer(t, kafka.broker);
  // 30 letters of 100 kB that do not compress: 3 MB for a producer allowed 50 kB/s.
  const poison = Array.from({ length: 30 }, (_, i) => ({ topic: "user", key: `p${i}`, value: randomBytes(100_000) }));
  for (let i = 0; i < poison.length; i += 5) await produce(producer, "", poison.slice(i, i + 5));
  const admin = new Admin({ clientId: "tests-quota", bootstrapBrokers: [kafka.broker] });
  t.after(() => admin.close());
  await admin.alterClientQuotas({
    entries: [
      {
        entities: [{ entityType: "client-id", entityName: `${config.kafkaClientId}-dlq` }],
        ops: [{ key: "producer_byte_rate", value: 50_000, remove: false }],
      },
    ],
  });
  await waitFor(
    "the quota in force",
    async () => (await admin.describeClientQuotas({ components: [], strict: false } as never)).length === 1,
    10000,
  );
  // The throttles the broker says (the test means nothing without one past the 10 s silence).
  let longest = 0;
  const onAnswer = (m: unknown) => {
    const throttle = (m as { result?: { throttleTimeMs?: number } }).result?.throttleTimeMs ?? 0;
    longest = Math.max(longest, throttle);
  };
  subscribe("tracing:plt:kafka:connections:api:asyncStart", onAnswer);
  t.after(() => unsubscribe("tracing:plt:kafka:connections:api:asyncStart", onAnswer));

  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  await waitFor(
    "every letter written",
    () => caughtUp(config.kafkaGroupId, [...SOURCE_TOPICS], 2, kafka.broker),
    240000,
  );
  assert.ok(longest > 10_000, `the broker throttled the producer for ${longest} ms at most`);
  const outage = lines.filter((l) => /^Kafka (unavailable|still unavailable|is back)/.test(String(l.msg)));
  assert.deepEqual(
    outage.map((l) => l.msg),
    [],
  );
});
