import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseEnvelope } from "../decode/envelope.ts";
import { toUtcDatetime6 } from "../decode/timestamp.ts";
import { ROUTES } from "../domains/registry.ts";
import type { UserDocument } from "../domains/users/schema.ts";
import { LIMITS } from "../testing/domain-helpers.ts";
import { fixture } from "../testing/fixtures.ts";
import { type EventType, emit, isoMicros, nowMicros } from "./emit.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISOFORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$/;
const USER_ID = "65a1f0c2e4b0a1b2c3d4e5f6";

/**
 * The 19 event types of docs/events.md#topics-and-event-types, listed by hand. Typed as a record over EventType, so tsc fails
 * when EventData gains or loses a key that is not listed here (missing or excess property).
 */
const EVENT_TYPES: Record<EventType, true> = {
  "user.created": true,
  "user.updated": true,
  "user.deleted": true,
  "supplier.created": true,
  "supplier.updated": true,
  "supplier.deleted": true,
  "product.created": true,
  "product.updated": true,
  "product.published": true,
  "product.discontinued": true,
  "product.out_of_stock": true,
  "product.restored": true,
  "product.deleted": true,
  "order.created": true,
  "order.cancelled": true,
  "post.created": true,
  "post.updated": true,
  "post.published": true,
  "post.deleted": true,
};

describe("emit", () => {
  test("topic is the event type's prefix, key the entity id, a fresh UUID and an isoformat timestamp", () => {
    const data = { user_id: USER_ID };
    const e = emit("user.deleted", USER_ID, data);
    assert.equal(e.topic, "user");
    assert.equal(e.key, USER_ID);
    assert.equal(e.value.event_type, "user.deleted");
    assert.equal(e.value.entity_id, USER_ID);
    assert.match(e.value.event_id, UUID);
    assert.match(e.value.timestamp, ISOFORMAT);
    assert.equal(e.value.data, data);
    assert.deepEqual(Object.keys(e.value), ["event_type", "event_id", "entity_id", "timestamp", "data"]);
  });

  test("each event gets its own event_id", () => {
    const ids = new Set(Array.from({ length: 50 }, () => emit("post.deleted", USER_ID, {}).value.event_id));
    assert.equal(ids.size, 50);
  });

  test("the topic of every type is the part before the first dot", () => {
    for (const type of Object.keys(EVENT_TYPES) as EventType[]) {
      const e = emit(type, USER_ID, {} as never);
      assert.equal(e.topic, type.split(".")[0], type);
    }
    assert.equal(emit("product.out_of_stock", USER_ID, {} as never).topic, "product");
    assert.equal(emit("order.cancelled", USER_ID, { order_number: "ORD-1" }).topic, "order");
  });

  test("timestamp and event id can be given", () => {
    const e = emit(
      "order.cancelled",
      "65a1f0c2e4b0a1b2c3d4e5f9",
      { order_number: "ORD-1" },
      { timestamp: "2026-02-11T11:30:00Z", eventId: "fixed-id" },
    );
    assert.equal(e.value.timestamp, "2026-02-11T11:30:00Z");
    assert.equal(e.value.event_id, "fixed-id");
  });

  test("what it emits is what the consumer parses", () => {
    const data = fixture("user.created").value.data as UserDocument;
    const e = emit("user.created", USER_ID, data, { timestamp: "2026-02-11T09:38:25.123456+00:00" });
    const parsed = parseEnvelope(Buffer.from(JSON.stringify(e.value)), 1 << 20);
    assert.equal(parsed.ts, "2026-02-11 09:38:25.123456");
    assert.equal(parsed.entityId, USER_ID);
    assert.equal(parsed.eventId, e.value.event_id);
    const route = ROUTES.get(parsed.type);
    assert.ok(route);
    assert.equal(route.handler(parsed, [], LIMITS).kind, "upsert");
  });

  test("the default timestamp is now", () => {
    const before = Date.now();
    const stamp = emit("user.deleted", USER_ID, {}).value.timestamp;
    const after = Date.now();
    const ms = Date.parse(stamp);
    assert.ok(ms >= before - 1000 && ms <= after + 1000, `${stamp} is not between ${before} and ${after}`);
  });
});

describe("isoMicros (Python isoformat)", () => {
  test("microseconds kept, with +00:00", () => {
    assert.equal(isoMicros(1770802705123456n), "2026-02-11T09:38:25.123456+00:00");
  });

  test("the fraction is omitted when zero and always six digits otherwise", () => {
    assert.equal(isoMicros(1770802705000000n), "2026-02-11T09:38:25+00:00");
    assert.equal(isoMicros(1770802705000001n), "2026-02-11T09:38:25.000001+00:00");
    assert.equal(isoMicros(1770802705500000n), "2026-02-11T09:38:25.500000+00:00");
    assert.equal(isoMicros(1770802705001000n), "2026-02-11T09:38:25.001000+00:00");
  });

  test("the epoch, its first microsecond, and the last microsecond of a year", () => {
    assert.equal(isoMicros(0n), "1970-01-01T00:00:00+00:00");
    assert.equal(isoMicros(1n), "1970-01-01T00:00:00.000001+00:00");
    assert.equal(isoMicros(1767225599999999n), "2025-12-31T23:59:59.999999+00:00");
    assert.equal(isoMicros(1767225600000000n), "2026-01-01T00:00:00+00:00");
  });

  test("a leap day", () => {
    assert.equal(isoMicros(1709164800000000n), "2024-02-29T00:00:00+00:00");
    assert.equal(isoMicros(1709251199999999n), "2024-02-29T23:59:59.999999+00:00");
  });

  test("the microseconds survive the consumer's conversion unchanged", () => {
    for (const micros of [1770802705123456n, 1770802705000001n, 1770802705999999n, 1770802705000000n]) {
      const converted = toUtcDatetime6(isoMicros(micros));
      const fraction = String(micros % 1_000_000n).padStart(6, "0");
      assert.ok(converted?.endsWith(`.${fraction}`), `${micros} → ${converted}`);
    }
  });

  test("nowMicros is the current time in microseconds", () => {
    const before = BigInt(Date.now()) * 1000n;
    const now = nowMicros();
    const after = BigInt(Date.now()) * 1000n;
    assert.ok(now >= before - 1_000_000n && now <= after + 1_000_000n);
    assert.match(isoMicros(now), ISOFORMAT);
  });
});

describe("the catalogue", () => {
  test("EventData has exactly the 19 event types the consumer has handlers for", () => {
    const listed = Object.keys(EVENT_TYPES).sort();
    assert.equal(listed.length, 19);
    assert.deepEqual([...ROUTES.keys()].sort(), listed);
  });
});

describe("isoMicros before 1970", () => {
  test("floors, so the second and the fraction agree", () => {
    assert.equal(isoMicros(-1n), "1969-12-31T23:59:59.999999+00:00");
    assert.equal(isoMicros(-1_000_500n), "1969-12-31T23:59:58.999500+00:00");
  });
});
