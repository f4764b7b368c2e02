import { randomBytes } from "node:crypto";
import { MAX_HEADERS_PER_RECORD, type RecordHeaders, recordBytes } from "../../kafka/records.ts";
import { counted, headerRoom } from "./fetch-budget.ts";

// How many of a record's headers are made into objects. The service applies an event from its key
// and value; headers only travel on into its dead letter. A producer may put hundreds of thousands
// of tiny headers on a record (four bytes each on the wire, about 250 bytes of heap each once
// parsed): a few such records, held between the reader and the batch in hand, ran the heap out,
// and again at every restart. Past either bound below, a record's headers are skipped unmade and
// its event is applied as any other; its dead letter, if it gets one, says how many were left
// unread (dlq.headers.unread).

/**
 * What one parsed header costs the heap, at least: two Buffer views, the pair the client lists
 * them in and its map entry. A consumed message is counted with this much a header against the
 * reader's and the batches' byte bounds (read/source-stream.ts).
 */
export const HEADER_HEAP_BYTES = 256;

/** A header key no producer can know: it stands for the headers of a record that were left unread. */
const UNREAD_KEY = Buffer.from(`analytics-service.headers-unread.${randomBytes(12).toString("hex")}`);

type HeaderPairs = readonly (readonly [unknown, unknown])[];

/**
 * How many headers the record had, and how many bytes they took, when `headers` stand for headers
 * left unread; else undefined. Unread, those bytes still lie in the buffer its key and value are
 * views of (a compressed batch's, up to 32 MiB), which they keep alive as long as they are kept.
 */
export function unreadHeaders(headers: HeaderPairs | undefined): { count: number; bytes: number } | undefined {
  if (headers === undefined || headers.length !== 1) return undefined;
  const [key, value] = headers[0] as readonly [unknown, unknown];
  if (!Buffer.isBuffer(key) || !Buffer.isBuffer(value) || !key.equals(UNREAD_KEY)) return undefined;
  const [count, bytes] = value.toString().split(" ");
  return { count: Number(count), bytes: Number(bytes) };
}

/**
 * What a consumed record holds in memory, as the reader's and the batches' byte bounds count it:
 * its size in a record batch, each header it was read with at its cost in the heap, and the bytes
 * of the headers left unread, which its key and value (views of the buffer they lie in, a
 * compressed batch's of up to 32 MiB) keep alive.
 */
export function heldBytes(r: { key: Buffer | undefined; value: Buffer | undefined; headers: RecordHeaders }): number {
  return recordBytes(r) + r.headers.length * HEADER_HEAP_BYTES + (unreadHeaders(r.headers)?.bytes ?? 0);
}

/** How many headers the record had, when `headers` stand for headers left unread; else undefined. */
export const unreadHeaderCount = (headers: HeaderPairs | undefined): number | undefined =>
  unreadHeaders(headers)?.count;

/** The part of the client's Reader this replaces: it reads a record's headers, and nothing else. */
type HeaderReaderSelf = { position: number; readVarInt(): number; buffer: { slice(a: number, b: number): Buffer } };
export type HeaderArrayReader = {
  readVarIntArray(this: HeaderReaderSelf, ...args: unknown[]): unknown[];
};

/**
 * Makes the client read a record's headers only within MAX_HEADERS_PER_RECORD and what is left of
 * the fetch's MAX_HEADERS_PER_FETCH; otherwise they are skipped, and one header says how many.
 */
export function boundHeaderReads(
  reader: HeaderArrayReader,
  /** Whether the record's one header, about to be read, must be made whatever the budget says. */
  always: (r: HeaderReaderSelf) => boolean = () => false,
): void {
  const readVarIntArray = reader.readVarIntArray;
  reader.readVarIntArray = function (this: HeaderReaderSelf, ...args: unknown[]) {
    const at = this.position;
    const length = this.readVarInt();
    const turn = counted();
    if (length <= 0 || (length <= MAX_HEADERS_PER_RECORD && length <= headerRoom()) || (length === 1 && always(this))) {
      this.position = at;
      turn.headers += Math.max(0, length);
      return readVarIntArray.apply(this, args);
    }
    for (let i = 0; i < 2 * length; i++) {
      const bytes = this.readVarInt();
      if (bytes > 0) this.position += bytes;
    }
    turn.headers += 1;
    // The bytes skipped too: the record's key and value keep them alive (unreadHeaders).
    return [[UNREAD_KEY, Buffer.from(`${length} ${this.position - at}`)]];
  };
}
