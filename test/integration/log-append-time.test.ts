import assert from "node:assert/strict";
import { test } from "node:test";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  hexId,
  namedTopics,
  testConfig,
  testDatabase,
  testProducer,
  testService,
  topicsReady,
  waitFor,
} from "../support/helpers.ts";

// On a LogAppendTime topic the broker's time is every record's: a producer that stamps its
// records 0 (or none) does not make the clock-skew guard refuse events of now. The client alone
// reported the producer's times (src/read/client-fixes/log-append-time.ts).

test("on a LogAppendTime topic an event is judged by the broker's time, not its producer's", async (t) => {
  const db = await testDatabase(t);
  const { admin, ...topics } = namedTopics(t);
  const prefix = topics.prefix;
  const logAppendTime = [{ name: "message.timestamp.type", value: "LogAppendTime" }];
  await admin.createTopics({ topics: [`${prefix}user`], partitions: 1, replicas: 1, configs: logAppendTime });
  await admin.createTopics({ topics: topics.all.filter((x) => x !== `${prefix}user`), partitions: 1, replicas: 1 });
  await topicsReady(admin, topics.all, 1);

  const producer = await testProducer(t);
  const ids = [hexId(1, "a7"), hexId(2, "a7")];
  // Stamped now, in records the producer stamps 1970 and a year ahead.
  await producer.send({
    messages: ids.map((id, i) => {
      const e = emit("user.created", id, fixture("user.created").value.data as never, {
        timestamp: new Date().toISOString(),
      });
      return {
        topic: `${prefix}user`,
        key: Buffer.from(e.key),
        value: Buffer.from(JSON.stringify(e.value)),
        timestamp: i === 0 ? 0n : BigInt(Date.now() + 365 * 86_400_000),
      };
    }),
  });
  await testService(t, testConfig(db, topics));
  await waitFor("both applied", async () => {
    const [row] = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM users WHERE user_id IN (?)", [ids]);
    return row?.n === "2";
  });
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users"), [{ n: "2" }]);
});
