import { randomBytes } from "node:crypto";
import { createRecord, type MessageRecord } from "@platformatic/kafka";

// The records that stand for a record batch that can't be read (batch-framing.ts), or whose
// records lie outside its offsets (checkRecordOffsets, run by corrected-fetch.ts): one marker per
// record the batch holds, the last at the batch's last offset, each with one header of a
// per-process random key that says why. Decoding makes each a dead letter `unreadable_batch`, so
// the batch's offsets end like any bad event's and the partition moves on.

/**
 * The most records a batch is read with: one claiming more is read as this many markers (the
 * client makes an object of every record, and a few bytes each, packed by the thousand, would
 * make gigabytes of them from a batch well under the byte bound; uncompressed, hundreds of MB
 * from one of 4 MB).
 */
export const MAX_MARKED_RECORDS = 100_000;
/** A header key no producer can know: it marks the records that stand for an unreadable batch. */
const MARKER_KEY = Buffer.from(`analytics-service.unreadable-batch.${randomBytes(12).toString("hex")}`);

/**
 * Whether a header's name is the markers' key: the service's own, never a record's header, so a
 * letter never carries it on (in the dead-letter topic it told every reader the key, with which
 * any producer could make a valid event a dead letter of a reason of its own writing).
 */
export const isMarkerKey = (name: Buffer): boolean => name.equals(MARKER_KEY);

/** Why the batch a marker stands for could not be read, or undefined when `headers` are not a marker's. */
export function unreadableBatchReason(
  headers: readonly (readonly [unknown, unknown])[] | undefined,
): string | undefined {
  if (headers === undefined || headers.length !== 1) return undefined;
  const [key, value] = headers[0] as readonly [unknown, unknown];
  return Buffer.isBuffer(key) && Buffer.isBuffer(value) && key.equals(MARKER_KEY) ? value.toString() : undefined;
}

/** A marker as the client parses records: no key, no value, one header holding `reason`. */
function markerRecord(offsetDelta: number, reason: Buffer): Buffer {
  const message = { value: undefined, headers: new Map([[MARKER_KEY, reason]]), topic: "", timestamp: 0n };
  return createRecord(message as unknown as MessageRecord, offsetDelta, 0n).buffer;
}

/**
 * What every marker of a batch says, and where the markers of `count` records go: the last at
 * the batch's last offset, so committing them moves past all of it.
 */
function markersOf(batch: { firstOffset: bigint; lastOffsetDelta: number; count: number; why: string }) {
  const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
  return {
    reason: Buffer.from(`the record batch at offsets ${batch.firstOffset}–${last} can't be read: ${batch.why}`),
    offsetDeltas: Array.from({ length: batch.count }, (_, i) => batch.lastOffsetDelta - (batch.count - 1 - i)),
  };
}

/**
 * What the client reads in place of a batch that can't be read: one marker per record the batch
 * says it holds, the last at the batch's last offset, so committing them moves past all of it.
 * Throws (the fetch fails, as before) when the header is not a sane one to stand in for.
 */
export function markersFor(records: number, lastOffsetDelta: number, firstOffset: bigint, why: string): Buffer {
  if (records < 1 || records > MAX_MARKED_RECORDS || records > lastOffsetDelta + 1) {
    throw new UnreadableBatchError(
      `a record batch at offset ${firstOffset} can't be read (${why}), and its header claims ${records} records, which can't be stood in for`,
    );
  }
  const { reason, offsetDeltas } = markersOf({ firstOffset, lastOffsetDelta, count: records, why });
  return Buffer.concat(offsetDeltas.map((delta) => markerRecord(delta, reason)));
}

/** A batch that can be neither read nor stood in for. */
export class UnreadableBatchError extends Error {
  override name = "UnreadableBatchError";
}

/** Whether the header array about to be read (its length read, 1) is a marker's. */
export function isMarkerHeader(r: {
  position: number;
  readVarInt(): number;
  buffer: { slice(a: number, b: number): Buffer };
}) {
  const at = r.position;
  const keyLength = r.readVarInt();
  const marker =
    keyLength === MARKER_KEY.length && r.buffer.slice(r.position, r.position + keyLength).equals(MARKER_KEY);
  r.position = at;
  return marker;
}

/** What the offsets check reads and rewrites of a batch. */
export interface CheckedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  records: { offsetDelta: number; [field: string]: unknown }[];
}

/**
 * Every record of a batch must lie within the batch's own offsets, in order: the offsets
 * committed after it must never pass the batch's end. A batch whose records do not is replaced,
 * in place, by markers (decoding was not Kafka's, and what it read can't be trusted).
 */
export function checkRecordOffsets(batch: CheckedBatch): void {
  let previous = -1;
  let sound = batch.records.length <= batch.lastOffsetDelta + 1;
  for (const r of batch.records) {
    if (!sound) break;
    sound = Number.isInteger(r.offsetDelta) && r.offsetDelta > previous && r.offsetDelta <= batch.lastOffsetDelta;
    previous = r.offsetDelta;
  }
  if (sound) return;
  const { reason, offsetDeltas } = markersOf({
    ...batch,
    count: Math.min(batch.records.length, batch.lastOffsetDelta + 1),
    why: "its records lie outside its offsets",
  });
  batch.records = offsetDeltas.map((offsetDelta) => ({
    length: 0,
    attributes: 0,
    timestampDelta: 0n,
    offsetDelta,
    key: null,
    value: null,
    headers: [[MARKER_KEY, reason]],
  }));
}
