import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { type TestContext, test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { generateStream, MAX_STEP_MICROS } from "../../src/generate/stream.ts";
import {
  BROKER,
  CLI,
  cliArgs,
  cliEnv,
  deleteTopicsThatExist,
  randomName,
  readTopic,
  runCliWithoutReader,
  testDatabase,
  testEnv,
  testTopics,
  topicSize,
  waitFor,
} from "../support/helpers.ts";
import type { TestTopics } from "../support/kafka.ts";

// `analytics-service generate` writes the seeded stream, byte for byte, into the configured topics,
// stamped to end about when it is produced; it refuses topics that don't exist in one line.

/** Microseconds since the epoch of an event timestamp as the generator writes it (UTC, +00:00 or Z). */
const micros = (ts: string) =>
  BigInt(Date.parse(`${ts.slice(0, 19)}Z`)) * 1000n + BigInt(/\.(\d{6})/.exec(ts)?.[1] ?? "0");

test("generate writes N seeded events stamped up to now, names the start that repeats them, plain progress off a TTY", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const env = testEnv(db, topics);
  const before = BigInt(Date.now()) * 1000n;
  const r = spawnSync(process.execPath, [CLI, "generate", "--events", "300", "--seed", "5"], {
    env: { PATH: process.env.PATH, ...env },
    encoding: "utf8",
    timeout: 60000,
  });
  const after = BigInt(Date.now()) * 1000n;
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines.at(-1) ?? "", /^300 \/ 300 {2}100% .* ev\/s {2}ETA 0 s$/);
  const start = /--seed 5 --start (\S+)$/.exec(lines[0] ?? "")?.[1];
  assert.ok(start, lines[0]);
  const sizes = await Promise.all(topics.all.filter((x) => x !== topics.dlq).map((x) => topicSize(x)));
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    300,
  );
  // The printed start gives the same stream again.
  const startMicros = BigInt(Date.parse(start)) * 1000n;
  const expected = generateStream({ seed: 5, events: 300, poisonRate: 0, startMicros }).filter(
    (g) => g.topic === "user",
  );
  const users = await readTopic(`${topics.prefix}user`, expected.length);
  assert.deepEqual(
    users.map((m) => m.value.toString()).sort(),
    expected.map((g) => (g.value ?? Buffer.alloc(0)).toString()).sort(),
  );
  // Stamped no later than the run ended, and within the stream's worst-case span before it began.
  for (const m of users) {
    if (m.value.length === 0) continue;
    const stamp = micros(JSON.parse(m.value.toString()).timestamp);
    assert.ok(stamp <= after, `${stamp} after the run ended (${after})`);
    assert.ok(stamp >= before - 300n * BigInt(MAX_STEP_MICROS), `${stamp} long before ${before}`);
  }
});

test("generate against topics that don't exist fails at once: one line naming them, exit 1", async (t) => {
  const prefix = `${randomName("missing")}.`;
  // Two of the five exist: the line names the other three.
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
  const existing = [`${prefix}user`, `${prefix}post`];
  await admin.createTopics({ topics: existing, partitions: 1, replicas: 1 });
  t.after(async () => {
    await deleteTopicsThatExist(admin, existing);
    await admin.close();
  });
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, "generate", "--events", "10"], {
    env: { PATH: process.env.PATH, KAFKA_BOOTSTRAP_SERVERS: BROKER, KAFKA_TOPIC_PREFIX: prefix, LOG_LEVEL: "silent" },
    encoding: "utf8",
    timeout: 30000,
  });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(r.status, 1, `${r.signal} ${r.stderr}`);
  assert.equal(r.stdout, "");
  const missing = ["supplier", "product", "order"].map((x) => `${prefix}${x}`).join(", ");
  assert.equal(
    r.stderr,
    `analytics-service: generate: topics missing on ${BROKER}: ${missing}; the broker does not create topics on first write: create them, or unset KAFKA_TOPIC_PREFIX (now ${prefix}) to use the default ones, which \`npm run stack:up\` creates\n`,
  );
  assert.ok(seconds < 15, `took ${seconds} s`);
});

test("generate whose reader has gone (generate … | head -1 after its first line) still writes every event, and exits 0", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const env = testEnv(db, topics);
  // The reader leaves before the first line: every write of the run fails with EPIPE.
  const { code, stderr } = await runCliWithoutReader(["generate", "--events", "300"], env);
  assert.equal(stderr, "");
  assert.equal(code, 0);
  const sizes = await Promise.all(topics.all.filter((x) => x !== topics.dlq).map((x) => topicSize(x)));
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    300,
    "exit 0 means the stream was written",
  );
});

/**
 * `generate` of 100,000 events at 1,000/s, started as `command` (the CLI itself, or a shell
 * running it) in a process group of its own as a terminal's foreground job is; resolves once its
 * first line is out and some events are in the topics, so a signal stops it part way.
 */
async function generating(t: TestContext, topics: TestTopics, command: string, args: string[]) {
  const env = testEnv(await testDatabase(t), topics);
  const child = spawn(command, [...args, ...cliArgs(["generate", "--events", "100000", "--rate", "1000"])], {
    env: cliEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  t.after(() => {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch (err) {
      // Gone already, as it should be.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<number | string | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(signal ?? code)),
  );
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const inTopics = async () => (await Promise.all(sources.map((x) => topicSize(x)))).reduce((a, b) => a + b, 0);
  await waitFor("the first line", async () => stdout.startsWith("stamping from"), 30000);
  await waitFor("some events written", async () => (await inTopics()) > 0, 30000);
  return { child, exited, stdout: () => stdout, inTopics };
}

test("generate stopped by Ctrl-C says how many events it wrote, and ends by the signal (130 to a shell)", async (t) => {
  const topics = await testTopics(t);
  const { child, exited, stdout: out, inTopics } = await generating(t, topics, process.execPath, []);
  child.kill("SIGINT");
  assert.equal(await exited, "SIGINT");
  const stdout = out();
  // Off a terminal the last progress line was printed at 5 s: without this one, nothing said how far it got.
  const m =
    /\nstopped by SIGINT: (\d+) of 100000 event\(s\) written(?:, and up to (\d+) more may have been written)?; they stay in the topics\n$/.exec(
      stdout,
    );
  assert.ok(m, stdout);
  const written = Number(m[1]);
  const total = await inTopics();
  assert.ok(written > 0 && total >= written && total <= written + Number(m[2] ?? 0), `${total} in the topics`);
});

test("generate stopped by Ctrl-C in a shell script stops the script too, as any interrupted command does", async (t) => {
  const topics = await testTopics(t);
  // A script or loop running generate: Ctrl-C signals the whole group. A child that exits (130)
  // rather than dying of SIGINT tells bash the signal was handled, and the script goes on.
  const script = `"$0" "$@"; echo "went on: $?"`;
  const { child, exited, stdout } = await generating(t, topics, "bash", ["-c", script, process.execPath]);
  process.kill(-(child.pid as number), "SIGINT");
  assert.equal(await exited, "SIGINT", stdout());
  assert.match(stdout(), /\nstopped by SIGINT: \d+ of 100000 event\(s\) written/);
  assert.doesNotMatch(stdout(), /went on/);
});
