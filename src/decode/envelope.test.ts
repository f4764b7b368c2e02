import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BadEventError, type BadEventReason } from "../errors.ts";
import { fixture } from "../testing/fixtures.ts";
import { parseEnvelope } from "./envelope.ts";

const MAX = 1 << 20;

const envelopeOf = (type = "user.created") => fixture(type).value as unknown as Record<string, unknown>;
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

function assertBad(input: Buffer, reason: BadEventReason, message: RegExp | string, maxBytes = MAX): BadEventError {
  let caught: unknown;
  assert.throws(
    () => parseEnvelope(input, maxBytes),
    (err: unknown) => {
      caught = err;
      return true;
    },
  );
  assert.ok(caught instanceof BadEventError, `expected a BadEventError, got ${String(caught)}`);
  assert.equal(caught.reason, reason);
  if (typeof message === "string") assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  return caught;
}

describe("valid envelopes", () => {
  test("become a ParsedEvent with the timestamp as DATETIME(6) UTC", () => {
    const value = envelopeOf("user.created");
    assert.deepEqual(parseEnvelope(bytes(value), MAX), {
      type: "user.created",
      eventId: "3f1c2b7e-0000-4000-8000-000000000001",
      entityId: "65a1f0c2e4b0a1b2c3d4e5f6",
      ts: "2026-02-11 09:38:25.124001",
      data: value.data,
    });
  });

  test("every timestamp form of docs/events.md#envelope converts", () => {
    const cases: [string, string][] = [
      ["2026-02-11T11:30:00Z", "2026-02-11 11:30:00.000000"],
      ["2026-02-11T11:30:00+00:00", "2026-02-11 11:30:00.000000"],
      ["2026-02-11T11:30:00.5+00:00", "2026-02-11 11:30:00.500000"],
      ["2026-02-11T11:30:00.123456789Z", "2026-02-11 11:30:00.123456"],
      ["2026-02-11T13:30:00.000001+02:00", "2026-02-11 11:30:00.000001"],
    ];
    for (const [timestamp, ts] of cases) {
      assert.equal(parseEnvelope(bytes({ ...envelopeOf(), timestamp }), MAX).ts, ts, timestamp);
    }
  });

  test("an event type outside the catalogue still parses (the caller skips it)", () => {
    assert.equal(parseEnvelope(bytes({ ...envelopeOf(), event_type: "user.merged" }), MAX).type, "user.merged");
  });

  test("extra envelope fields are ignored; an upper-case ObjectId is accepted", () => {
    const e = parseEnvelope(
      bytes({ ...envelopeOf(), entity_id: "65A1F0C2E4B0A1B2C3D4E5F6", schema_version: 3, source: "backend" }),
      MAX,
    );
    assert.equal(e.entityId, "65A1F0C2E4B0A1B2C3D4E5F6");
    assert.deepEqual(Object.keys(e), ["type", "eventId", "entityId", "ts", "data"]);
  });

  test("a small delete payload is a valid data object", () => {
    const e = parseEnvelope(bytes(envelopeOf("supplier.deleted")), MAX);
    assert.deepEqual(e.data, { supplier_id: "65a1f0c2e4b0a1b2c3d4e5f7" });
  });

  test("a value of exactly the limit is accepted", () => {
    const value = bytes(envelopeOf());
    assert.equal(parseEnvelope(value, value.length).type, "user.created");
  });
});

describe("values that are not a JSON object", () => {
  test("not UTF-8", () => {
    assertBad(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), "not_json", "value is not valid UTF-8");
  });

  test("not JSON, and the message does not echo the input", () => {
    const err = assertBad(
      Buffer.from('{"password_hash": "$2b$12$secretsecret", oops'),
      "not_json",
      "value is not valid JSON",
    );
    assert.ok(!err.message.includes("secret"));
    assertBad(Buffer.alloc(0), "not_json", "value is not valid JSON");
    assertBad(Buffer.from("\uFEFF{}"), "not_json", "value is not valid JSON");
  });

  test("a lone surrogate escape anywhere, in a string or a key, in objects and arrays, is refused; a pair is not", () => {
    const withData = (data: string) =>
      Buffer.from(JSON.stringify({ ...envelopeOf(), data: {} }).replace('"data":{}', `"data":${data}`));
    const lone = /lone surrogate/;
    for (const data of [
      '{"a":[1,{"b":["x","\\ud800"]}]}',
      '{"a":[[{"\\udfff":1}]]}',
      '{"\\udc00x":[]}',
      '{"a":"\\ud83d\\ud83d"}',
    ]) {
      assertBad(withData(data), "bad_field", lone);
    }
    // A pair is an emoji; with a million small values beside it, every one is walked.
    const zeros = new Array(1_000_000).fill(0).join(",");
    const parsed = parseEnvelope(withData(`{"a":"\\ud83d\\ude00","b":[${zeros}]}`), 8 * MAX);
    assert.equal(parsed.data.a, "\u{1F600}");
  });

  test("JSON, but an array, null, a string or a number", () => {
    for (const text of ["[]", "[{}]", "null", '"user.created"', "42", "true"]) {
      assertBad(Buffer.from(text), "not_object", "value is JSON but not an object");
    }
  });

  test("too large: checked first, with the sizes and the variable in the message", () => {
    const value = bytes(envelopeOf());
    assertBad(
      value,
      "too_large",
      `value is ${value.length} bytes, over the ${value.length - 1}-byte limit (MAX_MESSAGE_BYTES)`,
      value.length - 1,
    );
    assertBad(Buffer.alloc(2048, 0xff), "too_large", /2048 bytes, over the 1024-byte limit/, 1024);
  });
});

describe("a missing or malformed envelope field is bad_envelope naming the field", () => {
  const FIELDS = ["event_type", "event_id", "entity_id", "timestamp", "data"] as const;

  test("each field missing", () => {
    for (const field of FIELDS) {
      const value = envelopeOf();
      delete value[field];
      assertBad(bytes(value), "bad_envelope", new RegExp(`\\b${field}\\b`));
    }
  });

  test("each field null", () => {
    for (const field of FIELDS) {
      assertBad(bytes({ ...envelopeOf(), [field]: null }), "bad_envelope", new RegExp(`^${field} `));
    }
  });

  const malformed: [string, unknown, RegExp?][] = [
    ["event_type", "", /fewer than 1/],
    ["event_type", "x".repeat(101)],
    ["event_type", 7],
    ["event_id", "", /fewer than 1/],
    ["event_id", "3f1c2b7e-0000-4000-8000-0000000000011", /more than 36/],
    ["event_id", { uuid: "x" }],
    ["entity_id", "65a1f0c2e4b0a1b2c3d4e5f", /pattern/],
    ["entity_id", "65a1f0c2e4b0a1b2c3d4e5f6a"],
    ["entity_id", "zza1f0c2e4b0a1b2c3d4e5f6"],
    ["timestamp", "yesterday", /ISO-8601/],
    ["timestamp", "2026-02-30T00:00:00+00:00", /ISO-8601/],
    ["timestamp", 1770802705],
    ["timestamp", "x".repeat(65), /more than 64/],
    ["data", [], /object/],
    ["data", "{}"],
    ["data", 1],
  ];
  for (const [field, bad, detail] of malformed) {
    test(`${field} = ${JSON.stringify(bad).slice(0, 40)}`, () => {
      const err = assertBad(bytes({ ...envelopeOf(), [field]: bad }), "bad_envelope", new RegExp(`^${field} `));
      if (detail) assert.match(err.message, detail);
    });
  }
});
