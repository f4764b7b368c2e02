import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { test } from "node:test";
import { Consumer } from "@platformatic/kafka";
import { migrate } from "../../src/db/migrate.ts";
import { emit } from "../../src/generate/emit.ts";
import { SOURCE_TOPICS } from "../../src/kafka/topics.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  adminConnection,
  capturingLogger,
  caughtUp,
  hexId,
  lockWaits,
  testConfig,
  testDatabase,
  testKafkaBroker,
  testPool,
  testProducer,
  waitFor,
} from "../support/helpers.ts";

// A send of dead letters that the brokers leave unanswered (a paused broker) is an outage after
// 10 s, and stays one until the send is answered: another batch read meanwhile, from what the
// reader had buffered before the pause, does not end it while the send still hangs.

test(
  "a dead-letter send's silence is not ended by a batch read while the send still hangs",
  { timeout: 240_000 },
  async (t) => {
    const kafka = await testKafkaBroker(t);
    const broker = kafka.broker;
    const pid = await kafka.pid();
    const db = await testDatabase(t);
    await migrate(testPool(t, db));
    const topics = kafka.topics;
    // Two batches in hand at once; a lease (0.9 of the session) that outlasts the test's pause.
    const config = testConfig(db, topics, {
      KAFKA_BOOTSTRAP_SERVERS: broker,
      KAFKA_SESSION_TIMEOUT_MS: "30000",
      BATCHES_IN_FLIGHT: "2",
      MYSQL_POOL_SIZE: "2",
    });
    const { log, lines } = capturingLogger();
    const service = await startService(config, log);
    t.after(() => service.stop());
    const producer = await testProducer(t, broker);
    const [x, y] = [hexId(0, "d5"), hexId(1, "d5")];
    const doc = fixture("user.created").value.data as Record<string, unknown>;
    // User x on partition 0 of the user topic, y on partition 1; raw bytes are poison.
    const send = async (partition: number, values: (string | Buffer)[]) => {
      const sent = await producer.send({
        messages: values.map((v) => {
          const id = partition === 0 ? x : y;
          const data = { ...doc, profile: { ...(doc.profile as object), display_name: v } };
          const value = Buffer.isBuffer(v)
            ? v
            : Buffer.from(
                JSON.stringify(
                  emit("user.updated", id, data as never, { timestamp: `2026-03-02T10:00:0${values.indexOf(v) + 1}Z` })
                    .value,
                ),
              );
          return { topic: "user", partition, key: Buffer.from(id), value };
        }),
      });
      return sent.offsets?.at(-1)?.offset;
    };
    const nameOf = async (id: string) =>
      (await db.query<{ n: string }>("SELECT display_name AS n FROM users WHERE user_id = ?", [id]))[0]?.n;
    await producer.send({
      messages: [x, y].map((id, partition) => ({
        topic: "user",
        partition,
        key: Buffer.from(id),
        value: Buffer.from(
          JSON.stringify(emit("user.created", id, doc as never, { timestamp: "2026-03-02T09:00:00Z" }).value),
        ),
      })),
    });
    await waitFor("both created", () => caughtUp(config.kafkaGroupId, [...SOURCE_TOPICS], 2, broker), 60000);

    // x's and y's rows locked, each by a connection of its own: their batches wait on them.
    const lockers = [await adminConnection(db.name), await adminConnection(db.name)];
    t.after(() => Promise.all(lockers.map((c) => c.end())));
    for (const [i, id] of [x, y].entries()) {
      await lockers[i]?.query("START TRANSACTION");
      await lockers[i]?.query("SELECT * FROM users WHERE user_id = ? FOR UPDATE", [id]);
    }
    await send(0, ["first", Buffer.from("not json")]);
    await waitFor("x's batch waiting on its lock", async () => (await lockWaits(db)).length === 1, 30000);
    await send(1, ["first"]);
    await waitFor("y's batch waiting on its lock", async () => (await lockWaits(db)).length === 2, 30000);
    // y's next event reaches the reader, which holds it: two batches are in hand already. Heard
    // from before the send: the reader can have it before the send's answer is read.
    const received = new Set<bigint>();
    const onReceive = (m: unknown) => {
      const r = (m as { result?: { topic: string; partition: number; offset: bigint } }).result;
      if (r?.topic === "user" && r.partition === 1) received.add(r.offset);
    };
    subscribe("tracing:plt:kafka:consumer:receives:asyncEnd", onReceive);
    t.after(() => unsubscribe("tracing:plt:kafka:consumer:receives:asyncEnd", onReceive));
    const later = await send(1, ["second"]);
    assert.ok(later !== undefined);
    await waitFor("y's next event in the reader", async () => received.has(later), 30000);

    process.kill(pid, "SIGSTOP");
    const outageLines = () => lines.filter((l) => /^Kafka (unavailable|is back)/.test(String(l.msg))).map((l) => l.msg);
    // x's batch commits; its letter's send gets no answer.
    await lockers[0]?.query("ROLLBACK");
    // Said as the outage's cause, or as its next one when another silence was said first.
    const silenceSaid = () =>
      lines.some((l) => /dead-letter topic analytics-dlq: no answer from the brokers for 10 s/.test(String(l.msg)));
    await waitFor("the send's silence said", async () => silenceSaid(), 30000);
    assert.equal(outageLines().length, 1);
    // y's batch commits; the reader's next batch, y's second event, is read and written.
    await lockers[1]?.query("ROLLBACK");
    await waitFor("y's second event written", async () => (await nameOf(y)) === "second", 30000);
    assert.deepEqual(outageLines().length, 1, `the outage goes on while the send hangs: ${outageLines().join(" | ")}`);

    process.kill(pid, "SIGCONT");
    await waitFor("the outage over", async () => outageLines().length === 2, 90000);
    assert.match(String(outageLines()[1]), /^Kafka is back after/);
    await waitFor("all committed", () => caughtUp(config.kafkaGroupId, [...SOURCE_TOPICS], 2, broker), 90000);
    assert.equal(await nameOf(x), "first");
    // The letter once: the send that hung was answered, not sent again.
    const reader = new Consumer({ clientId: "tests-offsets", bootstrapBrokers: [broker], groupId: "tests-dlq-size" });
    t.after(() => reader.close());
    const ends = (await reader.listOffsets({ topics: ["analytics-dlq"] })).get("analytics-dlq") ?? [];
    assert.equal(
      ends.reduce((a, b) => a + b, 0n),
      1n,
    );
  },
);
