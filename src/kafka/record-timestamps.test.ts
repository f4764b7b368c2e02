import assert from "node:assert/strict";
import { test } from "node:test";
import { createRecordsBatch, Reader, readRecordsBatch } from "@platformatic/kafka";
import { installVarlongWriter, varlongBytes } from "./record-timestamps.ts";

const INT64_MAX = 2n ** 63n - 1n;
const day = 86_400_000n;

test("varlongBytes writes Kafka's zig-zag varlong, read back as written, at every size", () => {
  assert.deepEqual([...varlongBytes(0n)], [0]);
  assert.deepEqual([...varlongBytes(-1n)], [1]);
  assert.deepEqual([...varlongBytes(1n)], [2]);
  assert.deepEqual([...varlongBytes(INT64_MAX)], [0xfe, ...Array(8).fill(0xff), 1]);
  for (const v of [
    2n ** 31n,
    -(2n ** 31n),
    26n * day,
    -30n * day,
    2n ** 32n + 5n,
    400n * day,
    INT64_MAX,
    -INT64_MAX - 1n,
  ]) {
    assert.equal(Reader.from(varlongBytes(v)).readVarInt64(), v, String(v));
  }
});

test("a record batch of times further apart than 2^31 ms keeps each record's time", () => {
  installVarlongWriter();
  const now = 1_796_666_961_860n;
  const times = [now - 60n * day, now - 34n * day, now - 30n * day, now - 90n * day, now];
  const batch = createRecordsBatch(
    times.map((timestamp, i) => ({
      topic: "t",
      partition: 0,
      key: Buffer.from(`k${i}`),
      value: Buffer.from("v"),
      timestamp,
    })) as never,
  );
  const read = readRecordsBatch(Reader.from(batch.buffer));
  assert.deepEqual(
    read.records.map((r) => read.firstTimestamp + r.timestampDelta),
    times,
  );
});
