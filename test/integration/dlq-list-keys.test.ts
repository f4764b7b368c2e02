import assert from "node:assert/strict";
import { test } from "node:test";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { runCli, testEnv, testProducer, testTopics } from "../support/helpers.ts";

// `dlq list --json` against the real broker, with letters another writer put there: a key that is
// not UTF-8 is shown in base64 (it once printed as U+FFFD, two keys alike), and a key cut at 1 KiB
// or by its writer is cut between two characters and said to be cut.

test("dlq list --json: a binary key in base64, a long or writer-cut key cut between characters", async (t) => {
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const env = testEnv({ name: "analytics_unused" }, topics);
  const failedAt = new Date().toISOString();
  const letter = (key: Buffer, extra: Record<string, string> = {}) => ({
    topic: topics.dlq,
    key,
    value: Buffer.from("{}"),
    headers: new Map(
      Object.entries({ [DLQ_HEADERS.code]: "bad_field", [DLQ_HEADERS.failedAt]: failedAt, ...extra }).map(([k, v]) => [
        Buffer.from(k),
        Buffer.from(v),
      ]),
    ),
  });
  const long = `ab${"€".repeat(400)}`; // 1,202 bytes: the 1,024th byte is in the middle of a "€"
  const keys = [
    Buffer.from([0xff, 0xfe, 0x00, 0x01]),
    Buffer.from([0xfe, 0xff, 0x00, 0x01]), // shown with U+FFFD, the same as the one before
    Buffer.from("65a1f0c2e4b0a1b2c3d4e5f6"),
    Buffer.from(long),
    // Short, not cut, ending in what would begin a "€": binary, listed whole (not as the key "a").
    Buffer.from([0x61, 0xe2]),
  ];
  await producer.send({
    messages: [
      ...keys.map((k) => letter(k)),
      // A writer that cut the key to fit (dlq.key.truncated) may have cut a character in two.
      letter(Buffer.from("id-€").subarray(0, 5), { [DLQ_HEADERS.keyTruncated]: "true" }),
    ],
  });

  const { stdout } = await runCli(["dlq", "list", "--json"], env);
  const shown: [string | null, string | null, boolean][] = JSON.parse(stdout).map(
    (l: { key: string | null; key_encoding: string | null; key_truncated: boolean }) => [
      l.key,
      l.key_encoding,
      l.key_truncated,
    ],
  );
  assert.deepEqual(shown, [
    ["//4AAQ==", "base64", false],
    ["/v8AAQ==", "base64", false],
    ["65a1f0c2e4b0a1b2c3d4e5f6", "utf8", false],
    [`ab${"€".repeat(340)}`, "utf8", true],
    ["YeI=", "base64", false],
    ["id-", "utf8", true],
  ]);
  assert.deepEqual(Buffer.from(shown[0]?.[0] ?? "", "base64"), keys[0], "the key's own bytes");
  assert.ok(long.startsWith(shown[3]?.[0] ?? "-"), "a cut key is the first bytes of the key, nothing added");
});
