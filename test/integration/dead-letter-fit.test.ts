import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { Admin, ProduceAcks, Producer } from "@platformatic/kafka";
import { loadConfig } from "../../src/config/index.ts";
import { type DeadLetter, DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { sendDeadLetters } from "../../src/dead-letter/publish.ts";
import { BadEventError, ConfigError, KafkaUnavailableError } from "../../src/errors.ts";
import { emit } from "../../src/generate/emit.ts";
import { BATCH_OVERHEAD, recordBytes } from "../../src/kafka/records.ts";
import { deadLetterTopicLimit } from "../../src/kafka/topics.ts";
import { createLogger } from "../../src/log.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  BROKER,
  capturingLogger,
  caughtUp,
  deleteTopicsThatExist,
  produce,
  randomName,
  readTopic,
  runCli,
  type TestTopics,
  testConfig,
  testDatabase,
  testEnv,
  testProducer,
  testService,
  testTopics,
  topicsReady,
  waitFor,
} from "../support/helpers.ts";
import { setTopicConfig } from "../support/kafka.ts";

// Issue #18, "Dead letters always fit" (docs/events.md#bad-input): a letter is built to fit the dead-letter topic's
// max.message.bytes, read at start; one the broker refuses for its size all the same is sent
// again smaller; a missing dead-letter topic stops the start with one line. Real broker, no mocks.

const USER = "66d0000000000000000000c1";
const userDoc = () => structuredClone(fixture("user.created").value.data) as Record<string, unknown>;
const ts = (second: number) => `2026-05-01T00:00:${String(second).padStart(2, "0")}.000001+00:00`;
const withBio = (bio: string, second: number, extra: Record<string, unknown> = {}) => {
  const d = userDoc();
  d.profile = { ...(d.profile as object), bio };
  return emit("user.updated", USER, { ...d, ...extra } as never, { timestamp: ts(second) });
};
/** A user.updated whose value is `bytes` long: a 501-character bio (poison) and an ignored field to fill. */
const poisonOf = (bytes: number, second: number) => {
  const base = Buffer.byteLength(JSON.stringify(withBio("b".repeat(501), second, { padding: "" }).value));
  const event = withBio("b".repeat(501), second, { padding: "p".repeat(bytes - base) });
  assert.equal(Buffer.byteLength(JSON.stringify(event.value)), bytes);
  return event;
};
const SECRETS = ["$2b$", "password_hash", "banking_info", "Example Bank"];
const sources = (topics: TestTopics) => topics.all.filter((x) => x !== topics.dlq);

/** A dead-letter topic of the test's own with `maxMessageBytes` (and `configs`); deleted afterwards. */
async function smallDlq(
  t: Parameters<typeof testTopics>[0],
  topics: TestTopics,
  maxMessageBytes: number,
  configs: { name: string; value: string }[] = [],
  suffix = "dlq-small",
) {
  const name = `${topics.prefix}${suffix}`;
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  await admin.createTopics({
    topics: [name],
    partitions: 1,
    replicas: 1,
    configs: [{ name: "max.message.bytes", value: String(maxMessageBytes) }, ...configs],
  });
  await topicsReady(admin, [name], 1);
  t.after(async () => {
    await deleteTopicsThatExist(admin, [name]);
    await admin.close();
  });
  return name;
}

/** A producer as the service's dead-letter one: idempotent, acknowledged by all in-sync replicas. */
function dlqProducer(t: Parameters<typeof testTopics>[0]) {
  const producer = new Producer({
    clientId: "tests-dlq",
    bootstrapBrokers: [BROKER],
    acks: ProduceAcks.ALL,
    idempotent: true,
  });
  t.after(() => producer.close());
  return producer;
}

/** A letter for a user event of the test's topics, its value `bytes` long, with one header of its own. */
const userLetter = (topics: TestTopics, offset: number, bytes: number): DeadLetter => ({
  topic: `${topics.prefix}user`,
  partition: 0,
  offset: BigInt(offset),
  key: Buffer.from(USER),
  value: Buffer.alloc(bytes, 0x61),
  headers: [[Buffer.from("traceparent"), Buffer.from("00-abc-def-01")]],
  eventType: "user.updated",
  error: new BadEventError("bad_field", "data.profile.bio must not have more than 500 characters"),
});

test("a 1,048,400-byte poison event is dead-lettered truncated to fit; its neighbours are applied and the service goes on", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const config = testConfig(db, topics);
  const poison = poisonOf(1_048_400, 2);
  const bytes = Buffer.from(JSON.stringify(poison.value));
  await produce(producer, topics.prefix, [
    emit("user.created", USER, userDoc() as never, { timestamp: ts(1) }),
    poison,
    withBio("after the poison", 3),
  ]);
  await testService(t, config);

  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources(topics), 1));
  const [letter, ...more] = await readTopic(topics.dlq, 1);
  assert.equal(more.length, 0);
  assert.ok(letter);
  assert.equal(letter.key, USER, "the original key");
  assert.equal(letter.headers.get(DLQ_HEADERS.code), "bad_field");
  assert.match(letter.headers.get(DLQ_HEADERS.reason) ?? "", /^data\.profile\.bio /);
  assert.equal(letter.headers.get(DLQ_HEADERS.offset), "1");
  assert.equal(letter.headers.get(DLQ_HEADERS.valueTruncated), "true");
  assert.equal(letter.headers.get(DLQ_HEADERS.valueOriginalBytes), "1048400");
  // As much as fits Kafka's default limit (the test topic's): all but a few hundred bytes.
  assert.ok(letter.value.length > 1_047_000 && letter.value.length < bytes.length, String(letter.value.length));
  assert.deepEqual(letter.value, bytes.subarray(0, letter.value.length), "the copy is the value's first bytes");
  for (const secret of SECRETS) {
    const text = [...letter.headers.values()].join("\n");
    assert.ok(!text.includes(secret), `no ${secret} in the headers`);
  }
  const [row] = await db.query("SELECT bio FROM users WHERE user_id = ?", [USER]);
  assert.deepEqual(row, { bio: "after the poison" });

  // Still consuming: a later event is applied.
  await produce(producer, topics.prefix, [withBio("later still", 4)]);
  await waitFor("the later event applied", async () => {
    const rows = await db.query<{ bio: string }>("SELECT bio FROM users WHERE user_id = ?", [USER]);
    return rows[0]?.bio === "later still";
  });
  await waitFor("caught up again", () => caughtUp(config.kafkaGroupId, sources(topics), 1));
});

test("a dead-letter topic with max.message.bytes=20000 still takes a 60 KB poison event, truncated; list shows it, replay skips it", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const dlq = await smallDlq(t, topics, 20_000);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, { KAFKA_DLQ_TOPIC: dlq });
  const poison = poisonOf(60_000, 2);
  const bytes = Buffer.from(JSON.stringify(poison.value));
  await produce(producer, topics.prefix, [
    emit("user.created", USER, userDoc() as never, { timestamp: ts(1) }),
    poison,
    withBio("after the poison", 3),
  ]);
  await testService(t, config);

  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources(topics), 1));
  const [letter] = await readTopic(dlq, 1);
  assert.ok(letter);
  assert.equal(letter.headers.get(DLQ_HEADERS.valueTruncated), "true");
  assert.equal(letter.headers.get(DLQ_HEADERS.valueOriginalBytes), "60000");
  assert.match(letter.headers.get(DLQ_HEADERS.reason) ?? "", /^data\.profile\.bio /);
  assert.equal(letter.key, USER);
  assert.ok(letter.value.length > 18_000 && letter.value.length < 20_000, String(letter.value.length));
  assert.deepEqual(letter.value, bytes.subarray(0, letter.value.length));
  const [row] = await db.query("SELECT bio FROM users WHERE user_id = ?", [USER]);
  assert.deepEqual(row, { bio: "after the poison" });

  const env = testEnv(db, topics, { KAFKA_DLQ_TOPIC: dlq });
  const [listed, ...others] = JSON.parse((await runCli(["dlq", "list", "--json"], env)).stdout);
  assert.equal(others.length, 0);
  assert.equal(listed.truncated, true);
  assert.equal(listed.original_bytes, 60_000);
  assert.equal(listed.value_bytes, letter.value.length);
  assert.match((await runCli(["dlq", "list"], env)).stdout, / {2}bad_field {2}truncated {2}data\.profile\.bio /);
  const replay = await runCli(["dlq", "replay"], env);
  assert.equal(
    replay.stdout,
    `skipped 1 letter(s) holding a truncated copy of their value (the whole value is not in ${dlq}; publish it again from the source)\n0 of 1 dead letter(s) chosen; nothing sent\n`,
  );
});

test("letters the broker refuses for their size are sent again smaller, never retried as they were", async (t) => {
  const topics = await testTopics(t, 1);
  // The topic takes 8,000 bytes, but the sender believes Kafka's default (a limit it could not
  // read, or one lowered since the start): every request below is refused once at first.
  const dlq = await smallDlq(t, topics, 8_000);
  const producer = dlqProducer(t);
  const letter = (offset: number, bytes: number) => userLetter(topics, offset, bytes);
  // Two letters that fit alone but not together (one batch, one partition), then one too large alone.
  await sendDeadLetters(producer, dlq, [letter(1, 5_000), letter(2, 5_000), letter(3, 60_000)], 1024 * 1024);

  const letters = await readTopic(dlq, 3);
  assert.deepEqual(
    letters.map((l) => l.headers.get(DLQ_HEADERS.offset)),
    ["1", "2", "3"],
    "each letter once, in order",
  );
  const [first, second, third] = letters;
  for (const l of [first, second]) {
    assert.equal(l?.value.length, 5_000, "refused only together: each is whole alone");
    assert.equal(l?.headers.get(DLQ_HEADERS.valueTruncated), undefined);
  }
  assert.equal(third?.headers.get(DLQ_HEADERS.valueTruncated), "true");
  assert.equal(third?.headers.get(DLQ_HEADERS.valueOriginalBytes), "60000");
  assert.equal(third?.headers.get("traceparent"), "00-abc-def-01", "the original headers are kept");
  const size = (l: typeof third) =>
    recordBytes({
      key: Buffer.from(l?.key ?? ""),
      value: l?.value,
      headers: new Map([...(l?.headers ?? [])].map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
    }) + BATCH_OVERHEAD;
  assert.ok(size(third) <= 8_000, `${size(third)}`);
  assert.ok((third?.value.length ?? 0) > 0, "some of the value is kept");
});

test("a dead-letter topic lowered below what a letter needs while running is an outage whose line says what to raise", async (t) => {
  const topics = await testTopics(t, 1);
  const dlq = await smallDlq(t, topics, 300);
  const producer = dlqProducer(t);
  const letter = userLetter(topics, 1, 100);
  // The sender believes the limit it read at start (Kafka's default): the topic was lowered since.
  await assert.rejects(sendDeadLetters(producer, dlq, [letter], 1024 * 1024), (err: unknown) => {
    assert.ok(err instanceof KafkaUnavailableError && err.retryable);
    assert.match(
      err.message,
      /^it refuses even a letter cut to \d+ bytes: raise its max\.message\.bytes to at least 4096 \(topic /,
    );
    return true;
  });
});

test("a missing dead-letter topic, one too small for a letter, or a compacted one stops the start with one line", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const missing = `${topics.prefix}no-such-dlq`;
  const config = testConfig(db, topics, { KAFKA_DLQ_TOPIC: missing });

  await assert.rejects(startService(config, createLogger("silent")), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(
      err.message,
      `KAFKA_DLQ_TOPIC: the dead-letter topic ${missing} does not exist; create it or set KAFKA_DLQ_TOPIC to a topic that does`,
    );
    return true;
  });

  // As an operator sees it: one line on stderr, exit status 1, no stack trace.
  await assert.rejects(
    runCli(["run"], testEnv(db, topics, { KAFKA_DLQ_TOPIC: missing })),
    (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.equal(
        err.stderr,
        `analytics-service: KAFKA_DLQ_TOPIC: the dead-letter topic ${missing} does not exist; create it or set KAFKA_DLQ_TOPIC to a topic that does\n`,
      );
      return true;
    },
  );

  /** The ConfigError message a start with `dlq` as its dead-letter topic stops with. */
  const refusal = async (dlq: string) => {
    const env = testEnv(db, topics, { KAFKA_DLQ_TOPIC: dlq, KAFKA_GROUP_ID: randomName("g-") });
    const err = await startService(loadConfig(env), createLogger("silent")).then(
      () => assert.fail(`the service started with ${dlq}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  };
  assert.match(
    await refusal(await smallDlq(t, topics, 1_000)),
    /^KAFKA_DLQ_TOPIC: .* takes messages of at most 1000 bytes \(max\.message\.bytes\).*at least 4096$/,
  );
  const compacted = await smallDlq(t, topics, 1_048_588, [{ name: "cleanup.policy", value: "compact" }], "dlq-compact");
  assert.equal(
    await refusal(compacted),
    `KAFKA_DLQ_TOPIC: the dead-letter topic ${compacted} is compacted (cleanup.policy=compact): it refuses the letters of events without a key and keeps one letter per key; set its cleanup.policy to delete`,
  );
});

/** The service running on a dead-letter topic of its own (`name`), its first event applied. */
async function runningOnItsOwnDlq(t: TestContext, name: string) {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const dlq = await smallDlq(t, topics, 1_048_588, [], name);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, { KAFKA_DLQ_TOPIC: dlq });
  const { log, lines } = capturingLogger();
  await produce(producer, topics.prefix, [emit("user.created", USER, userDoc() as never, { timestamp: ts(1) })]);
  const service = await startService(config, log);
  t.after(() => service.stop());
  await waitFor("the first event applied", () => caughtUp(config.kafkaGroupId, sources(topics), 1));
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  return { db, topics, dlq, producer, config, lines, admin };
}

test("a dead-letter topic made compacted while the service runs: one line names the refusal and the setting; undone, the letter goes and the partition moves on", async (t) => {
  const { db, topics, dlq, producer, config, lines, admin } = await runningOnItsOwnDlq(t, "dlq-compacted");
  const cleanupPolicy = (value: string) => setTopicConfig(admin, dlq, "cleanup.policy", value);
  await cleanupPolicy("compact");
  // An event without a key, not JSON: its letter has no key either, which a compacted topic refuses.
  await producer.send({ messages: [{ topic: `${topics.prefix}user`, value: Buffer.from("not json") }] });
  await produce(producer, topics.prefix, [withBio("after the keyless one", 3)]);
  const refusal = await waitFor("the refusal logged", async () =>
    lines.find((l) => String(l.msg).includes("INVALID_RECORD")),
  );
  assert.equal(
    refusal.msg,
    `Kafka unavailable, pausing and retrying with backoff: dead-letter topic ${dlq}: the broker refuses the letters as invalid records (INVALID_RECORD): a compacted topic refuses a record without a key, as the letter of an event that came without one is; set cleanup.policy=delete on ${dlq}`,
  );

  await cleanupPolicy("delete");
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources(topics), 1));
  const [letter, ...more] = await readTopic(dlq, 1);
  assert.equal(more.length, 0);
  assert.equal(letter?.headers.get(DLQ_HEADERS.code), "not_json");
  const [row] = await db.query("SELECT bio FROM users WHERE user_id = ?", [USER]);
  assert.deepEqual(row, { bio: "after the keyless one" });
});

test("a dead-letter topic deleted while the service runs: one line says so and to create it; created again, the letter goes", async (t) => {
  const { topics, dlq, producer, config, lines, admin } = await runningOnItsOwnDlq(t, "dlq-deleted");
  await admin.deleteTopics({ topics: [dlq] });
  await produce(producer, topics.prefix, [{ topic: "user", key: USER, value: Buffer.from("not json") }]);
  const said = await waitFor("the outage logged", async () =>
    lines.find((l) => String(l.msg).startsWith("Kafka unavailable") && String(l.msg).includes(dlq)),
  );
  assert.equal(
    said.msg,
    `Kafka unavailable, pausing and retrying with backoff: dead-letter topic ${dlq}: the topic does not exist (deleted while the service ran?): create it again (not compacted, max.message.bytes of at least 4096); the letters wait for it`,
  );

  await admin.createTopics({ topics: [dlq], partitions: 1, replicas: 1 });
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources(topics), 1));
  const [letter] = await readTopic(dlq, 1);
  assert.equal(letter?.headers.get(DLQ_HEADERS.code), "not_json");
});

test("a dead-letter topic that keeps letters less than a day is warned of at start, in one line; one that keeps them a week is not", async (t) => {
  const topics = await testTopics(t, 1);
  const hour = await smallDlq(t, topics, 1_048_588, [{ name: "retention.ms", value: "3600000" }], "dlq-hour");
  const week = await smallDlq(t, topics, 1_048_588, [{ name: "retention.ms", value: "604800000" }], "dlq-week");
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  const warnings = async (dlq: string) => {
    const { log, lines } = capturingLogger();
    assert.equal(await deadLetterTopicLimit(admin, dlq, log), 1_048_588);
    return lines.filter((l) => l.level === 40).map((l) => l.msg);
  };
  assert.deepEqual(await warnings(hour), [
    `KAFKA_DLQ_TOPIC: the dead-letter topic ${hour} keeps letters 3600000 ms (retention.ms), less than a day: a letter may be deleted before anyone can list or replay it, and its event is then lost; set retention.ms to days (604800000 is 7 days) or -1`,
  ]);
  assert.deepEqual(await warnings(week), []);
});
