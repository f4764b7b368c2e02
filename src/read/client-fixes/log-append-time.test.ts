import assert from "node:assert/strict";
import { test } from "node:test";
import type { FetchedPartition } from "./aborted-transactions.ts";
import { LOG_APPEND_TIME, stampLogAppendTime } from "./log-append-time.ts";

const batch = (attributes: number, firstTimestamp: bigint, maxTimestamp: bigint, deltas: bigint[]) => ({
  firstOffset: 0n,
  lastOffsetDelta: deltas.length - 1,
  producerId: -1n,
  attributes,
  firstTimestamp,
  maxTimestamp,
  records: deltas.map((timestampDelta) => ({ timestampDelta }) as never),
});

/** Each record's time as the client computes it: the batch's first time plus the record's delta. */
const times = (p: FetchedPartition) =>
  (p.records ?? []).map((b) =>
    b.records.map((r) => b.firstTimestamp + (r as { timestampDelta: bigint }).timestampDelta),
  );

test("a LogAppendTime batch's records all take the broker's time; a CreateTime batch keeps its producer's", () => {
  const partition: FetchedPartition = {
    records: [batch(LOG_APPEND_TIME, -1n, 1_764_950_400_000n, [0n, 0n]), batch(0, 1000n, 1010n, [0n, 10n])],
  };
  stampLogAppendTime(partition);
  assert.deepEqual(times(partition), [
    [1_764_950_400_000n, 1_764_950_400_000n],
    [1000n, 1010n],
  ]);
});
