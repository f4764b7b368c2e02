import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config/index.ts";
import { loadStackConfig } from "./config.ts";
import { onStack, stackTopics } from "./index.ts";

test("a run that brings the stack up uses the stack's ports, not the service's defaults", () => {
  const stack = loadStackConfig({ STACK_KAFKA_PORT: "19092", STACK_MYSQL_PORT: "13306" });
  const config = onStack(loadConfig({ MYSQL_DATABASE: "db1", KAFKA_GROUP_ID: "g1" }), stack);
  assert.deepEqual(config.kafkaBrokers, ["127.0.0.1:19092"]);
  assert.equal(config.mysqlHost, "127.0.0.1");
  assert.equal(config.mysqlPort, 13306);
  assert.equal(config.mysqlDatabase, "db1", "the rest as configured");
  assert.equal(config.kafkaGroupId, "g1");
});

test("the stack makes the source topics under the service's prefix, and its dead-letter topic", () => {
  const topics = stackTopics(loadConfig({ KAFKA_TOPIC_PREFIX: "prod.", KAFKA_DLQ_TOPIC: "prod.dlq" }));
  assert.deepEqual(topics, ["prod.user", "prod.supplier", "prod.product", "prod.order", "prod.post", "prod.dlq"]);
});
