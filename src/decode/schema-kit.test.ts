import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SECRET_EVENT_FIELDS } from "../secrets.ts";
import { charCount, compile, jsonText, Str, StringMap, Type } from "./schema-kit.ts";

test("charCount counts code points as MySQL counts utf8mb4 characters", () => {
  assert.equal(charCount(""), 0);
  assert.equal(charCount("abc"), 3);
  assert.equal(charCount("é😀x"), 3);
  assert.equal(charCount("😀".repeat(50)), 50);
  // A lone surrogate (high or low) is one character, as Array.from counts it.
  assert.equal(charCount("a\ud83d"), 2);
  assert.equal(charCount("\ude00b"), 2);
  for (const s of ["👩‍👩‍👧", "a\ud83d\ud83d\ude00", "\udc00\ud800"])
    assert.equal(charCount(s), Array.from(s).length, s);
});

test("Str bounds characters, not UTF-16 units, at both ends", () => {
  const v = compile(Type.Object({ s: Str(3, 2) }));
  assert.deepEqual(v.parse({ s: "😀😀😀" }, "d"), { s: "😀😀😀" }); // 6 units, 3 characters
  assert.throws(() => v.parse({ s: "😀😀😀😀" }, "d"), /^BadEventError: d\.s must not have more than 3 characters$/);
  assert.throws(() => v.parse({ s: "😀" }, "d"), /^BadEventError: d\.s must not have fewer than 2 characters$/);
  assert.throws(() => v.parse({ s: 5 }, "d"), /^BadEventError: d\.s must be string$/);
  assert.deepEqual(v.parse({ s: "ab" }, "d"), { s: "ab" });
});

test("Str's message is about the string that failed, inside arrays, and names the bounds when it can't be found", () => {
  const v = compile(Type.Object({ a: Type.Array(Type.Object({ s: Str(2, 1), t: Str(2) })) }));
  const items = [
    { s: "ok", t: "" },
    { s: "😀😀", t: "abc" },
  ];
  assert.throws(() => v.parse({ a: items }, "d"), /^BadEventError: d\.a\.1\.t must not have more than 2 characters$/);
  assert.throws(
    () => v.parse({ a: [{ s: "", t: "" }] }, "d"),
    /^BadEventError: d\.a\.0\.s must not have fewer than 1 characters$/,
  );
  // TypeBox's pointer leaves a "/" in a map key as it is: the string is not found, its bounds are named.
  const m = compile(Type.Object({ m: StringMap(Str(3, 2)) }));
  assert.throws(
    () => m.parse({ m: { "x/y": "toolong" } }, "d"),
    /^BadEventError: d\.m\.x\.y must have from 2 to 3 characters$/,
  );
  assert.throws(
    () => m.parse({ m: { x: "😀" } }, "d"),
    /^BadEventError: d\.m\.x must not have fewer than 2 characters$/,
  );
});

test("a map key that reads like a path never leads outside the document, nor to another string's bound", () => {
  const m = compile(Type.Object({ m: StringMap(Type.Object({ n: Str(3) })) }));
  for (const key of ["constructor/caller", "toString/arguments", "__proto__/x"]) {
    const expected = `d.m.${key.replace("/", ".")}.n must not have more than 3 characters`;
    assert.throws(
      () => m.parse({ m: { [key]: { n: "abcd" } } }, "d"),
      (err: Error) => err.name === "BadEventError" && err.message === expected,
      key,
    );
  }
  // "/m/x/0" names the key "x/0", but reads as the first character of "x": not the failing string.
  const b = compile(Type.Object({ m: StringMap(Str(3, 2)) }));
  assert.throws(
    () => b.parse({ m: { x: "ab", "x/0": "abcdef" } }, "d"),
    /^BadEventError: d\.m\.x\.0 must have from 2 to 3 characters$/,
  );
  assert.throws(
    () => b.parse({ m: { "toString/name": "a" } }, "d"),
    /^BadEventError: d\.m\.toString\.name must have from 2 to 3 characters$/,
  );
});

test("jsonText drops password_hash and banking_info keys at any depth, and keeps every other field and value", () => {
  const doc = {
    media_url: "https://cdn.example.com/a.jpg",
    note: 'mentions "password_hash": in a value',
    uploaded_by: {
      user_id: "u1",
      password_hash: "$2b$12$SECRET",
      banking_info: { account_number_last4: "1234" },
      deeper: [{ password_hash: "$2b$12$SECRET2", kept: true }],
    },
  };
  const text = jsonText([doc], "data.media", 16);
  assert.doesNotMatch(text, /SECRET|1234|"password_hash":|"banking_info":/);
  assert.deepEqual(JSON.parse(text), [
    {
      media_url: "https://cdn.example.com/a.jpg",
      note: 'mentions "password_hash": in a value',
      uploaded_by: { user_id: "u1", deeper: [{ kept: true }] },
    },
  ]);
  // Without them the text is JSON.stringify's.
  assert.equal(jsonText({ a: [1, "password_hash"] }, "x", 16), '{"a":[1,"password_hash"]}');
});

test("jsonText is JSON.stringify without the secret fields' keys, for any document within the depth", () => {
  const withoutSecrets = (key: string, value: unknown) => (SECRET_EVENT_FIELDS.includes(key) ? undefined : value);
  // Keys that are secrets, that hold one's name (quoted, escaped), and any other.
  const key = fc.oneof(
    fc.constantFrom(...SECRET_EVENT_FIELDS, 'x"password_hash', 'password_hash"', "banking_info\\", "__proto__"),
    fc.string({ maxLength: 16 }),
  );
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: "small" }, tie("leaf"), tie("list"), tie("map")),
    leaf: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom(...SECRET_EVENT_FIELDS),
      fc.integer(),
      // Numbers a double holds exactly: the others ask for the event to be parsed again.
      fc
        .double({ noNaN: true, noDefaultInfinity: true })
        .filter((n) => !Number.isInteger(n) || Number.isSafeInteger(n)),
      fc.boolean(),
      fc.constant(null),
    ),
    list: fc.array(tie("tree"), { maxLength: 5 }),
    map: fc
      .array(fc.tuple(key, tie("tree")), { maxLength: 5 })
      .map((pairs) => JSON.parse(JSON.stringify(Object.fromEntries(pairs)))),
  }));
  fc.assert(
    fc.property(tree, (doc) => {
      assert.equal(jsonText(doc, "x", 64), JSON.stringify(doc, withoutSecrets));
    }),
    { numRuns: 2000 },
  );
});

test("an invalid document too large to explain names its largest list, never one inside a secret field", () => {
  const v = compile(Type.Object({ name: Str(10) }));
  const many = (n: number) => Array.from({ length: n }, () => []);
  // Under the bound the first bad field is named, as always.
  assert.throws(() => v.parse({ name: 1, list: many(9_990) }, "data"), /^BadEventError: data\.name must be string$/);
  assert.throws(
    () => v.parse({ name: 1, list: many(6_000), other: many(5_000) }, "data"),
    /^BadEventError: data is invalid and holds more than 10000 values, too many to say which is wrong \(the largest list or map seen: data\.list, 6000 entries\)$/,
  );
  // The largest lists hide in secret fields, at the top and deeper: counted, but not named.
  const hidden = {
    name: 1,
    password_hash: many(6_000),
    x: [{ banking_info: { account: many(5_000) } }],
    list: many(3),
  };
  assert.throws(
    () => v.parse(hidden, "data"),
    /^BadEventError: data is invalid and holds more than 10000 values, too many to say which is wrong \(the largest list or map seen: data\.list, 3 entries\)$/,
  );
  // A map keyed by child (a product's variants) is named like a list; the document itself is not.
  const variants = Object.fromEntries(Array.from({ length: 4_000 }, (_, i) => [`v${i}`, { price: i, size: 2 }]));
  assert.throws(
    () => v.parse({ name: 1, variants, a: 1, b: 2, c: 3 }, "data"),
    /^BadEventError: data is invalid and holds more than 10000 values, too many to say which is wrong \(the largest list or map seen: data\.variants, 4000 entries\)$/,
  );
  assert.throws(
    () => v.parse({ name: 1, password_hash: many(10_001) }, "data"),
    /^BadEventError: data is invalid and holds more than 10000 values, too many to say which is wrong$/,
  );
});
