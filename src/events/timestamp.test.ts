import assert from "node:assert/strict";
import { test } from "node:test";
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

test("rejects what is not an instant DATETIME can hold", () => {
  for (const bad of [
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
  ]) {
    assert.equal(toUtcDatetime6(bad), null, bad);
  }
});
