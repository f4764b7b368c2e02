import { IS_CONTROL, IS_TRANSACTIONAL, type RecordsBatch } from "@platformatic/kafka";

// Records of aborted transactions must never be applied. The consumer reads committed data only
// (isolation level READ_COMMITTED): the broker stops at the last stable offset and lists, with
// each partition's records, the aborted transactions they overlap; the client must drop those
// transactions' batches. @platformatic/kafka 2.12.1 keeps one aborted range per producer, so of
// two aborted transactions of one producer in a fetch it drops only the last, and a transaction
// whose abort marker falls in a later fetch it does not drop at all: their events reached MySQL.
// This filter runs after the client's own, on what it left, as the Java client does it.

/** What the filter reads of a partition's part of a fetch response. */
export interface FetchedPartition {
  abortedTransactions?: readonly { producerId: bigint; firstOffset: bigint }[] | null;
  records?:
    | Pick<
        RecordsBatch,
        "firstOffset" | "lastOffsetDelta" | "producerId" | "attributes" | "records" | "firstTimestamp" | "maxTimestamp"
      >[]
    | null;
}

export interface FetchedResponse {
  responses: readonly { partitions: readonly FetchedPartition[] }[];
}

/** ControlRecordType of a control batch's record key: version (int16), then type (int16). */
const ABORT = 0;

/**
 * Empties the records of every batch of an aborted transaction in a partition's part of a fetch,
 * in place. Batches are kept, empty, so that the stream still moves its next fetch offset past
 * them. A batch is aborted when it is transactional and its producer has an aborted transaction
 * that began at or before the batch's end and whose abort marker has not come yet (the broker
 * lists only aborted transactions).
 */
export function dropAbortedBatches(partition: FetchedPartition): void {
  const aborted = [...(partition.abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  if (aborted.length === 0 || !partition.records) return;
  const open = new Set<bigint>();
  let next = 0;
  for (const batch of partition.records) {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    for (; next < aborted.length; next++) {
      const transaction = aborted[next] as { producerId: bigint; firstOffset: bigint };
      if (transaction.firstOffset > last) break;
      open.add(transaction.producerId);
    }
    if (batch.attributes & IS_CONTROL) {
      if (batch.records[0]?.key?.readInt16BE(2) === ABORT) open.delete(batch.producerId);
    } else if (batch.attributes & IS_TRANSACTIONAL && open.has(batch.producerId)) {
      batch.records = [];
    }
  }
}
