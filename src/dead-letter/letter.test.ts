import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MultipleErrors, NetworkError, ResponseError } from "@platformatic/kafka";
import { BadEventError } from "../errors.ts";
import { BATCH_OVERHEAD, MAX_HEADERS_PER_RECORD, type RecordHeaders, recordBytes } from "../kafka/records.ts";
import { checkRecordOffsets, unreadableBatchReason } from "../read/client-fixes/batch-markers.ts";
import { decodeValue } from "../testing/domain-helpers.ts";
import { fixture } from "../testing/fixtures.ts";
import {
  type DeadLetter,
  DLQ_HEADERS,
  decodeLetter,
  MIN_DEAD_LETTER_BYTES,
  TRUNCATED_COPY_BYTES,
  toDlqMessage,
} from "./letter.ts";
import { chunkByBytes, MAX_REQUEST_BYTES, refusedForSize } from "./publish.ts";

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

  test("keeps the record's timestamp for replay; Kafka's none (-1) is not kept", () => {
    const kept = toDlqMessage("analytics-dlq", letter({ timestamp: 1764950400123n }), NOW);
    assert.equal(headerText(kept.headers)["dlq.source.timestamp"], "1764950400123");
    const read = decodeLetter({
      partition: 0,
      offset: 0n,
      key: kept.key,
      value: kept.value,
      headers: [...kept.headers],
    });
    assert.equal(read.sourceTimestamp, 1764950400123n);
    const none = toDlqMessage("analytics-dlq", letter({ timestamp: -1n }), NOW);
    assert.equal(headerText(none.headers)["dlq.source.timestamp"], undefined);
    assert.equal(decodeLetter({ ...none, headers: [...none.headers], partition: 0, offset: 0n }).sourceTimestamp, null);
  });

  test("goes to the source partition (the client takes it modulo the topic's partitions), never a hash of the key", () => {
    assert.equal(toDlqMessage("analytics-dlq", letter({ partition: 7, key: Buffer.alloc(300_000) }), NOW).partition, 7);
  });

  test("a marker's header is the service's own, never sent on: no letter tells producers its name", () => {
    // A batch whose record lies outside its offsets is read as a marker (batch-markers.ts).
    const batch = { firstOffset: 40n, lastOffsetDelta: 0, records: [{ offsetDelta: 5 }] };
    checkRecordOffsets(batch);
    const headers = (batch.records[0] as unknown as { headers: RecordHeaders }).headers;
    const reason = unreadableBatchReason(headers);
    assert.ok(reason);
    const error = new BadEventError("unreadable_batch", reason);
    const m = toDlqMessage("analytics-dlq", letter({ key: undefined, value: undefined, headers, error }), NOW);
    assert.deepEqual(
      [...m.headers.keys()].map(String).filter((name) => !name.startsWith("dlq.")),
      [],
      "only the letter's own headers",
    );
    assert.equal(headerText(m.headers)[DLQ_HEADERS.code], "unreadable_batch");
  });

  test("a header without a value (Kafka allows one) is sized, kept empty in the letter, and read back", () => {
    const headers: [Buffer | undefined, Buffer | undefined][] = [
      [Buffer.from("trace"), undefined],
      [undefined, Buffer.from("v")],
    ];
    const d = letter({ headers });
    const empty = Buffer.alloc(0);
    const asEmpty = new Map([
      [Buffer.from("trace"), empty],
      [empty, Buffer.from("v")],
    ]);
    assert.equal(recordBytes({ headers }), recordBytes({ headers: asEmpty }));
    const m = toDlqMessage("analytics-dlq", d, NOW);
    assert.equal(headerText(m.headers).trace, "");
    // A letter whose headers come back without values, dlq.* ones included, is read, not thrown on.
    const raw: [Buffer | undefined, Buffer | undefined][] = [
      ...m.headers,
      [Buffer.from(DLQ_HEADERS.reason), undefined],
      [Buffer.from("x"), undefined],
    ];
    const read = decodeLetter({ partition: 0, offset: 0n, key: m.key, value: m.value, headers: raw });
    assert.equal(read.reason, "");
    assert.equal(read.sourceTopic, "user");
    assert.deepEqual(
      read.originalHeaders.map(([k, v]) => [k.toString(), v.toString()]),
      [
        ["trace", ""],
        ["", "v"],
        ["x", ""],
      ],
    );
  });

  test("header names are the documented ones", () => {
    assert.deepEqual(DLQ_HEADERS, {
      topic: "dlq.source.topic",
      partition: "dlq.source.partition",
      offset: "dlq.source.offset",
      timestamp: "dlq.source.timestamp",
      code: "dlq.error.code",
      reason: "dlq.error.reason",
      eventType: "dlq.event.type",
      failedAt: "dlq.failed_at",
      valueTruncated: "dlq.value.truncated",
      valueOriginalBytes: "dlq.value.original_bytes",
      headersDropped: "dlq.headers.dropped",
      headersUnread: "dlq.headers.unread",
      keyTruncated: "dlq.key.truncated",
    });
  });

  test("headers of one name, empty or null ones included, stay as many in the letter and when it is read back", () => {
    const empty = Buffer.alloc(0);
    const headers: [Buffer | undefined, Buffer | undefined][] = [
      [empty, empty],
      [empty, empty],
      [undefined, undefined],
      [Buffer.from("hop"), Buffer.from("1")],
      [Buffer.from("hop"), Buffer.from("2")],
    ];
    const m = toDlqMessage("dlq", letter({ headers }), NOW);
    const sent = [...m.headers].filter(([k]) => !k.toString().startsWith("dlq."));
    assert.deepEqual(
      sent.map(([k, v]) => `${k}=${v}`),
      ["=", "=", "=", "hop=1", "hop=2"],
    );
    // The client's consumer lists them in order (headerEntries), the empty names as one Buffer.
    const asRead: [Buffer, Buffer][] = [...m.headers].map(([k, v]) => [k.length === 0 ? empty : k, v]);
    const back = decodeLetter({ partition: 0, offset: 0n, key: m.key, value: m.value, headers: asRead });
    assert.equal(new Map(back.originalHeaders).size, 5, "replay sends the map it makes of them: five keys");
  });

  test("a record whose headers were left unread gets a letter that says how many, its value whole", () => {
    const m = toDlqMessage("dlq", letter({ headers: undefined, headersUnread: 4_000_000 }), NOW);
    const h = headerText(m.headers);
    assert.equal(h["dlq.headers.unread"], "4000000");
    assert.equal(h["dlq.value.truncated"], undefined);
    assert.equal(decodeLetter({ ...m, headers: [...m.headers], partition: 0, offset: 0n }).truncated, false);
  });

  test("a letter never holds more headers than a record is read with: past it, the originals are left out and counted", () => {
    const many = (n: number): [Buffer, Buffer][] =>
      Array.from({ length: n }, (_, i) => [Buffer.from(`h${i}`), Buffer.from("v")]);
    const fits = toDlqMessage("dlq", letter({ headers: many(MAX_HEADERS_PER_RECORD - 20) }), NOW);
    assert.equal(headerText(fits.headers)["dlq.headers.dropped"], undefined);
    assert.ok(fits.headers.size <= MAX_HEADERS_PER_RECORD);
    const over = toDlqMessage("dlq", letter({ headers: many(MAX_HEADERS_PER_RECORD) }), NOW);
    const h = headerText(over.headers);
    assert.equal(h["dlq.headers.dropped"], String(MAX_HEADERS_PER_RECORD));
    assert.equal(h.h0, undefined);
    assert.equal(h["dlq.value.truncated"], undefined, "the value is whole: replay can send it");
    assert.equal(h["dlq.source.topic"], "user");
  });

  test("the original headers are kept", () => {
    const original = new Map([[Buffer.from("traceparent"), Buffer.from("00-abc-def-01")]]);
    const m = toDlqMessage("dlq", letter({ headers: [...original] }), NOW);
    assert.equal(headerText(m.headers).traceparent, "00-abc-def-01");
    assert.equal(m.headers.size, 8);
    assert.equal(original.size, 1, "the source message's headers are not modified");
  });

  test("an original header with a null key or value is kept empty; one named dlq.* is left out", () => {
    const original = new Map<Buffer, Buffer>([
      [Buffer.from("x"), undefined as unknown as Buffer],
      [undefined as unknown as Buffer, Buffer.from("v")],
      [Buffer.from("dlq.value.truncated"), Buffer.from("true")],
      [Buffer.from("dlq.event.type"), Buffer.from("user.created")],
    ]);
    const m = toDlqMessage("dlq", letter({ headers: [...original], eventType: undefined }), NOW);
    const text = headerText(m.headers);
    assert.equal(text.x, "");
    assert.equal(text[""], "v");
    assert.equal(text[DLQ_HEADERS.valueTruncated], undefined, "an upstream header can't pass for the letter's own");
    assert.equal(text[DLQ_HEADERS.eventType], undefined);
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

  test("a too_large value is truncated to 64 KiB and headers say so; the reason is left as it was", () => {
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
    assert.equal(h["dlq.error.reason"], error.message);
    assert.equal(h["dlq.value.truncated"], "true");
    assert.equal(h["dlq.value.original_bytes"], "131079");
  });

  test("a too_large value within the copy limit is kept whole, the reason unchanged", () => {
    const value = Buffer.alloc(2000, 0x61);
    const error = new BadEventError("too_large", "value is 2000 bytes, over the 1024-byte limit (MAX_MESSAGE_BYTES)");
    const m = toDlqMessage("dlq", letter({ value, error }), NOW);
    assert.equal(m.value.length, 2000);
    assert.equal(headerText(m.headers)["dlq.error.reason"], error.message);
    assert.ok(!(DLQ_HEADERS.valueTruncated in headerText(m.headers)), "a whole copy has no truncation headers");
    assert.ok(!(DLQ_HEADERS.valueOriginalBytes in headerText(m.headers)));
  });

  test("a large value rejected for another reason is kept whole while it fits", () => {
    const value = Buffer.alloc(TRUNCATED_COPY_BYTES + 1, 0x61);
    const m = toDlqMessage("dlq", letter({ value }), NOW);
    assert.equal(m.value.length, TRUNCATED_COPY_BYTES + 1);
  });

  test("a reason or event type from outside is capped, never cut inside a character", () => {
    const error = new BadEventError("unexpected_error", `unexpected TypeError: ${"é".repeat(2000)}`);
    const m = toDlqMessage("dlq", letter({ error, eventType: "x".repeat(10_000) }), NOW);
    const h = headerText(m.headers);
    const reason = h["dlq.error.reason"] ?? "";
    assert.ok(Buffer.byteLength(reason) <= 512, `${Buffer.byteLength(reason)}`);
    assert.ok(reason.startsWith("unexpected TypeError: éé") && reason.endsWith("é…"), reason.slice(-5));
    assert.ok(!reason.includes("\ufffd"));
    assert.ok(Buffer.byteLength(h["dlq.event.type"] ?? "") <= 128);
  });
});

describe("toDlqMessage: every letter fits the topic's limit", () => {
  const LIMIT = 20_000;
  /** The letter as one record batch, at most: what the broker compares with max.message.bytes. */
  const batchBytes = (m: Parameters<typeof recordBytes>[0]) => recordBytes(m) + BATCH_OVERHEAD;
  const bad = new BadEventError("bad_field", "data.profile.bio must not have more than 500 characters");
  /** The value size at which the whole letter takes exactly LIMIT bytes. */
  const exact = (over: Partial<DeadLetter> = {}) => {
    const probe = toDlqMessage("dlq", letter({ error: bad, value: Buffer.alloc(0), ...over }), NOW, LIMIT);
    return LIMIT - batchBytes(probe);
  };

  test("at the limit the value is kept whole; one byte past it, cut to the limit and said in headers", () => {
    const at = exact();
    const whole = toDlqMessage("dlq", letter({ error: bad, value: Buffer.alloc(at, 0x62) }), NOW, LIMIT);
    assert.equal(whole.value.length, at);
    assert.equal(batchBytes(whole), LIMIT);
    assert.equal(headerText(whole.headers)["dlq.value.truncated"], undefined);

    const value = Buffer.alloc(at + 1, 0x62);
    value[0] = 0x7b;
    const cut = toDlqMessage("dlq", letter({ error: bad, value }), NOW, LIMIT);
    assert.ok(batchBytes(cut) <= LIMIT, `${batchBytes(cut)} > ${LIMIT}`);
    assert.ok(batchBytes(cut) > LIMIT - 20, "as much of the value as fits is kept");
    assert.deepEqual(cut.value, value.subarray(0, cut.value.length), "the copy is the value's first bytes");
    const h = headerText(cut.headers);
    assert.equal(h["dlq.value.truncated"], "true");
    assert.equal(h["dlq.value.original_bytes"], String(at + 1));
    assert.equal(h["dlq.error.reason"], bad.message, "the reason stays the short text naming the field");
    assert.equal(cut.key?.toString(), "65a1f0c2e4b0a1b2c3d4e5f6");
  });

  test("a 1,048,400-byte value fits Kafka's default limit, original key and headers kept", () => {
    const original = new Map([[Buffer.from("traceparent"), Buffer.from("00-abc-def-01")]]);
    const value = Buffer.alloc(1_048_400, 0x61);
    const m = toDlqMessage("dlq", letter({ error: bad, value, headers: [...original] }), NOW);
    assert.ok(batchBytes(m) <= 1024 * 1024 + 12);
    assert.ok(m.value.length > 1_047_000 && m.value.length < 1_048_400, String(m.value.length));
    const h = headerText(m.headers);
    assert.equal(h.traceparent, "00-abc-def-01");
    assert.equal(h["dlq.value.original_bytes"], "1048400");
  });

  test("an empty key leaves its room to the value", () => {
    const withKey = toDlqMessage("dlq", letter({ error: bad, value: Buffer.alloc(50_000) }), NOW, LIMIT);
    const without = toDlqMessage("dlq", letter({ error: bad, key: null, value: Buffer.alloc(50_000) }), NOW, LIMIT);
    assert.equal(without.key, undefined);
    assert.equal(without.value.length, withKey.value.length + 24);
    assert.ok(batchBytes(without) <= LIMIT);
  });

  test("huge original headers leave less of the value, and are kept while they fit", () => {
    const headers = new Map([[Buffer.from("big"), Buffer.alloc(15_000, 0x68)]]);
    const m = toDlqMessage(
      "dlq",
      letter({ error: bad, value: Buffer.alloc(50_000), headers: [...headers] }),
      NOW,
      LIMIT,
    );
    assert.ok(batchBytes(m) <= LIMIT);
    assert.equal(headerText(m.headers).big?.length, 15_000);
    assert.ok(m.value.length > 0 && m.value.length < 5_000, String(m.value.length));
  });

  test("original headers larger than the limit are left out and counted; the copy is empty", () => {
    const headers = new Map([
      [Buffer.from("big"), Buffer.alloc(30_000, 0x68)],
      [Buffer.from("traceparent"), Buffer.from("00-abc-def-01")],
    ]);
    const m = toDlqMessage("dlq", letter({ error: bad, value: Buffer.alloc(100), headers: [...headers] }), NOW, LIMIT);
    assert.ok(batchBytes(m) <= LIMIT);
    assert.equal(m.value.length, 0);
    const h = headerText(m.headers);
    assert.equal(h.big, undefined);
    assert.equal(h["dlq.headers.dropped"], "2");
    assert.equal(h["dlq.value.truncated"], "true");
    assert.equal(h["dlq.value.original_bytes"], "100");
    assert.equal(h["dlq.source.offset"], "9007199254740993", "the dlq.* headers are all there");
    assert.equal(m.key?.toString(), "65a1f0c2e4b0a1b2c3d4e5f6");
    assert.equal(
      decodeLetter({ ...m, headers: [...m.headers], partition: 0, offset: 0n }).truncated,
      true,
      "so replay skips it",
    );
  });

  test("a key larger than the limit is cut too, and said so", () => {
    const key = Buffer.alloc(30_000, 0x6b);
    const m = toDlqMessage("dlq", letter({ error: bad, key, value: Buffer.alloc(10) }), NOW, LIMIT);
    assert.ok(batchBytes(m) <= LIMIT, `${batchBytes(m)}`);
    assert.ok((m.key?.length ?? 0) > LIMIT - 2_000, "as much of the key as fits");
    assert.deepEqual(m.key, key.subarray(0, m.key?.length));
    assert.equal(headerText(m.headers)["dlq.key.truncated"], "true");
    const read = decodeLetter({ partition: 0, offset: 0n, key: m.key, value: m.value, headers: [...m.headers] });
    assert.equal(read.keyTruncated, true, "read back as cut");
  });

  test("a limit smaller than the dlq.* headers gives the smallest letter: headers only", () => {
    const headers = new Map([[Buffer.from("traceparent"), Buffer.from("00-abc-def-01")]]);
    const m = toDlqMessage("dlq", letter({ error: bad, value: Buffer.alloc(100), headers: [...headers] }), NOW, 300);
    assert.equal(m.value.length, 0);
    assert.equal(m.key?.length, 0);
    assert.equal(headerText(m.headers)["dlq.error.code"], "bad_field");
    assert.equal(headerText(m.headers).traceparent, undefined);
  });

  test("at MIN_DEAD_LETTER_BYTES the largest dlq.* headers and a usual key fit", () => {
    const error = new BadEventError("unexpected_error", "x".repeat(5_000));
    const m = toDlqMessage(
      "t".repeat(249),
      letter({ topic: "t".repeat(249), error, eventType: "e".repeat(5_000), value: Buffer.alloc(10) }),
      NOW,
      MIN_DEAD_LETTER_BYTES,
    );
    assert.ok(batchBytes(m) <= MIN_DEAD_LETTER_BYTES);
    assert.equal(m.key?.length, 24, "the key is whole");
    assert.equal(headerText(m.headers)["dlq.key.truncated"], undefined);
  });

  test("the headers never carry the password hash of a rejected user event; the value still does", () => {
    const event = fixture("user.created");
    const data = event.value.data as { password_hash: string; profile: { display_name: string } };
    data.profile.display_name = "x".repeat(101);
    const value = Buffer.from(JSON.stringify(event.value));
    const decoded = decodeValue(value);
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

describe("refusedForSize", () => {
  // As the client surfaces a produce the broker refused: a ProtocolError inside a ResponseError
  // inside the MultipleErrors of the send.
  const refused = (code: number) =>
    new MultipleErrors("Producing messages failed.", [new ResponseError(0, 11, { "/responses/0": [code, null] }, {})]);

  test("MESSAGE_TOO_LARGE and RECORD_LIST_TOO_LARGE are refusals for size", () => {
    assert.equal(refusedForSize(refused(10)), true);
    assert.equal(refusedForSize(refused(18)), true);
  });

  test("anything else is not: it stays an outage to retry", () => {
    assert.equal(refusedForSize(refused(3)), false, "UNKNOWN_TOPIC_OR_PARTITION");
    assert.equal(refusedForSize(refused(19)), false, "NOT_ENOUGH_REPLICAS");
    assert.equal(refusedForSize(new NetworkError("Connection closed")), false);
    assert.equal(refusedForSize(new Error("MESSAGE_TOO_LARGE")), false, "never by matching text");
    assert.equal(refusedForSize(undefined), false);
  });
});

describe("decodeLetter: numbers from other writers", () => {
  const read = (headers: Record<string, string>) =>
    decodeLetter({
      partition: 0,
      offset: 0n,
      key: null,
      value: Buffer.from("{}"),
      headers: Object.entries(headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const),
    });

  test("a timestamp or offset past Kafka's int64 is none, so replay sends the event without it", () => {
    const e = read({
      [DLQ_HEADERS.topic]: "user",
      [DLQ_HEADERS.partition]: "0",
      [DLQ_HEADERS.offset]: "9".repeat(100_000),
      [DLQ_HEADERS.timestamp]: "99999999999999999999",
    });
    assert.equal(e.sourceTimestamp, null);
    assert.equal(e.sourceOffset, null);
    assert.equal(e.sourcePartition, 0);
    const at = read({ [DLQ_HEADERS.timestamp]: "9223372036854775807", [DLQ_HEADERS.offset]: "9223372036854775808" });
    assert.equal(at.sourceTimestamp, 9223372036854775807n, "int64's largest is one");
    assert.equal(at.sourceOffset, null);
  });
});
