import assert from "node:assert/strict";
import { test } from "node:test";
import { TOPICS } from "../domains/registry.ts";
import { ConfigError, KafkaUnavailableError } from "../errors.ts";
import { PLAINTEXT_KAFKA } from "../testing/config.ts";
import { explainKafkaFailure } from "./kafka-errors.ts";
import { asOutage, SOURCE_TOPICS } from "./topics.ts";

test("a Kafka client's error at start is an outage to wait out; the service's own errors stay as they are", () => {
  const unknown = Object.assign(new Error("Unknown topic t.order."), { code: "PLT_KFK_USER" });
  const outage = asOutage(unknown);
  assert.ok(outage instanceof KafkaUnavailableError);
  assert.equal(outage.message, "Kafka: Unknown topic t.order.");
  assert.equal(outage.cause, unknown);
  const config = new ConfigError("x");
  assert.equal(asOutage(config), config);
  const bug = new TypeError("a bug");
  assert.equal(asOutage(bug), bug);
  assert.equal(asOutage(null), null);
});

test("a topic deleted meanwhile is said as such, not as brokers that do not answer", () => {
  // What the client's failed rejoin emits when a source topic was deleted (it names another).
  const err = Object.assign(new Error("Unknown topic t.user."), { code: "PLT_KFK_USER" });
  const line = explainKafkaFailure(err, PLAINTEXT_KAFKA);
  assert.doesNotMatch(line, /no answer|start Kafka|KAFKA_SSL|t\.user/);
  assert.match(line, /a source topic deleted meanwhile/);
});

test("SOURCE_TOPICS are the registry's topics, one domain each: a topic without a domain would be produced to and rewound, never read", () => {
  assert.deepEqual([...SOURCE_TOPICS], [...TOPICS]);
});
