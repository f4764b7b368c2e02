// What the batches parsed in one turn of the event loop may make together. The client parses a
// fetch response synchronously, so one turn is one response; the counts go back to zero at the
// next microtask. batch-framing.ts stops parsing a response's further batches once it is spent;
// record-headers.ts leaves unmade the headers past it.

/** The most one response's batches may decompress to together (32 MiB per batch, twice over). */
export const MAX_DECOMPRESSED_PER_FETCH = 64 * 1024 * 1024;
/**
 * The most record headers one response is read with. The client makes three objects of each
 * (about 250 bytes of heap for a header of four bytes on the wire): 4,000,000 empty ones, a few
 * KB of gzip, ran the heap out.
 */
export const MAX_HEADERS_PER_FETCH = 50_000;

const thisTurn = { decompressed: 0, headers: 0, counting: false };

/** This turn's counts, to read and add to. */
export function counted(): { decompressed: number; headers: number } {
  if (!thisTurn.counting) {
    thisTurn.counting = true;
    queueMicrotask(() => {
      thisTurn.decompressed = 0;
      thisTurn.headers = 0;
      thisTurn.counting = false;
    });
  }
  return thisTurn;
}

/** Whether this turn's batches have used up what a response may make: its remaining batches wait. */
export const spent = () =>
  thisTurn.decompressed >= MAX_DECOMPRESSED_PER_FETCH || thisTurn.headers >= MAX_HEADERS_PER_FETCH;
