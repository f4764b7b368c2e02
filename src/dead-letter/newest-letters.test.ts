import assert from "node:assert/strict";
import { test } from "node:test";
import type { DeadLetterEntry } from "./letter.ts";
import { LISTED_KEY_BYTES, LISTED_TEXT_BYTES, listed, NewestLetters } from "./newest-letters.ts";

const letter = (i: number, code: string | null = "bad_field"): DeadLetterEntry => ({
  failedAt: new Date(Date.UTC(2026, 2, 1) + i * 1000).toISOString(),
  dlqPartition: i % 3,
  dlqOffset: BigInt(i),
  code,
  reason: `reason ${i}`,
  eventType: "user.updated",
  sourceTopic: "user",
  sourcePartition: 0,
  sourceOffset: BigInt(i),
  sourceTimestamp: null,
  key: Buffer.from(`key ${i}`),
  keyTruncated: false,
  value: Buffer.alloc(100),
  valueBytes: 100,
  truncated: false,
  originalBytes: null,
  originalHeaders: [],
});

test("NewestLetters keeps the newest letters, oldest first, and counts every letter by code", () => {
  const newest = new NewestLetters(3);
  // Added out of order, as partitions interleave.
  for (const i of [5, 1, 9, 0, 7, 3, 8, 2, 6, 4]) newest.add(letter(i, i === 4 ? "not_json" : "bad_field"));
  assert.deepEqual(
    newest.letters().map((e) => Number(e.dlqOffset)),
    [7, 8, 9],
  );
  assert.equal(newest.total, 10);
  assert.equal(newest.summary(), "the newest 3 of 10 (bad_field 9, not_json 1)");
  assert.ok(
    newest.letters().every((e) => e.value === null),
    "values are not kept",
  );
});

test("NewestLetters holds at most twice its limit, whatever it is given; codes it does not know count as other", () => {
  const newest = new NewestLetters(100);
  for (let i = 0; i < 50_000; i++) newest.add(letter(i, i % 2 === 0 ? `crafted-${i}` : "too_large"));
  assert.equal(newest.letters().length, 100);
  assert.equal(newest.letters()[0]?.dlqOffset, 49_900n);
  assert.deepEqual(
    [...newest.byCode],
    [
      ["other", 25_000],
      ["too_large", 25_000],
    ],
  );
  const few = new NewestLetters(100);
  few.add(letter(1));
  assert.equal(few.summary(), "");
});

test("a listed letter keeps at most LISTED_TEXT_BYTES of each dlq.* text and LISTED_KEY_BYTES of its key", () => {
  const big = "é".repeat(500_000);
  const kept = listed({
    ...letter(1),
    failedAt: big,
    sourceTopic: big,
    eventType: big,
    code: big,
    reason: big,
    key: Buffer.alloc(1_000_000, 0x6b),
  });
  for (const text of [kept.failedAt, kept.sourceTopic, kept.eventType, kept.code, kept.reason]) {
    assert.ok(Buffer.byteLength(text ?? "") <= LISTED_TEXT_BYTES, String(text?.length));
    assert.ok(text?.endsWith("é…"), "cut between characters, an ellipsis saying so");
  }
  assert.equal(kept.key?.length, LISTED_KEY_BYTES);
  assert.equal(kept.key?.toString(), "k".repeat(LISTED_KEY_BYTES), "the key's first bytes, no ellipsis added");
  assert.equal(kept.keyTruncated, true);
  const small = listed(letter(2));
  assert.equal(small.reason, "reason 2", "what the service writes is kept as it is");
  assert.equal(small.key?.toString(), "key 2");
  assert.equal(small.keyTruncated, false);
});

test("a listed key is cut between two characters, and a key the writer cut stays said to be cut", () => {
  // 1 + 341 × 3 = 1,024 bytes would end a character exactly; one more byte in front splits the last.
  const key = Buffer.from(`ab${"€".repeat(400)}`);
  const kept = listed({ ...letter(1), key });
  assert.equal(kept.key?.length, 1_022);
  assert.equal(kept.key?.toString(), `ab${"€".repeat(340)}`, "no U+FFFD: the split character is left out whole");
  assert.equal(kept.keyTruncated, true);
  const even = Buffer.from(`a${"€".repeat(400)}`);
  assert.equal(listed({ ...letter(1), key: even }).key?.length, LISTED_KEY_BYTES);
  const cutByWriter = listed({ ...letter(2), keyTruncated: true });
  assert.equal(cutByWriter.key?.toString(), "key 2");
  assert.equal(cutByWriter.keyTruncated, true);
});

test("a listed key that fits is kept whole, even ending in what looks like a character's first bytes", () => {
  for (const bytes of [[0x61, 0xe2], [0x61, 0xf0, 0x9f], [0xc3], [0x61, 0xe2, 0x82]]) {
    const key = Buffer.from(bytes);
    const kept = listed({ ...letter(1), key });
    assert.deepEqual(kept.key, key, key.toString("hex"));
    assert.equal(kept.keyTruncated, false);
  }
  // At the limit exactly, still whole.
  const full = Buffer.concat([Buffer.alloc(LISTED_KEY_BYTES - 1, 0x61), Buffer.from([0xe2])]);
  assert.deepEqual(listed({ ...letter(1), key: full }).key, full);
});

test("NewestLetters keeps at most its bytes of texts and keys, the newest first, and says when they cut the list", () => {
  const newest = new NewestLetters(1000, 100_000);
  const long = (i: number) => ({ ...letter(i), reason: `${i} ${"r".repeat(600)}`, key: Buffer.alloc(2000, 107) });
  for (let i = 0; i < 5000; i++) newest.add(long(i));
  const kept = newest.letters();
  // Each keeps a 1 KiB key and a reason cut to 512 bytes, held as two bytes a character: about 2 KB.
  assert.ok(kept.length > 30 && kept.length < 60, `${kept.length} kept`);
  assert.equal(kept.at(-1)?.dlqOffset, 4999n);
  assert.equal(newest.cutForMemory, true);
  assert.equal(newest.summary(), `the newest ${kept.length} of 5000 (bad_field 5000)`);
  const small = new NewestLetters(1000, 100_000);
  for (let i = 0; i < 5000; i++) small.add(letter(i));
  assert.equal(small.letters().length, 1000);
  assert.equal(small.cutForMemory, false);
});
