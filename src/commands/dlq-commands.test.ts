import assert from "node:assert/strict";
import { test } from "node:test";
import { type DeadLetterEntry, decodeLetter } from "../dead-letter/letter.ts";
import { sortLetters } from "../dead-letter/newest-letters.ts";
import { UsageError } from "./args.ts";
import { formatLetters, letterJson, lettersJson, listOptions } from "./dlq-list.ts";
import { REMEMBERED, replayChooser, replayMessage, replayOptions } from "./dlq-replay.ts";

const headers = (h: Record<string, string>) =>
  Object.entries(h).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as [Buffer, Buffer]);

const letter = (over: Partial<Record<string, string>> = {}, offset = 0n, value = Buffer.from('{"a":1}')) =>
  decodeLetter({
    partition: 0,
    offset,
    key: Buffer.from("65a1f0c2e4b0a1b2c3d4e5f6"),
    value,
    headers: headers(
      Object.fromEntries(
        Object.entries({
          "trace-id": "abc",
          "dlq.source.topic": "user",
          "dlq.source.partition": "2",
          "dlq.source.offset": "17",
          "dlq.error.code": "bad_field",
          "dlq.error.reason": "data.profile.display_name is longer than 100 characters",
          "dlq.event.type": "user.updated",
          "dlq.failed_at": "2026-03-01T10:00:00.000Z",
          ...over,
        }).filter((e): e is [string, string] => e[1] !== undefined),
      ),
    ),
  });

test("decodeLetter reads the dlq.* headers and keeps the original ones apart", () => {
  const e = letter();
  assert.equal(e.sourceTopic, "user");
  assert.equal(e.sourcePartition, 2);
  assert.equal(e.sourceOffset, 17n);
  assert.equal(e.code, "bad_field");
  assert.equal(e.eventType, "user.updated");
  assert.equal(e.failedAt, "2026-03-01T10:00:00.000Z");
  assert.deepEqual(
    e.originalHeaders.map(([k, v]) => [k.toString(), v.toString()]),
    [["trace-id", "abc"]],
  );
  const bare = letter({ "dlq.source.partition": "x", "dlq.event.type": undefined });
  assert.equal(bare.sourcePartition, null);
  assert.equal(bare.eventType, null);
  assert.equal(e.truncated, false);
  assert.equal(e.originalBytes, 7, "a whole copy is the original's size");
});

test("decodeLetter: truncation is read from dlq.value.truncated and dlq.value.original_bytes", () => {
  const cut = letter({ "dlq.value.truncated": "true", "dlq.value.original_bytes": "1048400" }, 0n, Buffer.alloc(900));
  assert.equal(cut.truncated, true);
  assert.equal(cut.originalBytes, 1048400);
  assert.equal(cut.valueBytes, 900);
  assert.deepEqual(
    cut.originalHeaders.map(([k]) => k.toString()),
    ["trace-id"],
    "the truncation headers are dlq.* ones, not the original message's",
  );
  const unsized = letter({ "dlq.value.truncated": "true" }, 0n, Buffer.alloc(900));
  assert.equal(unsized.truncated, true);
  assert.equal(unsized.originalBytes, null);
  // Prose alone says nothing any more: only the legacy too_large form (exactly 64 KiB) is read.
  const prose = letter(
    { "dlq.error.reason": "x; this copy keeps only its first 65536 bytes" },
    0n,
    Buffer.alloc(65536),
  );
  assert.equal(prose.truncated, false);
});

test("decodeLetter: a letter written before the headers existed (too_large, 64 KiB, the old reason) is truncated", () => {
  const legacy = letter(
    {
      "dlq.error.code": "too_large",
      "dlq.error.reason":
        "value is 200000 bytes, over the 100000-byte limit; this copy keeps only its first 65536 bytes",
    },
    0n,
    Buffer.alloc(65536, 0x20),
  );
  assert.equal(legacy.truncated, true);
  assert.equal(legacy.originalBytes, null);
});

test("letterJson: decoded headers, the key, the value's size but never the value", () => {
  assert.deepEqual(letterJson(letter()), {
    failed_at: "2026-03-01T10:00:00.000Z",
    source_topic: "user",
    source_partition: 2,
    source_offset: 17n,
    event_type: "user.updated",
    code: "bad_field",
    reason: "data.profile.display_name is longer than 100 characters",
    key: "65a1f0c2e4b0a1b2c3d4e5f6",
    key_encoding: "utf8",
    key_truncated: false,
    value_bytes: 7,
    truncated: false,
    original_bytes: 7,
    dlq_partition: 0,
    dlq_offset: 0n,
  });
});

test("letterJson: a key that is not UTF-8 is base64, so two such keys never print alike", () => {
  const a = letterJson({ ...letter(), key: Buffer.from([0xff, 0x00, 0x80]) });
  const b = letterJson({ ...letter(), key: Buffer.from([0xfe, 0x00, 0x81]) });
  assert.deepEqual([a.key, a.key_encoding, a.key_truncated], ["/wCA", "base64", false]);
  assert.deepEqual([b.key, b.key_encoding], ["/gCB", "base64"]);
  // A character cut in two at the end of a cut key is the cut, not binary data: the key is text.
  const cut = { ...letter(), key: Buffer.from("ab€").subarray(0, 4), keyTruncated: true };
  assert.deepEqual(
    [letterJson(cut).key, letterJson(cut).key_encoding, letterJson(cut).key_truncated],
    ["ab", "utf8", true],
  );
  // The same bytes whole are not UTF-8.
  assert.equal(letterJson({ ...cut, keyTruncated: false }).key_encoding, "base64");
  const none = letterJson({ ...letter(), key: null });
  assert.deepEqual([none.key, none.key_encoding, none.key_truncated], [null, null, false]);
  assert.equal(letterJson({ ...letter(), key: Buffer.alloc(0) }).key_encoding, "utf8", "an empty key is empty text");
});

test("lettersJson: offsets as the exact integers they are, past 2^53 too", () => {
  const past = letter({ "dlq.source.offset": "9223372036854775807" }, 9007199254740993n);
  const text = lettersJson([past]);
  assert.match(text, /"source_offset": 9223372036854775807,/);
  assert.match(text, /"dlq_offset": 9007199254740993\n/);
  assert.equal(JSON.parse(text)[0].key, "65a1f0c2e4b0a1b2c3d4e5f6", "the rest as JSON.stringify writes it");
});

test("lettersJson: a key or a foreign letter's texts keep no character a terminal acts on or reverses text by, and parse back the same", () => {
  // JSON escapes the C0 controls (ESC) only: the 8-bit CSI U+009B, NEL U+0085, DEL, the line
  // separators and U+202E (which shows `exe.gnp` as `png.exe`) went to the terminal as they were.
  const hostile = "ab\u009b2J\u0085\u007f\u2028\u202Egnp.exe\u2066";
  const e = { ...letter({ "dlq.error.reason": hostile, "dlq.source.topic": hostile }), key: Buffer.from(hostile) };
  const text = lettersJson([e]);
  assert.doesNotMatch(text, /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u);
  const [parsed] = JSON.parse(text);
  assert.equal(parsed.key, hostile);
  assert.equal(parsed.reason, hostile);
  assert.equal(parsed.source_topic, hostile);
});

test("formatLetters: time, source topic/partition@offset, event type, code, copy, reason", () => {
  const cut = letter({ "dlq.value.truncated": "true", "dlq.value.original_bytes": "2000000" }, 1n);
  const lines = formatLetters([letter(), cut]).split("\n");
  assert.match(lines[0] ?? "", /^time\s+source\s+event type\s+code\s+copy\s+reason$/);
  assert.equal(
    lines[2],
    "2026-03-01T10:00:00.000Z  user/2@17  user.updated  bad_field  whole      data.profile.display_name is longer than 100 characters",
  );
  assert.match(lines[3] ?? "", / {2}bad_field {2}truncated {2}data\.profile/);
  assert.equal(letterJson(cut).truncated, true);
  assert.equal(letterJson(cut).original_bytes, 2000000);
});

test("sortLetters: by failure time, then position", () => {
  const a = letter({ "dlq.failed_at": "2026-03-02T00:00:00.000Z" }, 0n);
  const b = letter({ "dlq.failed_at": "2026-03-01T00:00:00.000Z" }, 1n);
  const c = letter({ "dlq.failed_at": "2026-03-01T00:00:00.000Z" }, 0n);
  assert.deepEqual(sortLetters([a, b, c]), [c, b, a]);
});

test("replayOptions: --since, --reason and --dry-run; bad values are UsageErrors", () => {
  assert.deepEqual(replayOptions([]), { dryRun: false });
  assert.deepEqual(replayOptions(["--since", "2026-03-01", "--reason", "too_large", "--dry-run"]), {
    since: Date.UTC(2026, 2, 1),
    reason: "too_large",
    dryRun: true,
  });
  assert.throws(
    () => replayOptions(["--since", "last week"]),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^dlq replay: --since "last week" is not an ISO-8601 time/);
      return true;
    },
  );
  const now = Date.UTC(2026, 2, 1, 12);
  assert.equal(replayOptions(["--since", "2026-03-01T12:00:00Z"], now).since, now, "now itself is not the future");
  assert.throws(
    () => replayOptions(["--since", "2026-03-01T12:00:01Z"], now),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^dlq replay: --since "2026-03-01T12:00:01Z" is in the future/);
      return true;
    },
  );
  assert.throws(
    () => replayOptions(["--reason", "too-large"]),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^dlq replay: --reason "too-large" is not one of not_json, .*too_large/);
      return true;
    },
  );
  assert.throws(() => replayOptions(["--json"]), UsageError);
  assert.deepEqual(listOptions(["--json"]), { json: true, limit: 1000 });
  assert.deepEqual(listOptions(["--limit", "100000"]), { json: false, limit: 100000 });
  for (const bad of [["--dry-run"], ["--limit", "0"], ["--limit", "100001"], ["--limit", "1e3"], ["--limit", "-5"]]) {
    assert.throws(() => listOptions(bad), UsageError, bad.join(" "));
  }
});

test("replayChooser: filters by time and code, once per source message, never a truncated copy, an unreadable batch's marker, nor outside the source topics", () => {
  const early = letter({ "dlq.failed_at": "2026-03-01T00:00:00.000Z", "dlq.source.offset": "1" });
  const late = letter({ "dlq.failed_at": "2026-03-05T00:00:00.000Z", "dlq.source.offset": "2" });
  const again = letter({ "dlq.failed_at": "2026-03-06T00:00:00.000Z", "dlq.source.offset": "2" }, 5n);
  const large = letter(
    { "dlq.error.code": "too_large", "dlq.source.offset": "3", "dlq.failed_at": "2026-03-05T00:00:00.000Z" },
    6n,
    Buffer.alloc(2000, 0x20),
  );
  // Any code may carry a truncated copy now (a letter cut to fit its topic), said by the header.
  const truncated = letter(
    {
      "dlq.error.code": "bad_field",
      "dlq.source.offset": "4",
      "dlq.value.truncated": "true",
      "dlq.value.original_bytes": "1048400",
    },
    7n,
    Buffer.alloc(1000, 0x20),
  );
  const orphan = letter({ "dlq.source.topic": undefined, "dlq.source.offset": "5" }, 8n);
  // A crafted letter sending its value into another topic, the dead-letter topic itself, or a partition the topic lacks.
  const elsewhere = letter({ "dlq.source.topic": "payments", "dlq.source.offset": "6" }, 9n);
  const itself = letter({ "dlq.source.topic": "analytics-dlq", "dlq.source.offset": "7" }, 10n);
  const beyond = letter({ "dlq.source.partition": "3", "dlq.source.offset": "8" }, 11n);
  // A marker for a record of a batch that could not be read: no event to send back.
  const unreadable = letter({ "dlq.error.code": "unreadable_batch", "dlq.source.offset": "9" }, 12n);
  const all: DeadLetterEntry[] = [early, late, again, large, truncated, orphan, elsewhere, itself, beyond, unreadable];
  const sources = new Map([
    ["user", 3],
    ["post", 3],
  ]);

  const verdicts = (options: Parameters<typeof replayChooser>[0]) => {
    const choose = replayChooser(options, sources);
    return all.map((e) => choose(e));
  };
  const chosen = (options: Parameters<typeof replayChooser>[0]) => {
    const v = verdicts(options);
    return all.filter((_, i) => v[i] === "chosen");
  };

  // early, late, large chosen; again repeats late's source; truncated and orphan can't be replayed.
  assert.deepEqual(verdicts({}), [
    "chosen",
    "chosen",
    "duplicate",
    "chosen",
    "truncated",
    "no_source",
    "foreign",
    "foreign",
    "foreign",
    "unreadable",
  ]);

  assert.deepEqual(chosen({ since: Date.UTC(2026, 2, 2) }), [late, large]);
  assert.deepEqual(chosen({ since: Date.UTC(2026, 2, 5) }), [late, large], "at the instant counts");
  assert.deepEqual(chosen({ reason: "too_large" }), [large]);
  assert.deepEqual(chosen({ reason: "not_json" }), []);
  assert.deepEqual(chosen({ reason: "unreadable_batch" }), []);
});

test("replayMessage: the original key, value, headers and record time, to the source topic and partition", () => {
  const m = replayMessage(letter());
  assert.equal(m.topic, "user");
  assert.equal(m.partition, 2);
  assert.deepEqual(m.key, Buffer.from("65a1f0c2e4b0a1b2c3d4e5f6"));
  assert.deepEqual(m.value, Buffer.from('{"a":1}'));
  assert.deepEqual(
    [...m.headers].map(([k, v]) => [k.toString(), v.toString()]),
    [["trace-id", "abc"]],
  );
  assert.equal("timestamp" in m, false, "a letter that did not keep its record's time: the broker stamps it");
  assert.equal(replayMessage(letter({ "dlq.source.timestamp": "1764950400123" })).timestamp, 1764950400123n);
  // --restamp: a record time that was wrong (0) is not given back; the broker stamps the replay's.
  assert.equal("timestamp" in replayMessage(letter({ "dlq.source.timestamp": "0" }), true), false);
  assert.deepEqual(replayOptions(["--restamp", "--reason", "clock_skew"]), {
    dryRun: false,
    restamp: true,
    reason: "clock_skew",
  });
});

test("replayChooser remembers the last REMEMBERED sources: memory stays bounded, an older repeat is sent again", () => {
  const choose = replayChooser({}, new Map([["user", 3]]));
  const at = (offset: number) => ({ ...letter(), sourceOffset: BigInt(offset) });
  assert.equal(choose(at(0)), "chosen");
  assert.equal(choose(at(0)), "duplicate");
  for (let i = 1; i <= REMEMBERED; i++) choose(at(i));
  assert.equal(choose(at(REMEMBERED)), "duplicate", "a recent repeat");
  assert.equal(choose(at(0)), "chosen", "forgotten: sent again, applied as once");
});
