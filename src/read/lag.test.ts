import assert from "node:assert/strict";
import { test } from "node:test";
import { FetchIsolationLevels, ResponseError } from "@platformatic/kafka";
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
    metadata: async () => ({
      topics: new Map([["user", { id: "u", partitionsCount: 1, partitions: [{ leader: 1 }] }]]),
    }),
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

/**
 * A cluster whose metadata names each partition's leader (-1: none), as the client answers: a
 * metadata request for a topic with a partition without a leader fails whole (its answer in the
 * error), and so does `listOffsets`, which asks for its topics' metadata first, and fails whole
 * when a leader of any partition asked about is down.
 */
function cluster(leaders: Record<string, number[]>, down: Set<number>) {
  const calls: string[][] = [];
  const metadata = async ({ topics }: { topics: string[] }) => {
    const raw = topics.map((name) => ({
      name,
      topicId: `id-${name}`,
      partitions: (leaders[name] ?? []).map((leader, partitionIndex) => ({
        errorCode: leader < 0 ? 5 : 0,
        partitionIndex,
        leaderId: leader,
      })),
    }));
    const errors: Record<string, [number, null]> = {};
    raw.forEach((t, i) => {
      t.partitions.forEach((p, j) => {
        if (p.errorCode !== 0) errors[`/topics/${i}/partitions/${j}`] = [p.errorCode, null];
      });
    });
    if (Object.keys(errors).length > 0) throw new ResponseError(3, 12, errors, { topics: raw });
    const partitions = (name: string) => (leaders[name] ?? []).map((leader) => ({ leader }));
    return {
      topics: new Map(
        topics.map((name) => [
          name,
          { id: `id-${name}`, partitionsCount: partitions(name).length, partitions: partitions(name) },
        ]),
      ),
    };
  };
  const admin = {
    metadata,
    listOffsets: async (options: {
      topics: { name: string; partitions: { partitionIndex: number }[] }[];
      isolationLevel?: number;
    }) => {
      calls.push(
        options.topics.flatMap(({ name, partitions }) => partitions.map((p) => `${name}:${p.partitionIndex}`)),
      );
      await metadata({ topics: options.topics.map(({ name }) => name) });
      for (const { name, partitions } of options.topics) {
        for (const { partitionIndex } of partitions) {
          const leader = leaders[name]?.[partitionIndex] ?? -1;
          if (down.has(leader)) throw new Error(`Listing offsets failed (broker ${leader})`);
        }
      }
      // READ_COMMITTED: 10, READ_UNCOMMITTED: 12 (an open transaction of two records).
      const offset = options.isolationLevel === FetchIsolationLevels.READ_COMMITTED ? 10n : 12n;
      return options.topics.map(({ name, partitions }) => ({
        name,
        partitions: partitions.map(({ partitionIndex }) => ({ partitionIndex, offset })),
      }));
    },
  };
  return { admin, calls };
}

test("one leader down: the partitions of the others are still read, its own are unread, the counts come from the metadata", async () => {
  const { admin, calls } = cluster({ user: [1, 2, 1, 2], order: [2, 1] }, new Set([2]));
  const committed = new Map([
    ["user:0", 4n],
    ["user:1", 4n],
    ["user:2", 10n],
    ["order:1", 9n],
  ]);
  const report = await readLag(admin as never, ["user", "order"], committed);
  // user:3 and order:0 are not this member's: -1 whether their leader answered or not.
  assert.deepEqual(
    report.lag,
    new Map([
      ["user", [6n, undefined, 0n, -1n]],
      ["order", [-1n, 1n]],
    ]),
  );
  assert.deepEqual([...report.unread].sort(), ["order:0", "user:1", "user:3"]);
  assert.deepEqual(
    report.failures.map((e) => (e as Error).message),
    ["Listing offsets failed (broker 2)"],
  );
  assert.deepEqual(report.held, [{ topic: "user", partition: 2, stable: 10n, end: 12n }]);
  // Each leader was asked for its own partitions, each isolation level once.
  assert.deepEqual(
    calls.map((c) => c.join(",")).sort(),
    ["user:0,user:2,order:1", "user:0,user:2,order:1", "user:1,user:3,order:0", "user:1,user:3,order:0"].sort(),
  );
});

test("a topic with partitions without a leader (just added) is counted but not asked about; the others are read", async () => {
  const { admin, calls } = cluster({ user: [1, 1, -1, -1], order: [1] }, new Set());
  const report = await readLag(
    admin as never,
    ["user", "order"],
    new Map([
      ["user:0", 3n],
      ["order:0", 4n],
    ]),
  );
  assert.deepEqual(
    report.lag,
    new Map([
      ["user", [undefined, -1n, -1n, -1n]],
      ["order", [6n]],
    ]),
  );
  assert.deepEqual(
    report.ids,
    new Map([
      ["user", "id-user"],
      ["order", "id-order"],
    ]),
  );
  assert.deepEqual([...report.unread].sort(), ["user:0", "user:1", "user:2", "user:3"]);
  assert.deepEqual(report.failures, []);
  assert.deepEqual(calls, [["order:0"], ["order:0"]]);
});

test("no leader answering fails the read, as one call did: the next turn tries again", async () => {
  const { admin } = cluster({ user: [1, 2], order: [2] }, new Set([1, 2]));
  await assert.rejects(readLag(admin as never, ["user", "order"], new Map()), /Listing offsets failed/);
});

test("a metadata request that fails for other than its partitions fails the read", async () => {
  const admin = {
    metadata: async () => {
      throw new ResponseError(3, 12, { "/topics/0": [3, null] }, { topics: [] });
    },
  };
  await assert.rejects(readLag(admin as never, ["user"], new Map()), ResponseError);
});

test("a partition of this member's that the answers leave out has no figure; one not its own is -1", () => {
  const ends = [{ name: "user", partitions: [{ partitionIndex: 0, offset: 5n }] }];
  const committed = new Map([
    ["user:0", 5n],
    ["user:1", 2n],
  ]);
  assert.deepEqual(lagOf(ends, committed, new Map([["user", 3]])), new Map([["user", [0n, undefined, -1n]]]));
});
