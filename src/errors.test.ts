import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  afterOutcome,
  BadEventError,
  BadEventReasons,
  DatabaseUnavailableError,
  MAX_REASON_CHARS,
  oneLine,
} from "./errors.ts";
import { SECRET_EVENT_FIELDS } from "./secrets.ts";

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

test("bidirectional controls are escaped too: a reason reads as it is written", () => {
  const err = new BadEventError(BadEventReasons.BAD_FIELD, "data.variants.\u202egnp.exe\u2066x\u2069 must be");
  assert.equal(err.message, "data.variants.\\u202egnp.exe\\u2066x\\u2069 must be");
  // Direction marks show as nothing, right-to-left text beside them or not: a key with one would read as a key without.
  const hebrew = new BadEventError(BadEventReasons.BAD_FIELD, "data.variants.\u05e9\u05dc\u200f\u061c must be");
  assert.equal(hebrew.message, "data.variants.\u05e9\u05dc\\u200f\\u061c must be");
});

test("what shows as nothing is escaped in a reason: a key with a zero-width character can't read as another key", () => {
  // A zero-width space, a word joiner, a BOM, a soft hyphen, a Hangul filler and a tag character.
  const err = new BadEventError(
    BadEventReasons.BAD_FIELD,
    "data.variants.red\u200b\u2060\ufeff\u00ad\u3164\u{e0041}.price_cents must be integer",
  );
  assert.equal(
    err.message,
    "data.variants.red\\u200b\\u2060\\ufeff\\u00ad\\u3164\\u{e0041}.price_cents must be integer",
  );
});

test("a direction mark in a reason is escaped: it shows as nothing", () => {
  const err = new BadEventError(BadEventReasons.BAD_FIELD, "data.variants.red\u200e\u061c.price_cents must be integer");
  assert.equal(err.message, "data.variants.red\\u200e\\u061c.price_cents must be integer");
});

test("a reason cut to MAX_REASON_CHARS never splits an emoji into a lone surrogate", () => {
  for (const pad of [MAX_REASON_CHARS - 3, MAX_REASON_CHARS - 2]) {
    const { message } = new BadEventError(BadEventReasons.BAD_FIELD, `${"a".repeat(pad)}😀😀😀`);
    assert.ok(message.isWellFormed(), JSON.stringify(message.slice(-4)));
    assert.ok(message.endsWith("…") && message.length <= MAX_REASON_CHARS);
  }
});

test("a reason cut to MAX_REASON_CHARS never ends inside the escape of a character", () => {
  for (let pad = MAX_REASON_CHARS - 12; pad < MAX_REASON_CHARS; pad++) {
    for (const hidden of ["\u200b", "\u{e0041}"]) {
      const { message } = new BadEventError(BadEventReasons.BAD_FIELD, `${"a".repeat(pad)}${hidden.repeat(3)}`);
      assert.ok(message.endsWith("…") && message.length <= MAX_REASON_CHARS);
      assert.match(message, /(?:a|\\u200b|\\u\{e0041\})…$/, message.slice(-12));
    }
  }
});

test("any reason is one line of at most MAX_REASON_CHARS characters, well formed when its text is", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 600 }), (text) => {
      const { message } = new BadEventError(BadEventReasons.BAD_FIELD, text);
      assert.ok(!/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.test(message), JSON.stringify(message));
      assert.ok(message.length <= MAX_REASON_CHARS);
      assert.ok(message.isWellFormed(), JSON.stringify(message));
    }),
  );
});

test("a reason that would name a secret field names only the part of the event before it", () => {
  const reason = (text: string) => new BadEventError(BadEventReasons.BAD_FIELD, text).message;
  assert.equal(
    reason('data.variants.b.variant_id "$2b$12$abc" repeats data.variants.password_hash.variant_id: two children'),
    "data.variants holds an invalid entry",
  );
  assert.equal(reason("data.banking_info.iban must be string"), "data holds an invalid entry");
  assert.equal(
    reason('data.items.0.item_id "password_hash" repeats data.items.1.item_id'),
    "value holds an invalid entry",
  );
  assert.equal(reason("data.price_cents must be integer"), "data.price_cents must be integer");
});

test("the path before a secret name is the run of letters, digits, _ and . that ends at it, less one last dot", () => {
  // What a regular expression read before (in time square in the text's length), on short texts.
  const byPattern = (text: string, name: string) => {
    const at = text.indexOf(name);
    const path = /([\w.]*?)\.?$/.exec(text.slice(text.lastIndexOf(" ", at) + 1, at))?.[1];
    return `${path || "value"} holds an invalid entry`;
  };
  const part = fc.string({ unit: fc.constantFrom("a", "Z", "0", "_", ".", "-", " ", "/", "é", "[") });
  fc.assert(
    fc.property(part, fc.constantFrom(...SECRET_EVENT_FIELDS), part, (before, name, after) => {
      fc.pre(!SECRET_EVENT_FIELDS.some((n) => before.includes(n)));
      const text = `${before}${name}${after}`;
      assert.equal(new BadEventError(BadEventReasons.BAD_FIELD, text).message, oneLine(byPattern(text, name)));
    }),
  );
});

test("a bad event's error carries no stack frames (it is reported by its reason), other errors keep theirs", () => {
  const bad = new BadEventError(BadEventReasons.BAD_FIELD, "data.price_cents must be integer");
  assert.equal(bad.stack, "BadEventError: data.price_cents must be integer");
  assert.match(new DatabaseUnavailableError("MySQL is unreachable").stack ?? "", /\n\s+at /);
  // The limit is restored for whatever is made next.
  assert.match(new Error("next").stack ?? "", /\n\s+at /);
});

test("a cleanup that fails after the outcome is said in one warning line naming it, and thrown over nothing", async () => {
  const lines: string[] = [];
  await afterOutcome("closing the admin client", Promise.reject(new Error("socket\nhang up")), (l) => lines.push(l));
  assert.deepEqual(lines, [
    "warning: closing the admin client failed (socket\\u000ahang up); the outcome above stands",
  ]);
  await afterOutcome("closing the admin client", Promise.resolve(), (l) => lines.push(l));
  assert.equal(lines.length, 1, "a cleanup that succeeds says nothing");
});
