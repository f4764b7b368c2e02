import assert from "node:assert/strict";
import { test } from "node:test";
import { FetchIsolationLevels } from "@platformatic/kafka";
import { heldOf, lagOf, readLag } from "./lag.ts";

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

test("the end offsets are read as the stream reads, READ_COMMITTED: an open transaction's records are no lag yet", async () => {
  const asked: unknown[] = [];
  const admin = {
    metadata: async () => ({ topics: new Map([["user", { id: "u", partitionsCount: 1 }]]) }),
    listOffsets: async (options: { topics: { name: string }[]; isolationLevel?: number }) => {
      asked.push(options.isolationLevel);
      // The broker's answers while a transaction of 5 records is open after one committed record.
      const offset = options.isolationLevel === FetchIsolationLevels.READ_COMMITTED ? 1n : 6n;
      return options.topics.map(({ name }) => ({ name, partitions: [{ partitionIndex: 0, offset }] }));
    },
  };
  const { lag, held } = await readLag(admin as never, ["user"], new Map([["user:0", 1n]]));
  assert.deepEqual(asked, [FetchIsolationLevels.READ_COMMITTED, FetchIsolationLevels.READ_UNCOMMITTED]);
  assert.deepEqual(lag, new Map([["user", [0n]]]));
  // The open transaction's records are said as held back, not as lag.
  assert.deepEqual(held, [{ topic: "user", partition: 0, stable: 1n, end: 6n }]);
});

test("a partition is held back where this member committed up to the last stable offset and records lie past it", () => {
  const at = (offsets: Record<number, bigint>) => [
    { name: "user", partitions: Object.entries(offsets).map(([p, offset]) => ({ partitionIndex: Number(p), offset })) },
  ];
  const committed = new Map([
    ["user:0", 4n], // at the stable offset, records past it: held
    ["user:1", 2n], // behind the stable offset: lag, not held (yet)
    ["user:2", 9n], // stable offset at the end: nothing held
  ]);
  // user:3 is not this member's.
  assert.deepEqual(heldOf(at({ 0: 4n, 1: 4n, 2: 9n, 3: 1n }), at({ 0: 7n, 1: 7n, 2: 9n, 3: 5n }), committed), [
    { topic: "user", partition: 0, stable: 4n, end: 7n },
  ]);
});
