import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "./args.ts";
import { generateOptions, progressLine } from "./generate.ts";

test("generate options: defaults, values, and one clear line for a bad one", () => {
  assert.deepEqual(generateOptions([]), { events: 10000, rate: 0, seed: 1, poisonRate: 0 });
  assert.deepEqual(generateOptions(["--events", "500", "--rate=100", "--seed", "7", "--poison", "0.01"]), {
    events: 500,
    rate: 100,
    seed: 7,
    poisonRate: 0.01,
  });
  for (const bad of [
    ["--events", "0"],
    ["--rate", "-1"],
    ["--poison", "2"],
    ["--events", "many"],
    ["--size", "3"],
  ]) {
    assert.throws(() => generateOptions(bad), UsageError, bad.join(" "));
  }
});

test("the progress line shows count, percentage, rate and ETA", () => {
  assert.equal(progressLine(2500, 10000, 0.5, 8), "2,500 / 10,000   25% ▕██      ▏ 5,000 ev/s  ETA 2 s");
  assert.equal(progressLine(10000, 10000, 2, 4), "10,000 / 10,000  100% ▕████▏ 5,000 ev/s  ETA 0 s");
});
