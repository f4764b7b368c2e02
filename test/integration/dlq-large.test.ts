import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { test } from "node:test";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import {
  cliArgs,
  cliEnv,
  headerMap,
  runCli,
  runCliSync,
  testDatabase,
  testEnv,
  testProducer,
  testTopics,
  transactionalProducer,
} from "../support/helpers.ts";

// A dead-letter topic of many letters: `dlq list` shows the newest --limit of them and counts
// them all, and stops quietly when its reader goes away (`dlq list | head`).

const LETTERS = 3000;

test("dlq list shows the newest --limit letters, counts all, and ends quietly when its reader goes away", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = testEnv(db, topics);
  const producer = await testProducer(t);
  for (let i = 0; i < LETTERS; i += 500) {
    await producer.send({
      messages: Array.from({ length: 500 }, (_, j) => ({
        topic: topics.dlq,
        key: Buffer.from(`key-${i + j}`),
        value: Buffer.from("{"),
        headers: headerMap({
          [DLQ_HEADERS.topic]: `${topics.prefix}user`,
          [DLQ_HEADERS.partition]: "0",
          [DLQ_HEADERS.offset]: String(i + j),
          [DLQ_HEADERS.code]: "not_json",
          [DLQ_HEADERS.reason]: "value is not valid JSON",
          [DLQ_HEADERS.failedAt]: new Date(Date.UTC(2026, 2, 1) + (i + j) * 1000).toISOString(),
        }),
      })),
    });
  }

  const { stdout } = await runCli(["dlq", "list", "--limit", "10"], env);
  const lines = stdout.trimEnd().split("\n");
  assert.equal(lines.length, 2 + 10 + 1, stdout);
  assert.match(lines[2] ?? "", /^2026-03-01T00:49:50\.000Z {2}\S+\/0@2990 /);
  assert.equal(
    lines.at(-1),
    `${LETTERS} dead letter(s) in ${topics.dlq}; listed: the newest 10 of ${LETTERS} (not_json ${LETTERS}) (--limit)`,
  );

  // The default lists a thousand rows, more than a pipe holds: the reader leaves after the first chunk.
  const child = spawn(process.execPath, cliArgs(["dlq", "list"]), {
    env: cliEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.once("data", () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(stderr, "");
  assert.equal(code, 0);
});

test("dlq replay under a KAFKA_TOPIC_PREFIX no source topic has is one line, exit status 1, and sends nothing", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = { ...testEnv(db, topics), KAFKA_TOPIC_PREFIX: "mistyped." };
  const r = runCliSync(["dlq", "replay"], env);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /^analytics-service: dlq replay: none of the source topics \(mistyped\.user, .*mistyped\.post\) exists at .*: check KAFKA_TOPIC_PREFIX \(now "mistyped\."\)\n$/,
  );
});

test("dlq list and replay with a dead-letter topic that does not exist: one line with what to do, exit status 1", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = { ...testEnv(db, topics), KAFKA_DLQ_TOPIC: `${topics.prefix}no-such-dlq` };
  for (const args of [
    ["dlq", "list"],
    ["dlq", "replay", "--dry-run"],
    ["dlq", "replay"],
  ]) {
    const r = runCliSync(args, env);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, "", args.join(" "));
    assert.match(
      r.stderr,
      /^analytics-service: KAFKA_DLQ_TOPIC: the dead-letter topic \S+no-such-dlq does not exist at \S+; create it or set KAFKA_DLQ_TOPIC to a topic that does\n$/,
    );
  }
});

test("dlq list and replay --dry-run stay within the heap when other writers' letters carry a megabyte in a header or the key", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = testEnv(db, topics);
  const producer = await testProducer(t);
  const big = "R".repeat(1_000_000);
  // 400 such letters took 400 MB of strings held for the list: past the 256 MB heap.
  for (let i = 0; i < 400; i += 20) {
    await producer.send({
      messages: Array.from({ length: 20 }, (_, j) => ({
        topic: topics.dlq,
        // A partition of its own: the client's partitioner would hash the megabyte key for minutes.
        partition: 0,
        key: Buffer.from(`${j % 2 === 0 ? big : ""}key-${i + j}`),
        value: Buffer.from("{}"),
        headers: headerMap({
          [DLQ_HEADERS.topic]: `${topics.prefix}user`,
          [DLQ_HEADERS.partition]: "0",
          [DLQ_HEADERS.offset]: String(i + j),
          [DLQ_HEADERS.code]: "bad_field",
          [DLQ_HEADERS.reason]: j % 2 === 1 ? big : "short",
          [DLQ_HEADERS.failedAt]: new Date(Date.UTC(2026, 2, 1) + (i + j) * 1000).toISOString(),
        }),
      })),
    });
  }
  for (const args of [
    ["dlq", "list"],
    ["dlq", "list", "--json"],
    ["dlq", "replay", "--dry-run"],
  ]) {
    const r = runCliSync(args, env);
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr.slice(0, 300)}`);
    assert.ok(r.stdout.length < 400 * 2000, `${args.join(" ")} printed ${r.stdout.length} characters`);
  }
});

test("dlq list and replay read to the end of a topic a transactional writer wrote last: its markers are no letters to wait for", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = testEnv(db, topics);
  const producer = transactionalProducer(t);
  const letter = (offset: number) => ({
    topic: topics.dlq,
    partition: 0,
    key: Buffer.from(`key-${offset}`),
    value: Buffer.from("{"),
    headers: headerMap({
      [DLQ_HEADERS.topic]: `${topics.prefix}user`,
      [DLQ_HEADERS.partition]: "0",
      [DLQ_HEADERS.offset]: String(offset),
      [DLQ_HEADERS.code]: "not_json",
      [DLQ_HEADERS.failedAt]: new Date().toISOString(),
    }),
  });
  // One committed letter, then an aborted one: the topic ends in the abort marker.
  const committed = await producer.beginTransaction();
  await committed.send({ messages: [letter(0)] });
  await committed.commit();
  const aborted = await producer.beginTransaction();
  await aborted.send({ messages: [letter(1)] });
  await aborted.abort();

  const started = Date.now();
  const list = runCliSync(["dlq", "list", "--json"], env);
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual(
    JSON.parse(list.stdout).map((l: { source_offset: number }) => l.source_offset),
    [0],
  );
  const dry = runCliSync(["dlq", "replay", "--dry-run"], env);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /^dry run: 1 of 1 dead letter\(s\) chosen; nothing sent$/m);
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
});

test("dlq list and replay read every letter's headers, though one fetch brings more letters than it reads headers of", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = testEnv(db, topics);
  const producer = await testProducer(t);
  // Eight headers a letter, as the service writes them, compressed: a fetch of 1 MiB brings more
  // than the 50,000 headers it is read with, and the letters past those came without theirs.
  const count = 20_000;
  for (let i = 0; i < count; i += 2000) {
    await producer.send({
      messages: Array.from({ length: 2000 }, (_, j) => ({
        topic: topics.dlq,
        partition: 0,
        key: Buffer.from((i + j).toString(16).padStart(24, "0")),
        value: Buffer.from("{"),
        headers: headerMap({
          [DLQ_HEADERS.topic]: `${topics.prefix}user`,
          [DLQ_HEADERS.partition]: "0",
          [DLQ_HEADERS.offset]: String(i + j),
          [DLQ_HEADERS.timestamp]: String(Date.UTC(2026, 2, 1) + i + j),
          [DLQ_HEADERS.code]: "not_json",
          [DLQ_HEADERS.reason]: "value is not valid JSON",
          [DLQ_HEADERS.eventType]: "user.updated",
          [DLQ_HEADERS.failedAt]: new Date(Date.UTC(2026, 2, 1) + i + j).toISOString(),
        }),
      })),
    });
  }
  // Counted by code: a letter read without its headers counts as "other".
  const list = runCliSync(["dlq", "list", "--limit", "10"], env);
  assert.equal(list.status, 0, list.stderr);
  assert.equal(
    list.stdout.trimEnd().split("\n").at(-1),
    `${count} dead letter(s) in ${topics.dlq}; listed: the newest 10 of ${count} (not_json ${count}) (--limit)`,
  );
  const dry = runCliSync(["dlq", "replay", "--dry-run"], env);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`^dry run: ${count} of ${count} dead letter\\(s\\) chosen, listed: `, "m"));
  assert.doesNotMatch(dry.stdout, /skipped/);
});

test("dlq list --limit 100000 stays within the heap when other writers' letters fill every text and the key to its cap", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = testEnv(db, topics);
  const producer = await testProducer(t);
  // Each letter keeps about 3.6 KB listed (five texts of 512 bytes, a key of 1 KiB): 40,000 of
  // them, all kept below twice the limit, took 144 MB and ran the 256 MB heap out.
  const count = 45_000;
  const text = (c: string, i: number) => `${i} ${c.repeat(600)}`;
  for (let i = 0; i < count; i += 1000) {
    await producer.send({
      messages: Array.from({ length: 1000 }, (_, j) => ({
        topic: topics.dlq,
        partition: 0,
        key: Buffer.from(text("k", i + j).repeat(2)),
        value: Buffer.from("{"),
        headers: headerMap({
          [DLQ_HEADERS.topic]: text("t", i + j),
          [DLQ_HEADERS.partition]: "0",
          [DLQ_HEADERS.code]: text("c", i + j),
          [DLQ_HEADERS.reason]: text("r", i + j),
          [DLQ_HEADERS.eventType]: text("e", i + j),
          [DLQ_HEADERS.failedAt]: `${new Date(Date.UTC(2026, 2, 1) + (i + j) * 1000).toISOString()}${text("f", 0)}`,
        }),
      })),
    });
  }
  const footer = new RegExp(
    `^${count} dead letter\\(s\\) in ${topics.dlq.replace(/\./g, "\\.")}; listed: the newest (\\d+) of ${count} \\(other ${count}\\) \\(--limit, and the 64 MiB of texts and keys a list keeps\\)$`,
  );
  const list = spawnSync(process.execPath, cliArgs(["dlq", "list", "--limit", "100000"]), {
    env: cliEnv(env),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(list.status, 0, list.stderr.slice(0, 500));
  const shown = Number(footer.exec(list.stdout.trimEnd().split("\n").at(-1) ?? "")?.[1]);
  assert.ok(shown > 10_000 && shown < count, list.stdout.slice(-300));
  assert.equal(list.stdout.trimEnd().split("\n").length, 2 + shown + 1);
  const json = spawnSync(process.execPath, cliArgs(["dlq", "list", "--json", "--limit", "100000"]), {
    env: cliEnv(env),
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
  });
  assert.equal(json.status, 0, json.stderr.slice(0, 500));
  assert.equal(JSON.parse(json.stdout).length, shown);
});
