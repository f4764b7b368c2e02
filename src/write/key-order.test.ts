import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compareKeys, sortByKey } from "./key-order.ts";

const utf8Order = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));

test("compareKeys orders as the bytes of UTF-8 do (a binary key column), whatever the characters", () => {
  // fullUnicode: surrogate pairs and U+E000–U+FFFF both come up, where UTF-16 order differs.
  fc.assert(
    fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
      assert.equal(Math.sign(compareKeys(a, b)), utf8Order(a, b));
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom("a", "\uffef", "\ue000", "😀", "\u05d0", "\ud7ff") }),
      fc.string(),
      (a, b) => {
        assert.equal(Math.sign(compareKeys(a, b)), utf8Order(a, b));
        assert.equal(Math.sign(compareKeys(a, a + b)), b === "" ? 0 : -1);
      },
    ),
    { numRuns: 5000 },
  );
});

test("a character past U+FFFF sorts after U+FFFD, where JavaScript's < puts it before", () => {
  assert.ok("😀" < "\ufffd");
  assert.ok(compareKeys("😀", "\ufffd") > 0);
  assert.deepEqual(
    sortByKey(["😀", "\ufffd", "z", "a\u0000", "a"], (s) => s),
    ["a", "a\u0000", "z", "\ufffd", "😀"],
  );
});
