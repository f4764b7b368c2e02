import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fixture } from "../../test/fixtures.ts";
import { decode } from "../apply/decode.ts";
import { BadEventError } from "../errors.ts";
import {
  chunkByBytes,
  type DeadLetter,
  DLQ_HEADERS,
  MAX_REQUEST_BYTES,
  TRUNCATED_COPY_BYTES,
  toDlqMessage,
} from "./dlq.ts";

const NOW = new Date("2026-02-16T10:00:00.123Z");

const letter = (overrides: Partial<DeadLetter> = {}): DeadLetter => ({
  topic: "user",
  partition: 3,
  offset: 9007199254740993n,
  key: Buffer.from("65a1f0c2e4b0a1b2c3d4e5f6"),
  value: Buffer.from('{"event_type":"user.created"}'),
  headers: undefined,
  eventType: "user.created",
  error: new BadEventError("bad_field", "data.profile.display_name must not have more than 100 characters"),
  ...overrides,
});

/** Headers as name → value text (the last one when a name repeats). */
const headerText = (headers: Map<Buffer, Buffer>) =>
  Object.fromEntries([...headers].map(([k, v]) => [k.toString(), v.toString()]));

describe("toDlqMessage", () => {
  test("keeps key and value and says where it came from and why", () => {
    const d = letter();
    const m = toDlqMessage("analytics-dlq", d, NOW);
    assert.equal(m.topic, "analytics-dlq");
    assert.equal(m.key, d.key);
    assert.equal(m.value, d.value);
    assert.deepEqual(headerText(m.headers), {
      "dlq.source.topic": "user",
      "dlq.source.partition": "3",
      "dlq.source.offset": "9007199254740993",
      "dlq.error.code": "bad_field",
      "dlq.error.reason": "data.profile.display_name must not have more than 100 characters",
      "dlq.event.type": "user.created",
      "dlq.failed_at": "2026-02-16T10:00:00.123Z",
    });
  });

  test("header names are the documented ones", () => {
    assert.deepEqual(DLQ_HEADERS, {
      topic: "dlq.source.topic",
      partition: "dlq.source.partition",
      offset: "dlq.source.offset",
      code: "dlq.error.code",
      reason: "dlq.error.reason",
      eventType: "dlq.event.type",
      failedAt: "dlq.failed_at",
    });
  });

  test("the original headers are kept", () => {
    const original = new Map([[Buffer.from("traceparent"), Buffer.from("00-abc-def-01")]]);
    const m = toDlqMessage("dlq", letter({ headers: original }), NOW);
    assert.equal(headerText(m.headers).traceparent, "00-abc-def-01");
    assert.equal(m.headers.size, 8);
    assert.equal(original.size, 1, "the source message's headers are not modified");
  });

  test("without an event type there is no event type header", () => {
    const m = toDlqMessage("dlq", letter({ eventType: undefined }), NOW);
    assert.ok(!(DLQ_HEADERS.eventType in headerText(m.headers)));
  });

  test("a null key stays absent; a null value becomes an empty value", () => {
    const m = toDlqMessage("dlq", letter({ key: null, value: null }), NOW);
    assert.equal(m.key, undefined);
    assert.deepEqual(m.value, Buffer.alloc(0));
  });

  test("a too_large value is truncated and the reason says so", () => {
    const value = Buffer.alloc(TRUNCATED_COPY_BYTES * 2 + 7, 0x61);
    value[0] = 0x7b;
    const error = new BadEventError(
      "too_large",
      "value is 131079 bytes, over the 1048576-byte limit (MAX_MESSAGE_BYTES)",
    );
    const d = letter({ value, error });
    const m = toDlqMessage("dlq", d, NOW);
    assert.equal(TRUNCATED_COPY_BYTES, 65536);
    assert.equal(m.value.length, TRUNCATED_COPY_BYTES);
    assert.deepEqual(m.value, value.subarray(0, TRUNCATED_COPY_BYTES));
    assert.equal(m.key, d.key);
    const h = headerText(m.headers);
    assert.equal(h["dlq.error.code"], "too_large");
    assert.equal(
      h["dlq.error.reason"],
      "value is 131079 bytes, over the 1048576-byte limit (MAX_MESSAGE_BYTES); this copy keeps only its first 65536 bytes",
    );
  });

  test("a too_large value within the copy limit is kept whole, the reason unchanged", () => {
    const value = Buffer.alloc(2000, 0x61);
    const error = new BadEventError("too_large", "value is 2000 bytes, over the 1024-byte limit (MAX_MESSAGE_BYTES)");
    const m = toDlqMessage("dlq", letter({ value, error }), NOW);
    assert.equal(m.value.length, 2000);
    assert.equal(headerText(m.headers)["dlq.error.reason"], error.message);
  });

  test("a large value rejected for another reason is kept whole", () => {
    const value = Buffer.alloc(TRUNCATED_COPY_BYTES + 1, 0x61);
    const m = toDlqMessage("dlq", letter({ value }), NOW);
    assert.equal(m.value.length, TRUNCATED_COPY_BYTES + 1);
  });

  test("the headers never carry the password hash of a rejected user event; the value still does", () => {
    const event = fixture("user.created");
    const data = event.value.data as { password_hash: string; profile: { display_name: string } };
    data.profile.display_name = "x".repeat(101);
    const value = Buffer.from(JSON.stringify(event.value));
    const decoded = decode(value, 1 << 20);
    assert.ok(decoded.op.kind === "rejected");
    const m = toDlqMessage(
      "dlq",
      letter({ value, error: decoded.op.error, eventType: decoded.eventType, headers: undefined }),
      NOW,
    );
    const text = [...m.headers.values()].map((v) => v.toString()).join("\n");
    assert.ok(!text.includes(data.password_hash));
    assert.ok(!text.includes("$2b$"));
    assert.ok(text.includes("data.profile.display_name"));
    assert.ok(m.value.toString().includes(data.password_hash));
  });
});

describe("chunkByBytes", () => {
  const message = (bytes: number) => ({
    key: Buffer.alloc(10),
    value: Buffer.alloc(bytes - 20),
    headers: new Map([[Buffer.alloc(4), Buffer.alloc(6)]]),
  });

  test("cuts before the message that would take a request over the limit, keeping the order", () => {
    const ms = [message(400), message(400), message(300), message(100), message(900)];
    assert.deepEqual(
      chunkByBytes(ms, 1000).map((c) => c.map((m) => ms.indexOf(m))),
      [[0, 1], [2, 3], [4]],
    );
  });

  test("a message larger than the limit goes alone; nothing is dropped", () => {
    const ms = [message(100), message(5000), message(100)];
    assert.deepEqual(
      chunkByBytes(ms, 1000).map((c) => c.length),
      [1, 1, 1],
    );
    assert.deepEqual(chunkByBytes([], 1000), []);
  });

  test("the default keeps a request well under the broker's 1 MiB record batch limit", () => {
    // Sixteen 64 KiB copies of oversized values are more than 1 MiB together.
    const copies = Array.from({ length: 16 }, () => message(TRUNCATED_COPY_BYTES + 200));
    const chunks = chunkByBytes(copies);
    assert.ok(chunks.length > 1);
    assert.ok(MAX_REQUEST_BYTES <= (1024 * 1024) / 2);
    assert.equal(chunks.flat().length, 16);
  });
});
