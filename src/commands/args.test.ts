import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseIsoTime, parseOptions, UsageError } from "./args.ts";

const spec = { json: "boolean", since: "string" } as const;

test("parseOptions: flags, --name value and --name=value", () => {
  assert.deepEqual(parseOptions("x", [], spec), {});
  assert.deepEqual(parseOptions("x", ["--json"], spec), { json: true });
  assert.deepEqual(parseOptions("x", ["--since", "2026-01-01", "--json"], spec), { since: "2026-01-01", json: true });
  assert.deepEqual(parseOptions("x", ["--since=2026-01-01"], spec), { since: "2026-01-01" });
});

test("parseOptions: each mistake is a UsageError naming the command and the option", () => {
  const cases: [string[], RegExp][] = [
    [["--jsno"], /^dlq list: unknown option --jsno; try --help$/],
    [["extra"], /^dlq list: unexpected argument "extra"/],
    [["-j"], /unexpected argument "-j"/],
    [["--since"], /--since needs a value/],
    [["--since", "--json"], /--since needs a value/],
    [["--since="], /--since needs a value/],
    [["--json=yes"], /--json takes no value/],
    [["--json", "--json"], /--json given twice/],
    [["--constructor"], /unknown option --constructor/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseOptions("dlq list", args, spec),
      (err: unknown) => err instanceof UsageError && message.test(err.message) && !err.message.includes("\n"),
      args.join(" "),
    );
  }
});

test("parseIsoTime: dates and date-times, UTC when it has no offset", () => {
  assert.equal(parseIsoTime("2026-02-11"), Date.UTC(2026, 1, 11));
  assert.equal(parseIsoTime("2026-02-11T09:38"), Date.UTC(2026, 1, 11, 9, 38));
  assert.equal(parseIsoTime("2026-02-11T09:38:25Z"), Date.UTC(2026, 1, 11, 9, 38, 25));
  assert.equal(parseIsoTime("2026-02-11T09:38:25.123456+00:00"), Date.UTC(2026, 1, 11, 9, 38, 25, 123));
  assert.equal(parseIsoTime("2026-02-11T11:38:25+02:00"), Date.UTC(2026, 1, 11, 9, 38, 25));
  assert.equal(parseIsoTime("2026-02-11 09:38:25-0130"), Date.UTC(2026, 1, 11, 11, 8, 25));
  // Whole hours, as ISO 8601 allows (and `date --iso-8601=hours` writes).
  assert.equal(parseIsoTime("2026-02-11T11:38+02"), Date.UTC(2026, 1, 11, 9, 38));
  assert.equal(parseIsoTime("2026-02-11T09:38:25-05"), Date.UTC(2026, 1, 11, 14, 38, 25));
  assert.equal(parseIsoTime("2026-02-11T09:38:25+2"), undefined);
});

test("parseIsoTime: anything else is undefined", () => {
  for (const bad of [
    "yesterday",
    "",
    "2026-02-30",
    "2026-13-01",
    "2026-02-11T24:00",
    "2026-02-11T09:60",
    "11/02/2026",
    "2026-2-1",
    "1700000000",
  ]) {
    assert.equal(parseIsoTime(bad), undefined, bad);
  }
});

test("any command line ends as options or as one UsageError line naming the command", () => {
  const spec = { events: "string", rate: "string", seed: "string", poison: "string", start: "string" } as const;
  const outcome = (f: () => unknown) => {
    try {
      return { ok: f() };
    } catch (err) {
      assert.ok(err instanceof UsageError, String(err));
      return { error: err.message };
    }
  };
  const word = fc.oneof(
    fc.constantFrom("--events", "--rate", "--seed", "--poison", "--start", "--size", "--", "---", "--=5", "-e", "-abc"),
    fc.constantFrom("--events=5", "--rate=", "--seed=--1", "--start=2026-01-01", "--constructor", "--__proto__"),
    fc.constantFrom("5", "-1", "0.5", "", "-", "x", "2026-03-01T00:00:00Z", "--rate=1=2"),
    fc.string({ maxLength: 6 }),
  );
  fc.assert(
    fc.property(fc.array(word, { maxLength: 6 }), (args) => {
      const result = outcome(() => ({ ...parseOptions("generate", args, spec) }));
      if ("error" in result) assert.match(String(result.error), /^generate: [^\n]+; try --help$/);
      else for (const v of Object.values(result.ok as object)) assert.equal(typeof v, "string");
    }),
    { numRuns: 3000 },
  );
});
