import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GENERATED_HEADERS } from "../commands/generate-guard.ts";
import { ROUTES } from "../domains/registry.ts";
import { LIMITS } from "../testing/domain-helpers.ts";
import { fixture } from "../testing/fixtures.ts";
import { type Decoded, decode, type SourceRecord } from "./decode.ts";

// The rules decoding enforces before anything reaches the database: every outcome is applied,
// skipped or rejected, and nothing a record carries makes decode throw.

const NOW = Date.parse("2026-12-05T12:00:00Z");
/** JSON of `v`, where the string "NESTED:n" stands for n arrays nested in one another: JSON.stringify would recurse too deep. */
const bytes = (v: unknown) =>
  Buffer.from(
    JSON.stringify(v).replace(/"NESTED:(\d+)"/g, (_, n) => `${"[".repeat(Number(n))}${"]".repeat(Number(n))}`),
  );

/** A fixture event as the upstream publishes it, with edits to the envelope and its `data`. */
function record(type: string, edit: (v: Record<string, unknown>, data: Record<string, unknown>) => void = () => {}) {
  const value = structuredClone(fixture(type).value) as unknown as Record<string, unknown>;
  edit(value, value.data as Record<string, unknown>);
  return {
    topic: ROUTES.get(type)?.topic ?? "user",
    key: Buffer.from(String(value.entity_id)),
    value: bytes(value),
    timestamp: BigInt(NOW),
  } satisfies SourceRecord;
}

const rejected = (d: Decoded) => {
  assert.equal(d.op.kind, "rejected", JSON.stringify(d.op));
  return d.op.kind === "rejected" ? d.op.error : assert.fail();
};

const nested = (levels: number) => `NESTED:${levels}`;

describe("decode", () => {
  test("every fixture decodes to what it asks of the database, keyed and stamped as published", () => {
    for (const type of ROUTES.keys()) {
      const d = decode(record(type), LIMITS);
      assert.ok("table" in d.op, `${type}: ${JSON.stringify(d.op)}`);
      assert.equal(d.keyMismatch, undefined, type);
    }
  });

  test("the header generate marks its records with changes nothing: they apply as the same events without it", () => {
    const headers = [...GENERATED_HEADERS];
    for (const type of ROUTES.keys()) {
      const plain = record(type);
      assert.deepEqual(decode({ ...plain, headers }, LIMITS, ROUTES, NOW), decode(plain, LIMITS, ROUTES, NOW), type);
    }
  });

  test("a timestamp further ahead of the record's than MAX_CLOCK_SKEW_MS is dead-lettered, naming both times", () => {
    const at = (timestamp: string) => record("user.updated", (v) => Object.assign(v, { timestamp }));
    const limits = { ...LIMITS, maxClockSkewMs: 60_000 };
    const later = NOW + 3_600_000; // the wall clock, an hour after the records were written
    const judge = (r: SourceRecord, l = limits, now = later) => decode(r, l, ROUTES, now);
    assert.ok("table" in judge(at("2026-12-05T12:01:00+00:00")).op, "exactly at the limit applies");
    const error = rejected(judge(at("2026-12-05T12:01:00.000001+00:00")));
    assert.equal(error.reason, "clock_skew");
    assert.equal(
      error.message,
      "timestamp 2026-12-05 12:01:00.000001 is 60 s ahead of the Kafka record's 2026-12-05T12:00:00.000Z; MAX_CLOCK_SKEW_MS allows 60000 ms",
    );
    assert.equal(rejected(judge(at("9999-12-31T23:59:59.999999+00:00"), LIMITS)).reason, "clock_skew");
    // Far behind is normal (a replay, a backlog).
    assert.ok("table" in judge(at("1000-01-01T00:00:00Z"), LIMITS).op);
  });

  test("a record its producer stamped ahead is held to the wall clock; one without a time is dead-lettered at any time", () => {
    const at = (timestamp: string, recordMs: bigint) => ({
      ...record("user.updated", (v) => Object.assign(v, { timestamp })),
      timestamp: recordMs,
    });
    const limits = { ...LIMITS, maxClockSkewMs: 60_000 };
    // Judged now and again a day later (a rewind), an event of a record without a time decides alike.
    for (const now of [NOW, NOW + 86_400_000]) {
      for (const timestamp of ["2026-12-05T12:00:30Z", "2026-12-05T12:00:15Z", "2020-01-01T00:00:00Z"]) {
        const untimed = rejected(decode(at(timestamp, -1n), limits, ROUTES, now));
        assert.equal(untimed.reason, "clock_skew");
        assert.match(untimed.message, /^the Kafka record has no timestamp .*LogAppendTime$/);
      }
    }
    // A record stamped 59 minutes ahead (Kafka accepts up to an hour) does not widen the guard.
    const ahead = at("2026-12-05T12:30:00Z", BigInt(NOW + 59 * 60_000));
    assert.equal(rejected(decode(ahead, limits, ROUTES, NOW)).reason, "clock_skew");
  });

  test("an event type on another topic than its own is dead-lettered; an unknown type anywhere is skipped", () => {
    const error = rejected(decode({ ...record("user.created"), topic: "product" }, LIMITS));
    assert.equal(error.reason, "wrong_topic");
    assert.equal(error.message, "user.created belongs on topic user, not product");
    const prefixed = { ...LIMITS, topicPrefix: "prod." };
    assert.ok("table" in decode({ ...record("user.created"), topic: "prod.user" }, prefixed).op);
    assert.equal(rejected(decode({ ...record("user.created"), topic: "user" }, prefixed)).reason, "wrong_topic");
    const unknown = record("user.created", (v) => Object.assign(v, { event_type: "user.merged" }));
    assert.deepEqual(decode({ ...unknown, topic: "order" }, LIMITS).op, { kind: "skipped", reason: "unknown_type" });
  });

  test("a key other than entity_id is applied by entity_id and flagged", () => {
    const d = decode({ ...record("user.created"), key: Buffer.from("65a1f0c2e4b0a1b2c3d4e5f7") }, LIMITS);
    assert.ok("table" in d.op && d.op.kind === "upsert" && d.op.id === "65a1f0c2e4b0a1b2c3d4e5f6");
    assert.equal(d.keyMismatch, true);
    assert.equal(decode({ ...record("user.created"), key: null }, LIMITS).keyMismatch, true);
  });

  test("JSON columns nested deeper than MAX_JSON_DEPTH are bad fields; 10,000 levels do not crash", () => {
    const post = (extra: unknown) =>
      record("post.created", (_, d) => Object.assign((d.media as object[])[0] as object, { extra }));
    // media (1) → item (2) → extra: 14 more levels is 16 in all, the default.
    assert.ok("table" in decode(post(nested(14)), LIMITS).op);
    const error = rejected(decode(post(nested(15)), LIMITS));
    assert.equal(error.reason, "bad_field");
    assert.equal(error.message, "data.media is nested deeper than 16 levels (MAX_JSON_DEPTH)");
    assert.equal(rejected(decode(post(nested(10_000)), LIMITS)).reason, "bad_field");
    const variant = record("product.created", (_, d) => {
      const first = Object.values(d.variants as object)[0] as { attributes: object[] };
      Object.assign(first.attributes[0] as object, { extra: nested(10_000) });
    });
    assert.match(rejected(decode(variant, LIMITS)).message, /^data\.variants\..+\.attributes is nested deeper/);
  });

  test("a JSON column may hold more than TEXT's 65,535 bytes; a TEXT column may not", () => {
    const media = Array.from({ length: 1000 }, (_, i) => ({
      media_type: "image",
      media_url: `https://cdn.example.com/${"m".repeat(100)}/${i}`,
    }));
    const d = decode(
      record("post.created", (_, data) => Object.assign(data, { media })),
      LIMITS,
    );
    assert.ok(d.op.kind === "upsert" && String(d.op.row.media_json).length > 100_000);
    const avatar = `https://cdn.example.com/${"a".repeat(70_000)}`;
    const text = decode(
      record("user.created", (_, data) => Object.assign(data.profile as object, { avatar })),
      LIMITS,
    );
    assert.match(rejected(text).message, /^column avatar would hold 70024 bytes/);
  });

  test("two items with one item_id, or two variants with one variant_id, are dead-lettered naming the duplicate", () => {
    const order = record("order.created", (_, d) => {
      const items = d.items as { item_id: string }[];
      items.push({
        ...structuredClone(items[0] as object),
        item_id: (items[0] as { item_id: string }).item_id,
      } as never);
    });
    const error = rejected(decode(order, LIMITS));
    assert.equal(error.reason, "bad_field");
    assert.match(error.message, /^data\.items\.\d+\.item_id ".+" repeats data\.items\.0\.item_id/);
    const product = record("product.created", (_, d) => {
      const variants = d.variants as Record<string, { variant_id: string }>;
      const [first] = Object.values(variants);
      variants["S "] = {
        ...structuredClone(first as object),
        variant_id: (first as { variant_id: string }).variant_id,
      } as never;
    });
    assert.match(
      rejected(decode(product, LIMITS)).message,
      /^data\.variants\.S \.variant_id ".+" repeats data\.variants\./,
    );
    // Item ids differing only in a trailing space are two items.
    const distinct = record("order.created", (_, d) => {
      const items = d.items as { item_id: string }[];
      items.push({
        ...structuredClone(items[0] as object),
        item_id: `${(items[0] as { item_id: string }).item_id} `,
      } as never);
    });
    assert.ok("table" in decode(distinct, LIMITS).op);
  });

  test("a map key named like a secret field: no reason names a path through it or quotes what is under it", () => {
    const variant = (data: Record<string, unknown>) => Object.values(data.variants as object)[0] as object;
    const cases: [string, (data: Record<string, unknown>) => void, string][] = [
      [
        "product.created",
        (data) => {
          const v = variant(data);
          data.variants = { password_hash: { ...v, variant_id: "$2b$12$abc" }, b: { ...v, variant_id: "$2b$12$abc" } };
        },
        "data.variants holds an invalid entry",
      ],
      [
        "product.created",
        (data) => {
          data.variants = { banking_info: { ...variant(data), price_cents: "x" } };
        },
        "data.variants holds an invalid entry",
      ],
      [
        "product.created",
        (data) => {
          const attributes = [{ attribute_name: "a", attribute_value: "b", deep: nested(40) }];
          data.variants = { password_hash: { ...variant(data), attributes } };
        },
        "data.variants holds an invalid entry",
      ],
      [
        // Half a million characters of key before the name: read back once, not from every start.
        "product.created",
        (data) => {
          data.variants = { [`${"a".repeat(500_000)}-password_hash`]: { ...variant(data), price_cents: "x" } };
        },
        "value holds an invalid entry",
      ],
      [
        "order.created",
        (data) => {
          const items = data.items as Record<string, Record<string, unknown>>[];
          const snapshot = items[0]?.product_snapshot as Record<string, unknown>;
          snapshot.variant_attributes = { password_hash: 5 };
        },
        "data.items.0.product_snapshot.variant_attributes holds an invalid entry",
      ],
    ];
    for (const [type, edit, reason] of cases) {
      const { message } = rejected(
        decode(
          record(type, (_, data) => edit(data)),
          LIMITS,
          ROUTES,
          NOW,
        ),
      );
      assert.equal(message, reason);
    }
  });

  test("anything a handler throws is that event's unexpected_error, named by class only", () => {
    const routes = new Map(ROUTES);
    routes.set("user.created", {
      topic: "user",
      handler: () => {
        throw new RangeError("Maximum call stack size exceeded near $2b$12$secret");
      },
    });
    const d = decode(record("user.created"), LIMITS, routes);
    const error = rejected(d);
    assert.equal(error.reason, "unexpected_error");
    assert.equal(error.message, "unexpected RangeError while handling user.created");
    assert.ok(d.unexpected instanceof RangeError);
    routes.set("user.created", {
      topic: "user",
      handler: () => {
        throw "a string";
      },
    });
    assert.equal(
      rejected(decode(record("user.created"), LIMITS, routes)).message,
      "unexpected string while handling user.created",
    );
  });
});
