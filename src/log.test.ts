import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger, prettyLine } from "./log.ts";

/** A stream that keeps what is written to it, a chunk (a log line) each. */
function capture() {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk, _e, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, out };
}

test("secrets are redacted from log lines", () => {
  const { lines, out } = capture();
  const log = createLogger("info", out);
  log.info(
    { data: { password_hash: "$2b$12$abc", banking_info: { account_number_last4: "4821" } }, mysqlPassword: "pw" },
    "x",
  );
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines[0] ?? "", /\$2b\$12\$abc|4821|"pw"/);
  assert.match(lines[0] ?? "", /\[redacted\]/);
});

test("the terminal format: time, level, message, then the other fields", () => {
  const line = prettyLine(
    JSON.stringify({
      level: 40,
      time: "2026-11-25T10:30:40.518Z",
      service: "s",
      topic: "user",
      offset: "3",
      msg: "dead-lettered: x",
    }),
  );
  assert.equal(line, "10:30:40.518 WARN  dead-lettered: x  topic=user offset=3\n");
});

test("the terminal format escapes what the data may put in a message or a field: escapes, line breaks, bidi controls", () => {
  const line = prettyLine(
    JSON.stringify({
      level: 40,
      time: "2026-11-25T10:30:40.518Z",
      field: "products.category",
      value: "x\u001b[2J\r\n10:30:41.000 INFO  fake\u202e",
      msg: 'new products.category value "x\u001b[2J\r\n10:30:41.000 INFO  fake\u202e" applied as is',
    }),
  );
  assert.equal(
    line,
    '10:30:40.518 WARN  new products.category value "x\\u001b[2J\\u000d\\u000a10:30:41.000 INFO  fake\\u202e" applied as is' +
      "  field=products.category value=x\\u001b[2J\\u000d\\u000a10:30:41.000 INFO  fake\\u202e\n",
  );
});

test("the terminal format keeps a stack trace's frames on their own lines", () => {
  const stack = "    at plan (src/plan/plan.ts:1:1)\n    at apply (src/write/transaction.ts:2:2)";
  const line = prettyLine(JSON.stringify({ level: 50, time: "2026-11-25T10:30:40.518Z", stack, msg: "unexpected" }));
  assert.equal(line, `10:30:40.518 ERROR unexpected  stack=${stack}\n`);
});

test("the JSON lines escape what JSON leaves as it is: C1 controls, line separators, bidi controls", () => {
  const { lines, out } = capture();
  // An unknown event type as a producer may send it: U+009B is the 8-bit CSI (ESC [), U+0085 NEL,
  // U+2028 a line separator, U+202E shows what follows reversed.
  const eventType = "x\u009b2J\u0085\u2028\u001b[31m\u202egnp.exe";
  createLogger("debug", out).debug({ eventType }, `event ${eventType}`);
  assert.equal(lines.length, 1);
  const line = lines[0] ?? "";
  assert.doesNotMatch(line, /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069](?!$)/u, line);
  assert.ok(line.endsWith("\n"));
  const parsed = JSON.parse(line) as { eventType: string; msg: string };
  assert.equal(parsed.eventType, eventType, "the same text once parsed");
  assert.equal(parsed.msg, `event ${eventType}`);
});
