import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { startService } from "../../src/service.ts";
import {
  BROKER,
  capturingLogger,
  testConfig,
  testDatabase,
  testTopics,
  topicsReady,
  waitFor,
} from "../support/helpers.ts";
import { addPartitions, usersOnPartitions } from "../support/partition-users.ts";

// A source topic deleted and created again with fewer partitions, then given more: the partition
// watch must compare with the new topic's count, not the old one's (src/read/partition-watch.ts).

test("a source topic created again with fewer partitions and then grown has its new partitions read", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 2);
  const topic = `${topics.prefix}user`;
  const { send, applied } = usersOnPartitions(t, db, topic, "f4");
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());

  const { log, lines } = capturingLogger();
  const service = await startService(testConfig(db, topics), log);
  t.after(() => service.stop());
  await send(1, 1);
  await waitFor("the first event applied", () => applied(1));

  await admin.deleteTopics({ topics: [topic] });
  await waitFor("the user topic gone", async () => !(await admin.listTopics()).includes(topic));
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  await topicsReady(admin, [topic], 1);
  await send(2, 0);
  await waitFor("the event of the topic created again applied", () => applied(2), 60_000);

  await addPartitions(admin, topic, 2);
  await send(3, 1);
  await waitFor("the event of the partition added to it applied", () => applied(3), 60_000);
  // The outage it caused is said as what happened to the topic, not as the client's failure.
  const outages = lines.filter((l) => String(l.msg).startsWith("Kafka ")).map((l) => String(l.msg));
  assert.ok(outages.length > 0);
  for (const line of outages) {
    assert.match(line, /not found \(deleted\?\)|deleted and created again\?|Kafka is back after/, line);
  }
});
