import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ROUTES } from "../domains/registry.ts";
import type { Row } from "../plan/ops.ts";
import { LIMITS } from "../testing/domain-helpers.ts";
import { fixture } from "../testing/fixtures.ts";
import { decode } from "./decode.ts";
import { holdsMoreValues, MAX_DEPTH_TO_REPARSE, MAX_VALUES_TO_REPARSE, nestsDeeperThan } from "./numbers.ts";

// A JSON column keeps the numbers of the event as the event wrote them, even those a double can't
// hold: an int64 id past 2^53 was stored rounded, a literal past the double range as null.

const NOW = Date.parse("2026-12-05T12:00:00Z");

/** A post whose first media item has `extra` written in as raw JSON text. */
function post(extra: string) {
  const value = structuredClone(fixture("post.created").value) as unknown as { data: { media: object[] } };
  Object.assign(value.data.media[0] as object, { extra: "EXTRA" });
  return {
    topic: "post",
    key: Buffer.from(fixture("post.created").key),
    value: Buffer.from(JSON.stringify(value).replace('"EXTRA"', extra)),
    timestamp: BigInt(NOW),
  };
}

function stored(record: ReturnType<typeof post>, column = "media_json"): string {
  const d = decode(record, LIMITS, ROUTES, NOW);
  assert.ok(d.op.kind === "upsert", JSON.stringify(d.op));
  return (d.op.row as Row)[column] as string;
}

test("a JSON column keeps integers past 2^53 and literals past the double range as the event wrote them", () => {
  const text = stored(
    post(
      '{"size_bytes": 9007199254740993, "id": 123456789012345678901234567890, "low": -9223372036854775809, "huge": [1e400, -1E+999], "ok": 9007199254740991, "f": 0.5}',
    ),
  );
  assert.match(text, /"size_bytes":9007199254740993,"id":123456789012345678901234567890,"low":-9223372036854775809,/);
  assert.match(text, /"huge":\[1e400,-1E\+999\],"ok":9007199254740991,"f":0\.5\}/);
});

test("the text is kept wherever it sits in the column, and secrets beside it are still dropped", () => {
  const text = stored(
    post('[{"password_hash": "$2b$12$secret", "n": 18446744073709551617, "deeper": {"m": [1, 9007199254740993]}}]'),
  );
  assert.ok(!text.includes("password_hash") && !text.includes("secret"), text);
  assert.match(text, /"extra":\[\{"n":18446744073709551617,"deeper":\{"m":\[1,9007199254740993\]\}\}\]/);
});

test("typed fields are untouched: a variant's attributes keep their text, its price is read as a number", () => {
  const value = structuredClone(fixture("product.created").value) as unknown as {
    data: { variants: Record<string, { attributes: object[] }> };
  };
  const [key, variant] = Object.entries(value.data.variants)[0] ?? assert.fail();
  Object.assign(variant.attributes[0] as object, { code: "CODE" });
  const d = decode(
    {
      topic: "product",
      key: Buffer.from(fixture("product.created").key),
      value: Buffer.from(JSON.stringify(value).replace('"CODE"', "99999999999999999999")),
      timestamp: BigInt(NOW),
    },
    LIMITS,
    ROUTES,
    NOW,
  );
  assert.ok(d.op.kind === "upsert" && d.op.children, JSON.stringify(d.op));
  const row = d.op.children.rows.find((r) => r.variant_key === key) ?? assert.fail();
  assert.match(row.attributes_json as string, /"code":99999999999999999999\}/);
});

test("any integer, however large, and any literal past the double range reach the column as written", () => {
  const integer = fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).map(String);
  const pastRange = fc
    .tuple(fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.integer({ min: 309, max: 9999 }), fc.boolean())
    .map(([m, e, negative]) => `${negative ? "-" : ""}${m}e${e}`);
  fc.assert(
    fc.property(fc.oneof(integer, pastRange), (n) => {
      const text = stored(post(`{"n": ${n}}`));
      assert.ok(text.includes(`"extra":{"n":${n}}`), `${n} → ${text}`);
    }),
  );
});

test("a document of more than MAX_VALUES_TO_REPARSE values, or too deep to reparse, is a bad field, not a crash", () => {
  // The post itself holds a few dozen values: the rest of the budget goes to the list.
  const many = Array.from({ length: MAX_VALUES_TO_REPARSE }, () => "1e400").join(",");
  const d = decode(post(`[${many}]`), LIMITS, ROUTES, NOW);
  assert.ok(d.op.kind === "rejected");
  assert.equal(d.op.error.reason, "bad_field");
  assert.match(d.op.error.message, /and more than 100000 values in all: too many to parse again/);
  const fewer = Array.from({ length: MAX_VALUES_TO_REPARSE - 200 }, () => "1e400").join(",");
  assert.ok(stored(post(`[${fewer}]`)).includes("[1e400,1e400"), "under the limit: kept");
  // Beside a field the schema ignores: its values count too, as the reviver walks them.
  const value = structuredClone(fixture("post.created").value) as unknown as { data: Record<string, unknown> };
  value.data.ignored = "IGNORED";
  (value.data.media as object[])[0] = { ...((value.data.media as object[])[0] as object), n: "N" };
  const wide = JSON.stringify(value)
    .replace('"IGNORED"', `[${Array(MAX_VALUES_TO_REPARSE).fill(0).join(",")}]`)
    .replace('"N"', "1e400");
  const ignored = decode({ ...post("0"), value: Buffer.from(wide) }, LIMITS, ROUTES, NOW);
  assert.ok(ignored.op.kind === "rejected");
  assert.match(ignored.op.error.message, /too many to parse again/);
  // Nested past what the reviver's walk can recurse, in a field the schema ignores, within the values allowed.
  const levels = MAX_VALUES_TO_REPARSE - 200;
  const text = wide.replace(/\[0(,0)*\]/, `${"[".repeat(levels)}${"]".repeat(levels)}`);
  const deep = decode({ ...post("0"), value: Buffer.from(text) }, LIMITS, ROUTES, NOW);
  assert.ok(deep.op.kind === "rejected");
  assert.equal(deep.op.error.reason, "bad_field");
  assert.match(deep.op.error.message, /^value is nested too deep to keep the numbers a double can't hold as written/);
});

test("an event nested too deep to parse again is refused alike whatever the stack it is decoded on", () => {
  // 1,500 levels in a field the schema ignores, and an inexact number in media: the reviver's walk
  // ran out of stack at about 2,300 levels from a shallow stack and 1,950 from 1,500 frames deeper,
  // so the same record was applied or dead-lettered by where decode was called from.
  const value = structuredClone(fixture("post.created").value) as unknown as { data: Record<string, unknown> };
  value.data.ignored = "IGNORED";
  const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;
  const withNumber = (text: string) => text.replace('"size_bytes":', '"extra":1e400,"size_bytes":');
  const text = withNumber(JSON.stringify(value).replace('"IGNORED"', nested(1500)));
  const record = { ...post("0"), value: Buffer.from(text) };
  const deeper = (frames: number): ReturnType<typeof decode> =>
    frames === 0 ? decode(record, LIMITS, ROUTES, NOW) : { ...deeper(frames - 1) };
  for (const d of [decode(record, LIMITS, ROUTES, NOW), deeper(1500)]) {
    assert.ok(d.op.kind === "rejected", d.op.kind);
    assert.equal(d.op.error.reason, "bad_field");
    assert.match(d.op.error.message, /nested too deep to keep the numbers a double can't hold/);
  }
  // At the bound (the value, data and the field are three of its levels) it is parsed again, and the number kept.
  const atBound = withNumber(JSON.stringify(value).replace('"IGNORED"', nested(MAX_DEPTH_TO_REPARSE - 2)));
  assert.ok(stored({ ...record, value: Buffer.from(atBound) }).includes('"extra":1e400'));
  assert.equal(nestsDeeperThan([[[]]], 3), false);
  assert.equal(nestsDeeperThan([[[[]]]], 3), true);
  assert.equal(nestsDeeperThan(7, 0), false);
});

test("an event holding an inexact number is parsed twice, plainly then with the reviver, and counted on the first", (t) => {
  const one = post("[1e400]");
  const tooMany = post(`[${Array(MAX_VALUES_TO_REPARSE).fill(0).join(",")},1e400]`);
  // Counted on a parse of its own, the value was parsed three times, the first two alike.
  const parse = t.mock.method(JSON, "parse");
  const d = decode(one, LIMITS, ROUTES, NOW);
  assert.ok(d.op.kind === "upsert" && String(d.op.row.media_json).includes('"extra":[1e400]'));
  assert.deepEqual(
    parse.mock.calls.map((c) => typeof c.arguments[1]),
    ["undefined", "function"],
  );
  parse.mock.resetCalls();
  const refused = decode(tooMany, LIMITS, ROUTES, NOW);
  assert.ok(refused.op.kind === "rejected");
  assert.match(refused.op.error.message, /too many to parse again/);
  assert.equal(refused.eventType, undefined);
  assert.equal(parse.mock.callCount(), 1);
});

test("holdsMoreValues counts containers and their values, and stops at the limit", () => {
  assert.equal(holdsMoreValues({ a: [1, 2], b: null }, 5), false); // the object, a, 1, 2, b
  assert.equal(holdsMoreValues({ a: [1, 2], b: null }, 4), true);
  assert.equal(holdsMoreValues(7, 1), false);
  assert.equal(holdsMoreValues(Array(1e6).fill([]), 10), true);
});

test("holdsMoreValues reads no more of a list than the values it may count", () => {
  // A list read through a proxy that counts the items read: the walk stops at the limit, not at
  // the end of the list (a 1 MiB list of 0s was read whole before any of it was counted).
  let reads = 0;
  const list = new Proxy(Array(1e6).fill(0), {
    get(target, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  assert.equal(holdsMoreValues({ list }, 100), true);
  assert.ok(reads <= 100, `${reads} items read`);
  assert.equal(holdsMoreValues(Array(1e6).fill([]), 100), true);
});
