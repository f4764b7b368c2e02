import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Admin, Consumer } from "@platformatic/kafka";
import { runRewind } from "../../src/commands/rewind.ts";
import { loadConfig } from "../../src/config/index.ts";
import { emit } from "../../src/generate/emit.ts";
import { generateStream } from "../../src/generate/stream.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { TABLE_KEYS } from "../support/compare.ts";
import {
  BROKER,
  caughtUp,
  hexId,
  produce,
  runCli,
  runCliWithoutReader,
  type TestDatabase,
  testDatabase,
  testEnv,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// `analytics-service rewind` on the real broker, run as users run it: the group's offsets go back
// to the log start or to a time, a replay through the service leaves the tables exactly as they
// were (idempotent, never backwards), a live group is refused, and --dry-run changes nothing.

const PARTITIONS = 3;
const SLOW = 60000;

async function setup(t: TestContext) {
  const db = await testDatabase(t);
  const topics = await testTopics(t, PARTITIONS);
  const env = testEnv(db, topics);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  return { db, topics, env, config: loadConfig(env), sources, group: env.KAFKA_GROUP_ID as string };
}

/** Every analytics table and the tombstones, whole, in key order: what a replay must leave as it was. */
async function snapshot(db: TestDatabase): Promise<Record<string, unknown[]>> {
  const tables: Record<string, readonly string[]> = {
    ...TABLE_KEYS,
    entity_tombstones: ["entity_type", "entity_id"],
  };
  const out: Record<string, unknown[]> = {};
  for (const [table, key] of Object.entries(tables)) {
    out[table] = await db.query(`SELECT * FROM \`${table}\` ORDER BY ${key.map((k) => `\`${k}\``).join(", ")}`);
  }
  return out;
}

/** Offsets per "topic/partition", as text (-1: none). */
function byPartition(offsets: Map<string, bigint[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [topic, list] of offsets) {
    for (const [p, o] of list.entries()) out[`${topic}/${p}`] = String(o);
  }
  return out;
}

/** The group's committed offsets (a consumer that never joins the group only reads them). */
async function committed(group: string, topics: string[]): Promise<Record<string, string>> {
  const consumer = new Consumer({ clientId: "tests-offsets", bootstrapBrokers: [BROKER], groupId: group });
  try {
    const all = [...Array(PARTITIONS).keys()];
    return byPartition(
      await consumer.listCommittedOffsets({ topics: topics.map((topic) => ({ topic, partitions: all })) }),
    );
  } finally {
    await consumer.close();
  }
}

/** End offsets: where the next record of each partition will go. */
async function ends(topics: string[]): Promise<Record<string, string>> {
  const consumer = new Consumer({ clientId: "tests-offsets", bootstrapBrokers: [BROKER], groupId: "unused" });
  try {
    return byPartition(await consumer.listOffsets({ topics }));
  } finally {
    await consumer.close();
  }
}

/** Runs the CLI expecting failure: its exit status and stderr. */
async function cliFails(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    await runCli(args, env);
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
  assert.fail(`${args.join(" ")} succeeded`);
}

test("rewind --to earliest, then a restart, replays everything into exactly the same tables", async (t) => {
  const s = await setup(t);
  const producer = await testProducer(t);
  const stream = generateStream({ seed: 20, events: 1500, poisonRate: 0 });
  await produce(producer, s.topics.prefix, stream);

  const first = await testService(t, s.config);
  await waitFor("the stream consumed", () => caughtUp(s.group, s.sources, PARTITIONS), SLOW);
  await first.stop();
  const before = await snapshot(s.db);
  assert.ok((before.users?.length ?? 0) > 0 && (before.order_items?.length ?? 0) > 0, "the stream filled the tables");

  const { stdout } = await runCli(["rewind", "--to", "earliest"], s.env);
  assert.match(stdout, /^topic\s+partition\s+before\s+after\s+end\s+note$/m);
  assert.match(
    stdout,
    new RegExp(
      `^moved 15 of 15 partition\\(s\\) of group ${s.group}, ${stream.length} record\\(s\\) to read again; `,
      "m",
    ),
  );
  const zero = Object.fromEntries(s.sources.flatMap((x) => [0, 1, 2].map((p) => [`${x}/${p}`, "0"])));
  assert.deepEqual(await committed(s.group, s.sources), zero, "every partition back at its start");
  const again = await runCli(["rewind", "--to", "earliest"], s.env);
  assert.match(again.stdout, /all 15 partition\(s\) are already there; nothing changed\n$/, "idempotent");

  let replayed = 0;
  await testService(t, s.config, {
    onBatch: (r) => {
      replayed += r.events.length;
    },
  });
  await waitFor("the replay consumed", () => caughtUp(s.group, s.sources, PARTITIONS), SLOW);
  assert.equal(replayed, stream.length, "every event was read again");
  assert.deepEqual(await snapshot(s.db), before, "the replay changed nothing");
});

test("rewind --to a time moves each partition to its first record at or after it; --dry-run changes nothing", async (t) => {
  const s = await setup(t);
  const producer = await testProducer(t);
  const doc = fixture("user.created").value.data as never;
  // Two groups of records, a recorded time between them: the record timestamps decide.
  await produce(
    producer,
    s.topics.prefix,
    Array.from({ length: 40 }, (_, i) => emit("user.created", hexId(i, "aa"), doc)),
  );
  const afterFirst = await ends(s.sources);
  await sleep(1100);
  const between = new Date().toISOString();
  await sleep(1100);
  await produce(
    producer,
    s.topics.prefix,
    Array.from({ length: 40 }, (_, i) => emit("user.created", hexId(i, "bb"), doc)),
  );

  const service = await testService(t, s.config);
  await waitFor("both groups consumed", () => caughtUp(s.group, s.sources, PARTITIONS), SLOW);
  await service.stop();
  const atEnd = await committed(s.group, s.sources);

  const dry = await runCli(["rewind", "--to", between, "--dry-run"], s.env);
  t.diagnostic(`rewind --to ${between} --dry-run:\n${dry.stdout}`);
  assert.match(
    dry.stdout,
    /^dry run: would move 3 of 15 partition\(s\) of group .*, 40 record\(s\) to read again; nothing changed$/m,
  );
  // Only the user topic has records; empty partitions the group never committed stay uncommitted.
  for (const [key, offset] of Object.entries(afterFirst).filter(([k]) => k.includes(".user/"))) {
    const [topic, partition] = key.split("/");
    assert.match(
      dry.stdout,
      new RegExp(`^${topic}\\s+${partition}\\s+${atEnd[key]}\\s+${offset}\\s+${atEnd[key]}\\b`, "m"),
    );
  }
  assert.match(dry.stdout, /\.post\s+2\s+-\s+-\s+0\s+-$/m);
  assert.deepEqual(await committed(s.group, s.sources), atEnd, "a dry run changes nothing");

  await runCli(["rewind", "--to", between], s.env);
  // Partitions the group never committed (the empty topics) stay uncommitted.
  const expected = Object.fromEntries(Object.entries(afterFirst).map(([k, o]) => [k, atEnd[k] === "-1" ? "-1" : o]));
  assert.deepEqual(await committed(s.group, s.sources), expected, "each partition at the first record after the time");
  // A time after every record: a partition is never moved forward past what the group has not read.
  const later = new Date().toISOString();
  const kept = await runCli(["rewind", "--to", later], s.env);
  assert.match(kept.stdout, /kept: not yet read up to the time/);
  assert.match(kept.stdout, /nothing changed\n$/);
  assert.deepEqual(await committed(s.group, s.sources), expected);
});

test("rewind of a group that never committed (a mistyped KAFKA_GROUP_ID) is refused in one line and moves nothing", async (t) => {
  const s = await setup(t);
  const producer = await testProducer(t);
  await produce(producer, s.topics.prefix, [
    emit("user.created", hexId(1, "c1"), fixture("user.created").value.data as never),
  ]);
  const dry = await runCli(["rewind", "--to", "2026-01-01", "--dry-run"], s.env);
  assert.match(
    dry.stdout,
    new RegExp(
      `never committed: starts at KAFKA_AUTO_OFFSET_RESET\n[^]*\ndry run: a rewind would be refused: group ${s.group} has no committed offsets on the source topics, so nothing to read again: check KAFKA_GROUP_ID \\(a group that never committed starts at KAFKA_AUTO_OFFSET_RESET=earliest\\)\n$`,
    ),
  );
  const refused = await cliFails(["rewind", "--to", "2026-01-01"], s.env);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    new RegExp(
      `^analytics-service: rewind: group ${s.group} has no committed offsets on the source topics, so nothing to read again: check KAFKA_GROUP_ID \\(a group that never committed starts at KAFKA_AUTO_OFFSET_RESET=earliest\\)\n$`,
    ),
  );
  assert.ok(
    Object.values(await committed(s.group, s.sources)).every((o) => o === "-1"),
    "nothing committed",
  );
});

test("rewind is refused, in one line and with exit status 1, while the group has a live member", async (t) => {
  const s = await setup(t);
  let joined = false;
  await testService(t, s.config, {
    onReady: () => {
      joined = true;
    },
  });
  await waitFor("the service joined its group", async () => joined, SLOW);
  // Where it stands on its partitions, none of which has had an event, is committed.
  await waitFor(
    "the group's positions committed",
    async () => Object.values(await committed(s.group, s.sources)).every((o) => o !== "-1"),
    SLOW,
  );
  const before = await committed(s.group, s.sources);

  const refused = await cliFails(["rewind", "--to", "earliest"], s.env);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    new RegExp(
      `^analytics-service: rewind: consumer group ${s.group} has 1 live member\\(s\\) \\(state \\w+\\): stop every service instance with KAFKA_GROUP_ID=${s.group} [^\\n]*, then run rewind again\\n$`,
    ),
  );
  // A dry run still shows the plan, and says why the real one would be refused.
  const dry = await runCli(["rewind", "--to", "earliest", "--dry-run"], s.env);
  assert.match(dry.stdout, /\nnote: consumer group .* has 1 live member\(s\)/);
  assert.deepEqual(await committed(s.group, s.sources), before);

  const bad = await cliFails(["rewind", "--to", "last tuesday"], s.env);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^analytics-service: rewind: --to "last tuesday" is neither earliest nor an ISO-8601 time [^\n]*\n$/,
  );
});

test("rewind with a source topic not created yet moves the others, as run reads them, and says which is missing", async (t) => {
  const s = await setup(t);
  const producer = await testProducer(t);
  const stream = generateStream({ seed: 21, events: 300, poisonRate: 0 });
  await produce(producer, s.topics.prefix, stream);
  const first = await testService(t, s.config);
  await waitFor("the stream consumed", () => caughtUp(s.group, s.sources, PARTITIONS), SLOW);
  await first.stop();
  // The upstream of posts not deployed yet (here: its topic gone): `run` reads the other four.
  const post = s.sources.find((x) => x.endsWith(".post")) as string;
  const admin = new Admin({ clientId: "tests-rewind", bootstrapBrokers: [BROKER] });
  try {
    await admin.deleteTopics({ topics: [post] });
    await waitFor("the post topic gone", async () => !(await admin.listTopics()).includes(post), SLOW);
  } finally {
    await admin.close();
  }
  const others = s.sources.filter((x) => x !== post);
  const before = await committed(s.group, others);
  const { stdout } = await runCli(["rewind", "--to", "earliest"], s.env);
  assert.match(
    stdout,
    new RegExp(`^moved \\d+ of 12 partition\\(s\\) of group ${s.group}, \\d+ record\\(s\\) to read again; `, "m"),
  );
  assert.match(stdout, new RegExp(`^note: source topic\\(s\\) ${post.replaceAll(".", "\\.")} not found: `, "m"));
  // Every partition the group had read is back at its start (one never committed stays so).
  const zero = Object.fromEntries(Object.entries(before).map(([k, o]) => [k, o === "-1" ? "-1" : "0"]));
  assert.deepEqual(await committed(s.group, others), zero, "the four topics back at their start");
});

test("rewind whose reader has gone (rewind | true) still moves the offsets it plans, and exits 0", async (t) => {
  const s = await setup(t);
  const producer = await testProducer(t);
  await produce(producer, s.topics.prefix, generateStream({ seed: 22, events: 200, poisonRate: 0 }));
  // A group that read everything and stopped: its offsets committed at the ends, no member.
  const end = await ends(s.sources);
  const admin = new Admin({ clientId: "tests-rewind", bootstrapBrokers: [BROKER] });
  try {
    await admin.alterConsumerGroupOffsets({
      groupId: s.group,
      topics: s.sources.map((name) => ({
        name,
        partitionOffsets: [...Array(PARTITIONS).keys()].map((partition) => ({
          partition,
          offset: BigInt(end[`${name}/${partition}`] ?? "0"),
        })),
      })),
    });
  } finally {
    await admin.close();
  }
  assert.deepEqual(await committed(s.group, s.sources), end);

  // The reader is gone before the plan is printed: the table's write fails with EPIPE.
  const { code, stderr } = await runCliWithoutReader(["rewind", "--to", "earliest"], s.env);
  assert.equal(stderr, "");
  assert.equal(code, 0);
  const zero = Object.fromEntries(Object.keys(end).map((k) => [k, "0"]));
  assert.deepEqual(await committed(s.group, s.sources), zero, "exit 0 means the rewind was done");
});

test("a rewind the broker refuses for some partitions only (a topic deleted meanwhile) says which moved and which did not", async (t) => {
  const s = await setup(t);
  const producer = await testProducer(t);
  await produce(producer, s.topics.prefix, generateStream({ seed: 23, events: 200, poisonRate: 0 }));
  // A group that read everything and stopped: its offsets committed at the ends, no member.
  const end = await ends(s.sources);
  const admin = new Admin({ clientId: "tests-rewind", bootstrapBrokers: [BROKER] });
  t.after(() => admin.close());
  const partitionOffsets = (name: string) =>
    [...Array(PARTITIONS).keys()].map((partition) => ({
      partition,
      offset: BigInt(end[`${name}/${partition}`] ?? "0"),
    }));
  await admin.alterConsumerGroupOffsets({
    groupId: s.group,
    topics: s.sources.map((name) => ({ name, partitionOffsets: partitionOffsets(name) })),
  });
  // The post topic deleted between the plan and the commit: the broker refuses its partitions
  // (UNKNOWN_TOPIC_OR_PARTITION) and commits the others'.
  const post = s.sources.find((x) => x.endsWith(".post")) as string;
  const alter = Admin.prototype.alterConsumerGroupOffsets;
  t.mock.method(Admin.prototype, "alterConsumerGroupOffsets", async function (this: Admin, ...args: unknown[]) {
    await admin.deleteTopics({ topics: [post] });
    await waitFor("the post topic gone", async () => !(await admin.listTopics()).includes(post), SLOW);
    return (alter as (...a: unknown[]) => Promise<void>).apply(this, args);
  });
  let printed = "";
  const out = {
    write: (text: string) => {
      printed += text;
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  // Every partition that holds a record moves (an empty one is already at its start).
  const moving = Object.values(end).filter((o) => o !== "0").length;
  const movingPost = Object.entries(end).filter(([k, o]) => k.startsWith(`${post}/`) && o !== "0");
  assert.ok(movingPost.length > 0, "the post topic has records to move");
  await assert.rejects(runRewind(s.config, { to: { kind: "earliest" }, dryRun: false }, out), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(
        `^rewind: only ${moving - movingPost.length} of ${moving} partition\\(s\\) of group ${s.group} moved; ${post.replaceAll(".", "\\.")} ${movingPost.map(([k]) => k.split("/")[1]).join(", ")} did not \\(the broker refused UNKNOWN_TOPIC_OR_PARTITION\\): .*then run rewind again, which moves only what is not there yet$`,
      ),
    );
    return true;
  });
  assert.match(printed, /^topic\s+partition\s+before\s+after\s+end\s+note$/m, "the plan was printed");
  const others = s.sources.filter((x) => x !== post);
  const zero = Object.fromEntries(Object.keys(await committed(s.group, others)).map((k) => [k, "0"]));
  assert.deepEqual(await committed(s.group, others), zero, "the other four topics moved, as the line says");
});
