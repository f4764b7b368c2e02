import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Admin, Consumer } from "@platformatic/kafka";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { emit } from "../../src/generate/emit.ts";
import { prefixed, SOURCE_TOPICS } from "../../src/kafka/topics.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  BROKER,
  caughtUp,
  headerMap,
  produce,
  randomName,
  readTopic,
  runCli,
  runCliSync,
  testConfig,
  testDatabase,
  testEnv,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";
import { setTopicConfig } from "../support/kafka.ts";

// `dlq list` and `dlq replay` against the real broker: a poison event is listed with its code
// and source offset and a dry run sends nothing; an event dead-lettered only because of a
// configuration limit is replayed once the limit is raised, lands, and a second replay changes
// nothing.

const userDoc = () => structuredClone(fixture("user.created").value.data) as Record<string, unknown>;
const withProfile = (profile: Record<string, unknown>) => {
  const d = userDoc();
  d.profile = { ...(d.profile as object), ...profile };
  return d as never;
};

async function endOffsets(topic: string): Promise<bigint[]> {
  const consumer = new Consumer({
    clientId: "tests-offsets",
    bootstrapBrokers: [BROKER],
    groupId: randomName("ends-"),
  });
  try {
    return (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
  } finally {
    await consumer.close();
  }
}

test("dlq list shows a poison event; replay --dry-run lists it and sends nothing", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const config = testConfig(db, topics);
  const env = testEnv(db, topics);
  const USER = "66c0000000000000000000a1";
  const userTopic = `${topics.prefix}user`;

  // An empty dead-letter topic answers at once.
  assert.deepEqual(JSON.parse((await runCli(["dlq", "list", "--json"], env)).stdout), []);

  await produce(producer, topics.prefix, [
    emit("user.created", USER, userDoc() as never), // offset 0
    emit("user.updated", USER, withProfile({ display_name: "n".repeat(101) })), // offset 1: poison
    emit("user.updated", USER, withProfile({ bio: "still here" })), // offset 2
  ]);
  await testService(t, config);
  await waitFor("every offset committed", () =>
    caughtUp(
      config.kafkaGroupId,
      topics.all.filter((x) => x !== topics.dlq),
      1,
    ),
  );
  const [raw] = await readTopic(topics.dlq, 1);
  assert.equal(raw?.headers.get(DLQ_HEADERS.offset), "1");

  const listed = JSON.parse((await runCli(["dlq", "list", "--json"], env)).stdout);
  assert.equal(listed.length, 1, JSON.stringify(listed));
  const [letter] = listed;
  assert.equal(letter.code, "bad_field");
  assert.match(letter.reason, /^data\.profile\.display_name /);
  assert.equal(letter.source_topic, userTopic);
  assert.equal(letter.source_partition, 0);
  assert.equal(letter.source_offset, 1);
  assert.equal(letter.event_type, "user.updated");
  assert.equal(letter.key, USER);
  assert.equal(letter.failed_at, raw?.headers.get(DLQ_HEADERS.failedAt));
  assert.ok(!("value" in letter), "the value (which may hold secrets) is not printed");
  assert.equal(letter.truncated, false, "the whole value is in the letter");
  assert.equal(letter.original_bytes, letter.value_bytes);

  const table = (await runCli(["dlq", "list"], env)).stdout.split("\n");
  const [header = "", rule = "", line = ""] = table;
  assert.match(header, /^time +source +event type +code +copy +reason$/);
  assert.match(rule, /^-{24} {2}-+ {2}-+ {2}-+ {2}-+ {2}-+$/);
  assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}/);
  const columns: [string, string][] = [
    ["source", `${userTopic}/0@1`],
    ["event type", "user.updated"],
    ["code", "bad_field"],
    ["copy", "whole"],
    ["reason", "data.profile.display_name "],
  ];
  for (const [title, value] of columns) {
    assert.equal(line.indexOf(`  ${value}`) + 2, header.indexOf(title), `${title} is aligned: ${line}`);
  }
  assert.equal(table[3], `1 dead letter(s) in ${topics.dlq}`);

  const before = await endOffsets(userTopic);
  const dry = (await runCli(["dlq", "replay", "--dry-run"], env)).stdout;
  assert.match(dry, new RegExp(`${userTopic.replace(".", "\\.")}/0@1  user\\.updated  bad_field`));
  assert.match(dry, /^dry run: 1 of 1 dead letter\(s\) chosen; nothing sent$/m);
  assert.deepEqual(await endOffsets(userTopic), before, "a dry run publishes nothing");
  const none = (await runCli(["dlq", "replay", "--dry-run", "--reason", "too_large"], env)).stdout;
  assert.match(none, /^dry run: 0 of 1 dead letter\(s\) chosen; nothing sent$/m);
  // Every letter failed before now; a time in the future is refused.
  const later = (await runCli(["dlq", "replay", "--dry-run", "--since", new Date().toISOString()], env)).stdout;
  assert.match(later, /^dry run: 0 of 1 dead letter\(s\) chosen; nothing sent$/m);
  const future = runCliSync(["dlq", "replay", "--dry-run", "--since", "2999-01-01"], env);
  assert.equal(future.status, 2);
  assert.match(future.stderr, /^analytics-service: dlq replay: --since "2999-01-01" is in the future/);

  const [row] = await db.query("SELECT display_name, bio FROM users WHERE user_id = ?", [USER]);
  assert.deepEqual(row, { display_name: "Noa Levi 🌿", bio: "still here" });
});

test("dlq replay: an event dead-lettered by a configuration limit lands once the limit is raised; replaying again changes nothing", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const group = randomName("group-");
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const userTopic = `${topics.prefix}user`;
  const [SMALL, BIG] = ["66c0000000000000000000b1", "66c0000000000000000000b2"];
  const avatar = `https://cdn.example.com/${"a".repeat(2000)}`;

  await produce(producer, topics.prefix, [
    emit("user.created", SMALL, userDoc() as never),
    emit("user.created", BIG, withProfile({ avatar })),
  ]);
  const strict = await testService(t, testConfig(db, topics, { KAFKA_GROUP_ID: group, MAX_MESSAGE_BYTES: "1024" }));
  await waitFor("every offset committed", () => caughtUp(group, sources, 1));
  const [dead] = await readTopic(topics.dlq, 1);
  assert.equal(dead?.headers.get(DLQ_HEADERS.code), "too_large");
  assert.ok((dead?.value.length ?? 0) > 2000, "a value under 64 KiB is kept whole");
  assert.equal(dead?.headers.get(DLQ_HEADERS.valueTruncated), undefined, "and not said to be truncated");
  await strict.stop();
  assert.deepEqual(await db.query("SELECT user_id FROM users"), [{ user_id: SMALL }]);

  // The same group with the default limit: it resumes after the dead-lettered event.
  await testService(t, testConfig(db, topics, { KAFKA_GROUP_ID: group }));
  const env = testEnv(db, topics);
  const first = await runCli(["dlq", "replay", "--reason", "too_large"], env);
  assert.equal(first.stdout, `1 of 1 dead letter(s) chosen; 1 sent to ${userTopic}\n`);
  await waitFor("the replayed user", async () => {
    const rows = await db.query<{ n: number }>("SELECT CHAR_LENGTH(avatar) AS n FROM users WHERE user_id = ?", [BIG]);
    return rows[0]?.n === avatar.length;
  });
  await waitFor("caught up", () => caughtUp(group, sources, 1));
  const dump = async () => ({
    users: await db.query("SELECT * FROM users ORDER BY user_id"),
    counts: await db.query(
      "SELECT (SELECT COUNT(*) FROM suppliers) s, (SELECT COUNT(*) FROM products) p, (SELECT COUNT(*) FROM orders) o, (SELECT COUNT(*) FROM posts) q",
    ),
  });
  const once = await dump();
  assert.equal(once.users.length, 2);

  const before = (await endOffsets(userTopic))[0] ?? 0n;
  const second = await runCli(["dlq", "replay", "--reason", "too_large"], env);
  assert.equal(second.stdout, `1 of 1 dead letter(s) chosen; 1 sent to ${userTopic}\n`);
  await waitFor("the second copy published", async () => (await endOffsets(userTopic))[0] === before + 1n);
  await waitFor("caught up again", () => caughtUp(group, sources, 1));
  assert.deepEqual(await dump(), once, "a second replay leaves the tables as they were");

  const letters = JSON.parse((await runCli(["dlq", "list", "--json"], env)).stdout);
  assert.equal(letters.length, 1, "the replayed events were applied, not dead-lettered again");
});

test("dlq replay gives an event its record's time back: one stamped ahead of it is judged the same, not applied over newer rows", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const group = randomName("group-");
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const USER = "66c0000000000000000000c1";
  const hour = 3_600_000;
  const now = Date.now();
  const event = (bio: string, stampedMs: number) =>
    emit("user.created", USER, withProfile({ bio }), { timestamp: new Date(stampedMs).toISOString() });
  const record = (e: ReturnType<typeof event>, recordMs: number) => ({
    topic: `${topics.prefix}user`,
    key: Buffer.from(USER),
    value: Buffer.from(JSON.stringify(e.value)),
    timestamp: BigInt(recordMs),
  });
  // Sent 3 h ago by a producer whose clock ran 2 h ahead: its stamp (1 h ago) is later than the
  // real event sent after it (2 h ago), which is what the row must keep.
  await producer.send({
    messages: [
      record(event("skewed", now - hour), now - 3 * hour),
      record(event("real", now - 2 * hour), now - 2 * hour),
    ],
  });
  await testService(t, testConfig(db, topics, { KAFKA_GROUP_ID: group }));
  await waitFor("every offset committed", () => caughtUp(group, sources, 1));
  const [dead] = await readTopic(topics.dlq, 1);
  assert.equal(dead?.headers.get(DLQ_HEADERS.code), "clock_skew");
  assert.equal(dead?.headers.get(DLQ_HEADERS.timestamp), String(now - 3 * hour));

  const env = testEnv(db, topics);
  assert.equal(
    (await runCli(["dlq", "replay"], env)).stdout,
    `1 of 1 dead letter(s) chosen; 1 sent to ${topics.prefix}user\n`,
  );
  await waitFor("the replayed event dead-lettered again", async () => (await endOffsets(topics.dlq))[0] === 2n);
  assert.deepEqual(await db.query("SELECT bio FROM users WHERE user_id = ?", [USER]), [{ bio: "real" }]);
});

test("dlq commands: a bad command line is one line and exit status 2", async () => {
  const cases: [string[], RegExp][] = [
    [["dlq"], /^analytics-service: dlq: say list or replay; try --help\n$/],
    [["dlq", "purge"], /^analytics-service: dlq: unknown subcommand "purge"; try --help\n$/],
    [
      ["dlq", "replay", "--since", "yesterday"],
      /^analytics-service: dlq replay: --since "yesterday" is not an ISO-8601 time/,
    ],
    [["dlq", "replay", "--reason", "bad-field"], /^analytics-service: dlq replay: --reason "bad-field" is not one of /],
    [["dlq", "list", "--dry-run"], /^analytics-service: dlq list: unknown option --dry-run; try --help\n$/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(runCli(args, {}), (err: { code?: number; stderr?: string; stdout?: string }) => {
      assert.equal(err.code, 2, args.join(" "));
      assert.equal(err.stdout, "");
      assert.equal(err.stderr?.trim().split("\n").length, 1, err.stderr);
      assert.match(err.stderr ?? "", message);
      return true;
    });
  }
});

test("dlq replay reads and sends a topic of many letters chunk by chunk, each source message once", async (t) => {
  const topics = await testTopics(t, 2);
  const producer = await testProducer(t);
  // The dead-letter commands never touch MySQL.
  const env = testEnv({ name: "analytics_unused" }, topics);
  const userTopic = `${topics.prefix}user`;
  // 1,201 letters over the topic's two partitions; the last 201 repeat the source of the first 201.
  const letters = Array.from({ length: 1201 }, (_, i) => ({
    topic: topics.dlq,
    partition: i % 2,
    key: Buffer.from(`key-${i}`),
    value: Buffer.from(JSON.stringify({ letter: i })),
    headers: headerMap({
      [DLQ_HEADERS.topic]: userTopic,
      [DLQ_HEADERS.partition]: String(i % 2),
      [DLQ_HEADERS.offset]: String(i % 1000),
      [DLQ_HEADERS.code]: "bad_field",
      [DLQ_HEADERS.failedAt]: new Date(Date.UTC(2026, 2, 1, 0, 0, i)).toISOString(),
    }),
  }));
  // A dlq.* header without a value (Kafka allows one) is read as empty, not thrown on.
  letters[0]?.headers.set(Buffer.from(DLQ_HEADERS.reason), undefined as never);
  // Crafted letters naming a topic the service does not read (the dead-letter topic itself among
  // them) or a partition its topic lacks: never sent there.
  const crafted = [
    ["outside", userTopic.replace(/user$/, "payments"), "0"],
    ["itself", topics.dlq, "0"],
    ["beyond", userTopic, "7"],
  ].map(([name, topic, partition]) => ({
    topic: topics.dlq,
    partition: 0,
    key: Buffer.from(name as string),
    value: Buffer.from(JSON.stringify({ crafted: name })),
    headers: headerMap({
      [DLQ_HEADERS.topic]: topic as string,
      [DLQ_HEADERS.partition]: partition as string,
      [DLQ_HEADERS.offset]: "5000",
      [DLQ_HEADERS.code]: "bad_field",
    }),
  }));
  for (let i = 0; i < letters.length; i += 400) await producer.send({ messages: letters.slice(i, i + 400) });
  await producer.send({ messages: crafted });

  const before = await endOffsets(userTopic);
  const lettersBefore = await endOffsets(topics.dlq);
  const { stdout } = await runCli(["dlq", "replay"], env);
  assert.deepEqual(await endOffsets(topics.dlq), lettersBefore, "nothing written back into the dead-letter topic");
  const sources = prefixed(topics.prefix, SOURCE_TOPICS).join(", ");
  assert.equal(
    stdout,
    `skipped 3 letter(s) naming a topic or partition other than the source topics' (${sources})\n` +
      `201 letter(s) repeat a source message already chosen; it is sent once\n1000 of 1204 dead letter(s) chosen; 1000 sent to ${userTopic}\n`,
  );
  const after = await endOffsets(userTopic);
  assert.deepEqual(
    after.map((end, p) => end - (before[p] ?? 0n)),
    [500n, 500n],
  );
  const sent = await readTopic(userTopic, 1000);
  assert.deepEqual(
    sent.map((m) => JSON.parse(m.value.toString()).letter).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.equal(JSON.parse((await runCli(["dlq", "list", "--json", "--limit", "2000"], env)).stdout).length, 1204);
  const newest = await runCli(["dlq", "list", "--json"], env);
  assert.equal(JSON.parse(newest.stdout).length, 1000, "the newest --limit (1000)");
  assert.equal(
    newest.stderr,
    "analytics-service: dlq list: listed the newest 1000 of 1204 (bad_field 1204) (--limit)\n",
  );
});

test("dlq replay: a letter from another writer whose record time is past int64 does not stop the replay", async (t) => {
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const env = testEnv({ name: "analytics_unused" }, topics);
  const userTopic = `${topics.prefix}user`;
  const letter = (offset: number, timestamp: string) => ({
    topic: topics.dlq,
    key: Buffer.from(`key-${offset}`),
    value: Buffer.from(JSON.stringify({ letter: offset })),
    headers: headerMap({
      [DLQ_HEADERS.topic]: userTopic,
      [DLQ_HEADERS.partition]: "0",
      [DLQ_HEADERS.offset]: String(offset),
      [DLQ_HEADERS.timestamp]: timestamp,
      [DLQ_HEADERS.code]: "bad_field",
      [DLQ_HEADERS.failedAt]: new Date().toISOString(),
    }),
  });
  await producer.send({ messages: [letter(0, String(Date.now())), letter(1, "99999999999999999999")] });
  const r = runCliSync(["dlq", "replay"], env);
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  assert.equal(r.stdout, `2 of 2 dead letter(s) chosen; 2 sent to ${userTopic}\n`);
  assert.deepEqual(await endOffsets(userTopic), [2n]);
});

test("dlq replay refused by a source topic for the letters' record times: one line naming the refusal and --restamp, and what may have been written", async (t) => {
  const topics = await testTopics(t, 2);
  const producer = await testProducer(t);
  const env = testEnv({ name: "analytics_unused" }, topics);
  const userTopic = `${topics.prefix}user`;
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  await setTopicConfig(admin, userTopic, "message.timestamp.before.max.ms", "3600000");
  const now = Date.now();
  const letter = (partition: number, timestamp: number) => ({
    topic: topics.dlq,
    partition,
    key: Buffer.from(`key-${partition}`),
    value: Buffer.from(JSON.stringify({ letter: partition })),
    headers: headerMap({
      [DLQ_HEADERS.topic]: userTopic,
      [DLQ_HEADERS.partition]: String(partition),
      [DLQ_HEADERS.offset]: "0",
      [DLQ_HEADERS.timestamp]: String(timestamp),
      [DLQ_HEADERS.code]: "bad_field",
      [DLQ_HEADERS.failedAt]: new Date(now).toISOString(),
    }),
  });
  // Partition 0's letter is recent; partition 1's is two days old, older than the topic takes.
  await producer.send({ messages: [letter(0, now), letter(1, now - 2 * 86_400_000)] });

  const r = runCliSync(["dlq", "replay"], env);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /^analytics-service: Kafka: the brokers refused the replayed events \(INVALID_TIMESTAMP\): .*replay with --restamp.*\n$/,
  );
  // The request went to both partitions; the broker wrote partition 0's letter and refused the other.
  assert.deepEqual(await endOffsets(userTopic), [1n, 0n]);
  assert.equal(
    r.stdout,
    "stopped after 2 dead letter(s) read; 0 sent; of the 2 in the request that failed, some may have been written\n",
  );

  const restamped = runCliSync(["dlq", "replay", "--restamp"], env);
  assert.equal(restamped.status, 0, restamped.stderr);
  assert.equal(restamped.stdout, `2 of 2 dead letter(s) chosen; 2 sent to ${userTopic}\n`);
});

test("dlq replay gives each letter its own record time, however far apart those of one source partition lie", async (t) => {
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const env = testEnv({ name: "analytics_unused" }, topics);
  const userTopic = `${topics.prefix}user`;
  const day = 86_400_000;
  const now = Date.now();
  // One partition's letters go back in one record batch, each time a delta from the first's: 26
  // and 30 days (past 2^31 ms), 60 days (past 2^32) later, and 30 days earlier.
  const times = [now - 60 * day, now - 34 * day, now - 30 * day, now - 90 * day, now];
  await producer.send({
    messages: times.map((time, i) => ({
      topic: topics.dlq,
      key: Buffer.from(`key-${i}`),
      value: Buffer.from(JSON.stringify({ letter: i })),
      headers: headerMap({
        [DLQ_HEADERS.topic]: userTopic,
        [DLQ_HEADERS.partition]: "0",
        [DLQ_HEADERS.offset]: String(i),
        [DLQ_HEADERS.timestamp]: String(time),
        [DLQ_HEADERS.code]: "bad_field",
        [DLQ_HEADERS.failedAt]: new Date(now).toISOString(),
      }),
    })),
  });

  const r = runCliSync(["dlq", "replay"], env);
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  assert.equal(r.stdout, `5 of 5 dead letter(s) chosen; 5 sent to ${userTopic}\n`);
  const consumer = new Consumer({ clientId: "tests-times", bootstrapBrokers: [BROKER], groupId: randomName("times-") });
  t.after(() => consumer.close(true));
  const stream = await consumer.consume({ topics: [userTopic], mode: "earliest", autocommit: false });
  const got = new Map<string, number>();
  stream.on("data", (m) => got.set(String(m.key), Number(m.timestamp)));
  await waitFor("the replayed events", async () => got.size >= times.length, 20000);
  await stream.close();
  assert.deepEqual(
    [...got].sort(),
    times.map((time, i) => [`key-${i}`, time]),
  );
});

test("dlq replay sends letters that each fit their source topic, however small its max.message.bytes, in requests it accepts", async (t) => {
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const env = testEnv({ name: "analytics_unused" }, topics);
  const userTopic = `${topics.prefix}user`;
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  // The source topic takes records of at most 50 KB, as its producers were told.
  await setTopicConfig(admin, userTopic, "max.message.bytes", "50000");
  // 40 letters of events of 20 KB each (random text, which compresses little): each fits the
  // source topic alone, as each did when it was first written there.
  const letters = Array.from({ length: 40 }, (_, i) => ({
    topic: topics.dlq,
    partition: 0,
    key: Buffer.from(`key-${i}`),
    value: Buffer.from(JSON.stringify({ letter: i, noise: randomBytes(15_000).toString("base64") })),
    headers: headerMap({
      [DLQ_HEADERS.topic]: userTopic,
      [DLQ_HEADERS.partition]: "0",
      [DLQ_HEADERS.offset]: String(i),
      [DLQ_HEADERS.code]: "bad_field",
      [DLQ_HEADERS.failedAt]: new Date(Date.UTC(2026, 2, 1, 0, 0, i)).toISOString(),
    }),
  }));
  for (const letter of letters) await producer.send({ messages: [letter] });

  const replay = runCliSync(["dlq", "replay"], env);
  assert.equal(replay.stderr, "");
  assert.equal(replay.stdout, `40 of 40 dead letter(s) chosen; 40 sent to ${userTopic}\n`);
  assert.equal(replay.status, 0);
  assert.deepEqual(await endOffsets(userTopic), [40n]);
});
