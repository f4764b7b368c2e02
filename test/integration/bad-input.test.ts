import assert from "node:assert/strict";
import { test } from "node:test";
import { DLQ_HEADERS, TRUNCATED_COPY_BYTES } from "../../src/dead-letter/letter.ts";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  caughtUp,
  produce,
  readTopic,
  testConfig,
  testDatabase,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// docs/events.md#bad-input, each class on its own, all in one partition between good events of the same entity:
// the bad one goes to the dead-letter topic alone, with a reason naming the field; its neighbours
// are applied; skips are counted, not dead-lettered; every offset is committed.

const USER = "65a1f0c2e4b0a1b2c3d4e5f6";
const userDoc = () => structuredClone(fixture("user.created").value.data) as Record<string, unknown>;
const ts = (second: number) => `2026-04-01T00:00:${String(second).padStart(2, "0")}.000001+00:00`;
const raw = (value: string | Buffer | null) => ({
  topic: "user",
  key: USER,
  value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value),
});
const envelope = (fields: Record<string, unknown>) =>
  raw(
    JSON.stringify({
      event_type: "user.updated",
      event_id: "11111111-1111-4111-8111-111111111111",
      entity_id: USER,
      timestamp: ts(30),
      data: userDoc(),
      ...fields,
    }),
  );
const withProfile = (profile: Record<string, unknown>, second: number) => {
  const d = userDoc();
  d.profile = { ...(d.profile as object), ...profile };
  return emit("user.updated", USER, d as never, { timestamp: ts(second) });
};

interface Case {
  name: string;
  message: ReturnType<typeof raw> | ReturnType<typeof emit>;
  /** Expected dead letter: code and a pattern of the reason; absent when the event is skipped. */
  dead?: { code: string; reason: RegExp };
}

const CASES: Case[] = [
  {
    name: "not UTF-8",
    message: raw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
    dead: { code: "not_json", reason: /UTF-8/ },
  },
  {
    name: "not JSON",
    message: raw('{"event_type": "user.updated", "pass'),
    dead: { code: "not_json", reason: /not valid JSON$/ },
  },
  { name: "JSON but not an object", message: raw("[1,2,3]"), dead: { code: "not_object", reason: /not an object/ } },
  {
    name: "missing event_type",
    message: envelope({ event_type: undefined }),
    dead: { code: "bad_envelope", reason: /event_type/ },
  },
  {
    name: "malformed entity_id",
    message: envelope({ entity_id: "42" }),
    dead: { code: "bad_envelope", reason: /entity_id/ },
  },
  {
    name: "unparseable timestamp",
    message: envelope({ timestamp: "yesterday" }),
    dead: { code: "bad_envelope", reason: /timestamp/ },
  },
  { name: "data not an object", message: envelope({ data: "x" }), dead: { code: "bad_envelope", reason: /data/ } },
  {
    name: "required field missing",
    message: withProfile({ display_name: undefined }, 31),
    dead: { code: "bad_field", reason: /^data\.profile\.display_name / },
  },
  {
    name: "wrong type",
    message: withProfile({ display_name: 42 }, 32),
    dead: { code: "bad_field", reason: /^data\.profile\.display_name / },
  },
  {
    name: "string longer than its column",
    message: withProfile({ bio: "b".repeat(501) }, 33),
    dead: { code: "bad_field", reason: /^data\.profile\.bio / },
  },
  {
    name: "non-integer",
    message: emit("user.updated", USER, { ...userDoc(), version: 2.5 } as never, { timestamp: ts(34) }),
    dead: { code: "bad_field", reason: /^data\.version / },
  },
  {
    name: "out-of-range integer",
    message: emit("user.updated", USER, { ...userDoc(), version: 3_000_000_000 } as never, { timestamp: ts(35) }),
    dead: { code: "bad_field", reason: /^data\.version / },
  },
  {
    name: "unparseable datetime in the document",
    message: emit("user.updated", USER, { ...userDoc(), updated_at: "2026-13-45T99:00:00Z" } as never, {
      timestamp: ts(36),
    }),
    dead: { code: "bad_field", reason: /^data\.updated_at / },
  },
  {
    name: "TEXT value over 65,535 bytes",
    message: withProfile({ avatar: `https://cdn.example.com/${"a".repeat(70000)}` }, 37),
    dead: { code: "bad_field", reason: /^column avatar would hold 70024 bytes/ },
  },
  {
    name: "an event type of another topic",
    message: { ...fixture("order.created"), topic: "user" },
    dead: { code: "wrong_topic", reason: /^order\.created belongs on topic t\w+\.order, not t\w+\.user$/ },
  },
  {
    name: "larger than MAX_MESSAGE_BYTES",
    message: withProfile({ avatar: `https://cdn.example.com/${"a".repeat(200_000)}` }, 38),
    // The reason says why; that the copy is cut is said by the dlq.value.* headers (checked below).
    dead: { code: "too_large", reason: /over the 100000-byte limit \(MAX_MESSAGE_BYTES\)$/ },
  },
  { name: "unknown event type: skipped", message: envelope({ event_type: "user.merged" }) },
  { name: "null value (tombstone): skipped", message: raw(null) },
  {
    name: "delete of an id without a row: no change",
    message: emit("user.deleted", "65a1f0c2e4b0a1b2c3d4e5ff", {}, { timestamp: ts(39) }),
  },
];

test("each bad input of docs/events.md#bad-input is isolated; its neighbours are applied", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, { MAX_MESSAGE_BYTES: "100000" });

  // good, bad, good, bad, ... for one user: every good event is newer than the one before it.
  const messages: Case["message"][] = [emit("user.created", USER, userDoc() as never, { timestamp: ts(1) })];
  CASES.forEach((c, i) => {
    messages.push(c.message, withProfile({ bio: `good ${i}` }, 40 + i));
  });
  // A new enum value is applied as is (docs/events.md#bad-input): a post with a post_type added upstream later.
  const post = structuredClone(fixture("post.created"));
  (post.value.data as Record<string, unknown>).post_type = "story";
  messages.push(post);
  await produce(producer, topics.prefix, messages);
  await testService(t, config);

  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1));

  const dead = CASES.filter((c) => c.dead);
  const letters = await readTopic(topics.dlq, dead.length);
  assert.equal(letters.length, dead.length, "exactly the bad events are dead-lettered");
  dead.forEach((c, i) => {
    const letter = letters[i];
    assert.ok(letter, c.name);
    assert.equal(letter.headers.get(DLQ_HEADERS.code), c.dead?.code, c.name);
    assert.match(letter.headers.get(DLQ_HEADERS.reason) ?? "", c.dead?.reason ?? /./, c.name);
    assert.equal(letter.headers.get(DLQ_HEADERS.topic), `${topics.prefix}user`, c.name);
    assert.equal(letter.headers.get(DLQ_HEADERS.partition), "0", c.name);
    assert.match(letter.headers.get(DLQ_HEADERS.offset) ?? "", /^\d+$/, c.name);
    assert.equal(letter.key, "key" in c.message ? c.message.key : USER, `${c.name}: the original key`);
    const original = c.message.value;
    const bytes = Buffer.isBuffer(original) ? original : Buffer.from(JSON.stringify(original));
    if (c.dead?.code === "too_large") {
      assert.equal(letter.value.length, TRUNCATED_COPY_BYTES, c.name);
      assert.deepEqual(letter.value, bytes.subarray(0, TRUNCATED_COPY_BYTES), c.name);
      assert.equal(letter.headers.get(DLQ_HEADERS.valueTruncated), "true", c.name);
      assert.equal(letter.headers.get(DLQ_HEADERS.valueOriginalBytes), String(bytes.length), c.name);
    } else {
      assert.deepEqual(letter.value, bytes, `${c.name}: the original value`);
      assert.equal(letter.headers.get(DLQ_HEADERS.valueTruncated), undefined, `${c.name}: a whole copy`);
      assert.equal(letter.headers.get(DLQ_HEADERS.valueOriginalBytes), undefined, `${c.name}: a whole copy`);
    }
    // Without the test's topic names: their random hex can hold the 4-digit "4821" (a CI run failed on it).
    const reason = (letter.headers.get(DLQ_HEADERS.reason) ?? "").replaceAll(topics.prefix, "");
    for (const secret of ["$2b$12$", "4821", "Example Bank"]) {
      assert.ok(!reason.includes(secret), `${c.name}: no secret in the reason`);
    }
  });

  const rows = await db.query("SELECT bio, event_timestamp FROM users WHERE user_id = ?", [USER]);
  assert.deepEqual(rows, [
    { bio: `good ${CASES.length - 1}`, event_timestamp: `2026-04-01 00:00:${40 + CASES.length - 1}.000001` },
  ]);
  const [story] = await db.query("SELECT post_type FROM posts");
  assert.deepEqual(story, { post_type: "story" });
  assert.deepEqual(await db.query("SELECT user_id FROM users WHERE user_id = '65a1f0c2e4b0a1b2c3d4e5ff'"), []);
  assert.deepEqual(await db.query("SELECT order_id FROM orders"), []);
});

test("a batch of many large poison events is dead-lettered in requests the broker accepts", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const config = testConfig(db, topics);
  // 30 events of about 60 KB each (an ignored field makes them large; a bio over 500 characters
  // makes them poison): 1.8 MB of letters from one batch, over the broker's 1 MiB per request.
  const padding = "x".repeat(60_000);
  const poison = Array.from({ length: 30 }, (_, i) => {
    const d = userDoc();
    d.profile = { ...(d.profile as object), bio: "b".repeat(501) };
    d.padding = `${i}${padding}`;
    return emit("user.updated", USER, d as never, { timestamp: ts(10 + i) });
  });
  await produce(producer, topics.prefix, [
    emit("user.created", USER, userDoc() as never, { timestamp: ts(1) }),
    ...poison,
    withProfile({ bio: "after the poison" }, 50),
  ]);
  await testService(t, config);

  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1));
  const letters = await readTopic(topics.dlq, poison.length);
  assert.equal(letters.length, poison.length);
  assert.deepEqual(
    letters.map((l) => l.value.length),
    poison.map((p) => Buffer.byteLength(JSON.stringify(p.value))),
  );
  const rows = await db.query("SELECT bio FROM users WHERE user_id = ?", [USER]);
  assert.deepEqual(rows, [{ bio: "after the poison" }]);
});

test("an order number another order holds is rejected by the database's rule; the first order's later events apply", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const config = testConfig(db, topics);
  const first = fixture("order.created");
  const second = structuredClone(first);
  second.key = "65a1f0c2e4b0a1b2c3d4e500";
  second.value.entity_id = second.key;
  const later = structuredClone(first);
  (later.value.data as Record<string, unknown>).status = "shipped";
  later.value.timestamp = "2026-12-01T00:00:00+00:00";
  await produce(producer, topics.prefix, [first, second, later]);
  await testService(t, config);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1));
  const [letter] = await readTopic(topics.dlq, 1);
  assert.equal(letter?.headers.get(DLQ_HEADERS.code), "rejected_by_database");
  assert.equal(
    letter?.headers.get(DLQ_HEADERS.reason),
    "data.order_number already belongs to orders row 65a1f0c2e4b0a1b2c3d4e5f9",
  );
  assert.deepEqual(await db.query("SELECT order_id, status FROM orders"), [
    { order_id: "65a1f0c2e4b0a1b2c3d4e5f9", status: "shipped" },
  ]);
});
