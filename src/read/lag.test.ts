import assert from "node:assert/strict";
import { test } from "node:test";
import { lagOf } from "./lag.ts";

test("a partition's lag is its end offset less its committed one; -1 where this member has none", () => {
  const ends = [
    {
      name: "user",
      partitions: [
        { partitionIndex: 1, offset: 10n },
        { partitionIndex: 0, offset: 7n },
        { partitionIndex: 2, offset: 0n },
      ],
    },
    { name: "order", partitions: [{ partitionIndex: 1, offset: 5n }] },
  ];
  const committed = new Map([
    ["user:0", 7n],
    ["user:1", 3n],
    ["order:1", 5n],
    ["post:0", 9n],
  ]);
  assert.deepEqual(
    lagOf(ends, committed),
    new Map([
      ["user", [0n, 7n, -1n]],
      ["order", [-1n, 0n]],
    ]),
  );
});
