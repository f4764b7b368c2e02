import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { recordBytes } from "../kafka/records.ts";
import { capturingLogger } from "../testing/support.ts";
import { HEADER_HEAP_BYTES } from "./client-fixes/record-headers.ts";
import { keptOf, SourceStream } from "./source-stream.ts";

// What the pipeline keeps of the client's message: the fields a batch, a decode and a letter read,
// no empty header map, and the record's size read once.

type Pairs = [Buffer | undefined, Buffer | undefined][];
const delivered = (entries: Pairs) => ({
  topic: "t.user",
  partition: 3,
  offset: 41n,
  timestamp: 1_700_000_000_000n,
  leaderEpoch: 7,
  key: Buffer.from("k"),
  value: Buffer.from('{"a":1}'),
  // The client's map keeps one header of a name; its list keeps them all.
  headers: new Map(entries),
  headerEntries: entries,
  commit: () => undefined,
  metadata: { consumer: { groupId: "g" } },
});

test("a record without headers is kept without a header map; its size is the record's", () => {
  const kept = keptOf(delivered([]));
  assert.deepEqual(Object.keys(kept).sort(), [
    "bytes",
    "headers",
    "headersUnread",
    "key",
    "leaderEpoch",
    "offset",
    "partition",
    "tenure",
    "timestamp",
    "topic",
    "value",
  ]);
  assert.equal(kept.headers, undefined);
  assert.equal(kept.offset, 41n);
  assert.equal(kept.bytes, recordBytes({ key: Buffer.from("k"), value: Buffer.from('{"a":1}') }));
});

test("a record's headers are kept in their order, a name given twice kept twice, each counted at its cost in the heap", () => {
  const empty = Buffer.alloc(0);
  const headers: Pairs = [
    [Buffer.from("traceparent"), Buffer.from("00-abc-def-01")],
    [empty, empty],
    [empty, empty],
    [undefined, undefined],
  ];
  const kept = keptOf(delivered(headers));
  assert.deepEqual(kept.headers, headers);
  assert.equal(kept.headersUnread, undefined);
  const wire = recordBytes({ key: kept.key, value: kept.value, headers });
  assert.equal(kept.bytes, wire + 4 * HEADER_HEAP_BYTES);
  assert.ok(kept.bytes > keptOf(delivered([])).bytes);
});

test("a dead stream's committed offsets are no longer this member's: the lag counts none of its partitions", async () => {
  const stream = Object.assign(new PassThrough({ objectMode: true }), {
    offsetsCommitted: new Map([["user:0", 5n]]),
  });
  const consumer = { consume: async () => stream };
  const source = new SourceStream(
    consumer as never,
    async () => ["user"],
    { autoOffsetReset: "earliest", batchMaxEvents: 10, batchMaxBytes: 1000 },
    capturingLogger().log,
  );
  await source.open();
  assert.deepEqual(source.committed(), new Map([["user:0", 5n]]));
  // The fetch failed: the stream is destroyed, and no longer hears of the group's rebalances;
  // the pipeline closes it once the batches in hand are done, which a MySQL outage can hold up.
  stream.destroy(new Error("fetch failed"));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(source.committed(), new Map());
});
