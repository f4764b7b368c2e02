// What the batches parsed in one turn of the event loop may make together. The client parses a
// fetch response synchronously, so one turn is one response; the counts go back to zero at the
// next microtask. batch-framing.ts stops parsing a partition's further batches once the response
// is spent; record-headers.ts leaves unmade the headers past it.
//
// A partition's first batch in a response may go on to twice the budget. The broker lists a
// response's partitions in the same order at every fetch: were the budget the same for all, one
// partition flooded with compressed batches would spend it at every fetch, and the partitions
// after it would not be read until the flood was over. With the second half kept for first
// batches, every partition moves at least one batch a fetch while the first half lasts for the
// flood. A response's worst case is twice the budget, plus one batch.
//
// A first batch that begins under the budget makes headers only up to it, not to twice it: a
// batch's headers are counted as it is read, so a flooded partition's first batch of 100 records
// of 1,000 headers each spent the second half too, at every fetch, and the partitions after it
// waited for the whole flood. Its records past the budget have their headers left unread.
// Records are counted the same way (takeRecords): a batch can't be read in part, so one begun
// under the budget counts only up to it, and a first batch begun past it must fit in the second half.

/** The most one response's batches may decompress to together (32 MiB per batch, twice over). */
export const MAX_DECOMPRESSED_PER_FETCH = 64 * 1024 * 1024;
/**
 * The most record headers one response is read with. The client makes three objects of each
 * (about 250 bytes of heap for a header of four bytes on the wire): 4,000,000 empty ones, a few
 * KB of gzip, ran the heap out.
 */
export const MAX_HEADERS_PER_FETCH = 50_000;
/**
 * The most records one response is read with. The client makes several objects of each record
 * (its record, the message it pushes, the message the service keeps: about a kilobyte of heap),
 * and a compressed batch packs 100,000 records of a few bytes each into 80 KB: a few such batches
 * in one response would run the service's 256 MB heap out, at every restart.
 */
export const MAX_RECORDS_PER_FETCH = 25_000;

const thisTurn = {
  decompressed: 0,
  headers: 0,
  records: 0,
  counting: false,
  firstOfPartition: false,
  /** Whether the batch being parsed began with the headers' budget spent. */
  beganPastHeaders: false,
};

/** This turn's counts, to read and add to. */
export function counted(): { decompressed: number; headers: number; records: number } {
  if (!thisTurn.counting) {
    thisTurn.counting = true;
    queueMicrotask(() => {
      thisTurn.decompressed = 0;
      thisTurn.headers = 0;
      thisTurn.records = 0;
      thisTurn.counting = false;
    });
  }
  return thisTurn;
}

/** Says whether the batch about to be parsed is its partition's first in this response. */
export function startingBatch(firstOfPartition: boolean): void {
  counted();
  thisTurn.firstOfPartition = firstOfPartition;
  thisTurn.beganPastHeaders = thisTurn.headers >= MAX_HEADERS_PER_FETCH;
}

/** How many times the budget the batch being parsed may reach. */
const allowance = () => (thisTurn.firstOfPartition ? 2 : 1);

/** Whether this turn's batches have used up what the batch being parsed may reach: the partition's further batches wait. */
export const spent = () =>
  thisTurn.decompressed >= allowance() * MAX_DECOMPRESSED_PER_FETCH ||
  thisTurn.headers >= allowance() * MAX_HEADERS_PER_FETCH ||
  thisTurn.records >= allowance() * MAX_RECORDS_PER_FETCH;

/**
 * Counts the records of a batch about to be read whole; false when it must wait instead, as a
 * spent response's batches do. A batch begun in the first half is read, but counts only up to the
 * first half: one batch may hold four times the budget (a compressed one up to MAX_MARKED_RECORDS,
 * 100,000), and counted in full, a flooded partition's first batch spent the second half too, at
 * every fetch. A first batch begun in the second half is read only if it fits in it. A response's
 * worst case stays twice the budget, plus one batch.
 */
export function takeRecords(records: number): boolean {
  const turn = counted();
  if (turn.records < MAX_RECORDS_PER_FETCH) {
    turn.records = Math.min(turn.records + records, MAX_RECORDS_PER_FETCH);
    return true;
  }
  if (turn.records + records > allowance() * MAX_RECORDS_PER_FETCH) return false;
  turn.records += records;
  return true;
}

let firstBatchesHeldBack = 0;

/** Notes that a partition's first batch in a response was held back: the response was spent on other partitions. */
export function heldBack(firstOfPartition: boolean): void {
  if (firstOfPartition) firstBatchesHeldBack++;
}

/** How many partitions' first batches have been held back, ever: fetch-rotation.ts lets them go first. */
export const firstBatchesHeldBackSoFar = () => firstBatchesHeldBack;

/** How many more headers the batch being parsed may make: to twice the budget only for a first batch begun past it. */
export const headerRoom = () =>
  (thisTurn.beganPastHeaders ? allowance() : 1) * MAX_HEADERS_PER_FETCH - counted().headers;
