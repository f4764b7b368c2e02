import type { FetchedPartition } from "./aborted-transactions.ts";

// On a topic with message.timestamp.type=LogAppendTime the broker stamps each record batch with
// the time it appended it (the batch's max timestamp, and bit 3 of its attributes) and leaves the
// producer's record times inside as they were: every record's time is the batch's. The client
// (@platformatic/kafka 2.12.1) ignores the bit and reports the producer's times, so the clock-skew
// guard judged events by a time the topic was set up to replace.

/** Bit 3 of a record batch's attributes: its timestamps are the broker's (LogAppendTime). */
export const LOG_APPEND_TIME = 1 << 3;

/** Gives every record of a LogAppendTime batch of a partition's part of a fetch the batch's time, in place. */
export function stampLogAppendTime(partition: FetchedPartition): void {
  for (const batch of partition.records ?? []) {
    if (!(batch.attributes & LOG_APPEND_TIME)) continue;
    batch.firstTimestamp = batch.maxTimestamp;
    for (const record of batch.records) record.timestampDelta = 0n;
  }
}
