import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import {
  BROKER,
  caughtUp,
  produce,
  testConfig,
  testDatabase,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A flood of tiny poison costs the dead-letter topic a few times its own size, not hundreds: each
// letter repeats its headers' names and most of its reason, and the letters are compressed.

const POISON = 2000;

test("a flood of one-byte poison takes a few dozen bytes per letter in the dead-letter topic", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  await produce(
    producer,
    topics.prefix,
    Array.from({ length: POISON }, (_, i) => ({ topic: "user", key: `k${i}`, value: Buffer.from("x") })),
  );
  const config = testConfig(db, topics);
  await testService(t, config);
  await waitFor("every poison message dead-lettered and committed", () =>
    caughtUp(config.kafkaGroupId, [`${topics.prefix}user`], 1),
  );
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  const [broker] = await admin.describeLogDirs({ topics: [{ name: topics.dlq, partitions: [0] }] });
  const size = Number(broker?.results[0]?.topics.find((x) => x.name === topics.dlq)?.partitions[0]?.partitionSize);
  t.diagnostic(`${POISON} letters in ${size} bytes: ${(size / POISON).toFixed(1)} per letter`);
  assert.ok(size > 0 && size / POISON < 80, `${size / POISON} bytes per letter`);
});
