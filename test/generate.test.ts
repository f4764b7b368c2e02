import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { generateStream } from "../src/generate/stream.ts";
import { CLI, readTopic, testDatabase, testEnv, testTopics, topicSize } from "./helpers.ts";

// `analytics-service generate` writes the seeded stream, byte for byte, into the configured topics.

test("generate writes N seeded events into the topics, with plain progress lines off a TTY", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const env = testEnv(db, topics);
  const r = spawnSync(process.execPath, [CLI, "generate", "--events", "300", "--seed", "5"], {
    env: { PATH: process.env.PATH, ...env },
    encoding: "utf8",
    timeout: 60000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim().split("\n").at(-1) ?? "", /^300 \/ 300 {2}100% .* ev\/s {2}ETA 0 s$/);
  const sizes = await Promise.all(topics.all.filter((x) => x !== topics.dlq).map((x) => topicSize(x)));
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    300,
  );
  const expected = generateStream({ seed: 5, events: 300, poisonRate: 0 }).filter((g) => g.topic === "user");
  const users = await readTopic(`${topics.prefix}user`, expected.length);
  assert.deepEqual(
    users.map((m) => m.value.toString()).sort(),
    expected.map((g) => (g.value ?? Buffer.alloc(0)).toString()).sort(),
  );
});
