import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BadEventError, BadEventReasons, MAX_REASON_CHARS } from "./errors.ts";

test("a reason quoting a key with a line break or a terminal escape stays one line, each such character escaped", () => {
  const err = new BadEventError(
    BadEventReasons.BAD_FIELD,
    "data.variants.x\r\nFAKE-LOG-LINE level=error \u001b[2J\u2028.price_cents must be integer",
  );
  assert.equal(
    err.message,
    "data.variants.x\\u000d\\u000aFAKE-LOG-LINE level=error \\u001b[2J\\u2028.price_cents must be integer",
  );
});

test("any reason is one line of at most MAX_REASON_CHARS characters", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 600 }), (text) => {
      const { message } = new BadEventError(BadEventReasons.BAD_FIELD, text);
      assert.ok(!/[\p{Cc}\u2028\u2029]/u.test(message), JSON.stringify(message));
      assert.ok(message.length <= MAX_REASON_CHARS);
    }),
  );
});
