import assert from "node:assert/strict";
import { test } from "node:test";
import { recordBytes } from "../dead-letter/publish.ts";
import { keptOf } from "./source-stream.ts";

// What the pipeline keeps of the client's message: the fields a batch, a decode and a letter read,
// no empty header map, and the record's size read once.

const delivered = (headers: Map<Buffer, Buffer>) => ({
  topic: "t.user",
  partition: 3,
  offset: 41n,
  timestamp: 1_700_000_000_000n,
  leaderEpoch: 7,
  key: Buffer.from("k"),
  value: Buffer.from('{"a":1}'),
  headers,
  headerEntries: [...headers],
  commit: () => undefined,
  metadata: { consumer: { groupId: "g" } },
});

test("a record without headers is kept without a header map; its size is the record's", () => {
  const kept = keptOf(delivered(new Map()));
  assert.deepEqual(Object.keys(kept).sort(), [
    "bytes",
    "headers",
    "key",
    "leaderEpoch",
    "offset",
    "partition",
    "timestamp",
    "topic",
    "value",
  ]);
  assert.equal(kept.headers, undefined);
  assert.equal(kept.offset, 41n);
  assert.equal(kept.bytes, recordBytes({ key: Buffer.from("k"), value: Buffer.from('{"a":1}') }));
});

test("a record's headers are kept, and counted in its size", () => {
  const headers = new Map([[Buffer.from("traceparent"), Buffer.from("00-abc-def-01")]]);
  const kept = keptOf(delivered(headers));
  assert.equal(kept.headers, headers);
  assert.equal(kept.bytes, recordBytes({ key: kept.key, value: kept.value, headers }));
  assert.ok(kept.bytes > keptOf(delivered(new Map())).bytes);
});
