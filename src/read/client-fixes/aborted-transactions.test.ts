import assert from "node:assert/strict";
import { test } from "node:test";
import { IS_CONTROL, IS_TRANSACTIONAL } from "@platformatic/kafka";
import fc from "fast-check";
import { dropAbortedBatches, type FetchedPartition } from "./aborted-transactions.ts";

// What a partition's part of a read-committed fetch holds: record batches in offset order, and the
// aborted transactions they overlap. Records are stood for by their offsets.

type Batch = NonNullable<FetchedPartition["records"]>[number];

const data = (producerId: bigint, firstOffset: bigint, count: number, transactional = true): Batch => ({
  producerId,
  firstOffset,
  lastOffsetDelta: count - 1,
  attributes: transactional ? IS_TRANSACTIONAL : 0,
  firstTimestamp: 0n,
  maxTimestamp: 0n,
  records: Array.from({ length: count }, (_, i) => ({ offsetDelta: i, key: null }) as never),
});

const marker = (producerId: bigint, offset: bigint, type: "abort" | "commit"): Batch => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type === "abort" ? 0 : 1, 2);
  return {
    producerId,
    firstOffset: offset,
    lastOffsetDelta: 0,
    attributes: IS_TRANSACTIONAL | IS_CONTROL,
    firstTimestamp: 0n,
    maxTimestamp: 0n,
    records: [{ key } as never],
  };
};

/** The offsets of the data records left after the filter. */
function kept(partition: FetchedPartition): number[] {
  dropAbortedBatches(partition);
  return (partition.records ?? []).flatMap((b) =>
    b.attributes & IS_CONTROL ? [] : b.records.map((_, i) => Number(b.firstOffset) + i),
  );
}

test("two aborted transactions of one producer in one fetch are both dropped; its committed one is kept", () => {
  const partition: FetchedPartition = {
    abortedTransactions: [
      { producerId: 7n, firstOffset: 0n },
      { producerId: 7n, firstOffset: 4n },
    ],
    records: [
      data(7n, 0n, 3),
      marker(7n, 3n, "abort"),
      data(7n, 4n, 3),
      marker(7n, 7n, "abort"),
      data(7n, 8n, 3),
      marker(7n, 11n, "commit"),
    ],
  };
  assert.deepEqual(kept(partition), [8, 9, 10]);
});

test("an aborted transaction whose marker is in a later fetch is dropped in this one, and in the next up to its marker", () => {
  const first: FetchedPartition = {
    abortedTransactions: [{ producerId: 3n, firstOffset: 10n }],
    records: [data(5n, 8n, 2, false), data(3n, 10n, 500), data(3n, 510n, 500)],
  };
  assert.deepEqual(kept(first), [8, 9]);
  // The batches stay, empty, so the stream's next fetch starts after them.
  assert.equal(first.records?.at(-1)?.firstOffset, 510n);
  const next: FetchedPartition = {
    abortedTransactions: [{ producerId: 3n, firstOffset: 10n }],
    records: [data(3n, 1010n, 200), marker(3n, 1210n, "abort"), data(3n, 1211n, 2)],
  };
  assert.deepEqual(kept(next), [1211, 1212]);
});

test("other producers' batches, interleaved with an aborted transaction, and non-transactional ones are kept", () => {
  const partition: FetchedPartition = {
    abortedTransactions: [{ producerId: 1n, firstOffset: 0n }],
    records: [
      data(1n, 0n, 2),
      data(2n, 2n, 2),
      data(9n, 4n, 1, false),
      data(1n, 5n, 1),
      marker(2n, 6n, "commit"),
      marker(1n, 7n, "abort"),
      data(1n, 8n, 1, false),
    ],
  };
  assert.deepEqual(kept(partition), [2, 3, 4, 8]);
});

test("a fetch without aborted transactions is left as it is", () => {
  const partition: FetchedPartition = {
    abortedTransactions: null,
    records: [data(1n, 0n, 3), marker(1n, 3n, "abort")],
  };
  assert.deepEqual(kept(partition), [0, 1, 2]);
});

test("whatever the transactions and how fetches cut them, exactly the committed records are kept", () => {
  // A partition's log: transactions of a few producers, interleaved, each committed or aborted.
  const log = fc.array(
    fc.record({
      producer: fc.integer({ min: 1, max: 3 }),
      records: fc.integer({ min: 1, max: 4 }),
      abort: fc.boolean(),
    }),
    {
      maxLength: 12,
    },
  );
  fc.assert(
    fc.property(log, fc.integer({ min: 1, max: 8 }), (transactions, fetchSize) => {
      // Lay the transactions out one after the other (a producer has one open at a time).
      const batches: Batch[] = [];
      const aborted: { producerId: bigint; firstOffset: bigint }[] = [];
      const committed: number[] = [];
      let offset = 0n;
      for (const t of transactions) {
        const producerId = BigInt(t.producer);
        if (t.abort) aborted.push({ producerId, firstOffset: offset });
        batches.push(data(producerId, offset, t.records));
        if (!t.abort) for (let i = 0; i < t.records; i++) committed.push(Number(offset) + i);
        offset += BigInt(t.records);
        batches.push(marker(producerId, offset, t.abort ? "abort" : "commit"));
        offset += 1n;
      }
      // Fetches of `fetchSize` batches each; the broker lists the aborted transactions each overlaps.
      const seen: number[] = [];
      for (let i = 0; i < batches.length; i += fetchSize) {
        const part = batches.slice(i, i + fetchSize).map((b) => ({ ...b, records: [...b.records] }));
        const from = part[0]?.firstOffset ?? 0n;
        const to = part.at(-1)?.firstOffset ?? 0n;
        const overlapping = aborted.filter((a) => {
          const end =
            batches.find(
              (b) => b.attributes & IS_CONTROL && b.producerId === a.producerId && b.firstOffset > a.firstOffset,
            )?.firstOffset ?? 0n;
          return a.firstOffset <= to && end >= from;
        });
        seen.push(...kept({ abortedTransactions: overlapping, records: part }));
      }
      assert.deepEqual(seen, committed);
    }),
  );
});
