import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { toUtcDatetime6 } from "./timestamp.ts";

test("keeps microseconds and converts +00:00 and Z", () => {
  assert.equal(toUtcDatetime6("2026-02-11T09:38:25.123456+00:00"), "2026-02-11 09:38:25.123456");
  assert.equal(toUtcDatetime6("2026-02-11T11:30:00Z"), "2026-02-11 11:30:00.000000");
  assert.equal(toUtcDatetime6("2026-02-11T11:30:00z"), "2026-02-11 11:30:00.000000");
});

test("pads short fractions and truncates long ones without rounding", () => {
  assert.equal(toUtcDatetime6("2026-02-11T09:40:00.5+00:00"), "2026-02-11 09:40:00.500000");
  assert.equal(toUtcDatetime6("2026-02-11T09:40:00.000001+00:00"), "2026-02-11 09:40:00.000001");
  assert.equal(toUtcDatetime6("2026-02-11T23:59:59.999999999+00:00"), "2026-02-11 23:59:59.999999");
  assert.equal(toUtcDatetime6("2026-02-11T09:40:00.1234567Z"), "2026-02-11 09:40:00.123456");
});

test("applies offsets, across day, month and year boundaries", () => {
  assert.equal(toUtcDatetime6("2026-02-11T09:38:25.123456+02:00"), "2026-02-11 07:38:25.123456");
  assert.equal(toUtcDatetime6("2026-02-11T23:30:00.000007-05:30"), "2026-02-12 05:00:00.000007");
  assert.equal(toUtcDatetime6("2026-01-01T01:00:00+0200"), "2025-12-31 23:00:00.000000");
  assert.equal(toUtcDatetime6("2024-02-29T00:00:00+14:00"), "2024-02-28 10:00:00.000000");
});

test("takes a value without an offset as UTC", () => {
  assert.equal(toUtcDatetime6("2026-02-11T09:38:25"), "2026-02-11 09:38:25.000000");
  assert.equal(toUtcDatetime6("2026-02-11 09:38:25.25"), "2026-02-11 09:38:25.250000");
});

/** Each of `values` converts to null. */
function assertRejected(values: string[]) {
  for (const bad of values) assert.equal(toUtcDatetime6(bad), null, bad);
}

test("rejects what is not an instant DATETIME can hold", () => {
  assertRejected([
    "",
    "yesterday",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-02-11T24:00:00Z",
    "2026-02-11T10:60:00Z",
    "2026-02-11T10:00:00+25:00",
    "2026-02-11T10:00:00.Z",
    "2026-02-11T10:00:00.1234567890Z",
    "0999-12-31T23:59:59Z",
    "2026-02-11",
    " 2026-02-11T10:00:00Z",
  ]);
});

test("calendar edges: leap years, and offsets that cross into or out of DATETIME's range", () => {
  assert.equal(toUtcDatetime6("2000-02-29T12:00:00Z"), "2000-02-29 12:00:00.000000");
  assert.equal(toUtcDatetime6("1900-02-29T12:00:00Z"), null);
  assert.equal(toUtcDatetime6("2026-04-31T12:00:00Z"), null);
  assert.equal(toUtcDatetime6("0999-12-31T23:30:00-01:00"), "1000-01-01 00:30:00.000000");
  assert.equal(toUtcDatetime6("1000-01-01T00:30:00+01:00"), null);
  assert.equal(toUtcDatetime6("9999-12-31T23:30:00-01:00"), null);
  assert.equal(toUtcDatetime6("0050-06-01T00:00:00+01:00"), null);
  assert.equal(toUtcDatetime6("2026-02-11t09:38:25-00:00"), "2026-02-11 09:38:25.000000");
});

test("rejects a malformed offset or anything after the instant", () => {
  assertRejected([
    "2026-02-11T10:00:00+02",
    "2026-02-11T10:00:00+2:00",
    "2026-02-11T10:00:00+02:0",
    "2026-02-11T10:00:00+02:60",
    "2026-02-11T10:00:00ZZ",
    "2026-02-11T10:00:00Z ",
    "2026-02-11T10:00:00.123+00:00x",
    "2026-02-11x10:00:00Z",
    "2026/02/11T10:00:00Z",
    "２026-02-11T10:00:00Z",
  ]);
});

test("a fraction of any length is kept to six digits, truncated or filled, or refused past nine, in any zone", () => {
  const zones: [string, string][] = [
    ["", "2026-02-11 09:38:25"],
    ["Z", "2026-02-11 09:38:25"],
    ["+00:00", "2026-02-11 09:38:25"],
    ["-0000", "2026-02-11 09:38:25"],
    ["+02:00", "2026-02-11 07:38:25"],
    ["-05:30", "2026-02-11 15:08:25"],
  ];
  fc.assert(
    fc.property(
      fc.stringMatching(/^[0-9]{0,12}$/),
      fc.boolean(),
      fc.constantFrom(...zones),
      (digits, dot, [zone, at]) => {
        const text = `2026-02-11T09:38:25${dot ? "." : ""}${digits}${zone}`;
        const fine = dot ? digits.length >= 1 && digits.length <= 9 : digits.length === 0;
        assert.equal(toUtcDatetime6(text), fine ? `${at}.${`${digits}000000`.slice(0, 6)}` : null, text);
      },
    ),
  );
});
