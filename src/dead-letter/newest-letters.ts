import type { Config } from "../config/index.ts";
import { BadEventReasons } from "../errors.ts";
import type { DeadLetterEntry } from "./letter.ts";
import { deadLetters } from "./topic-reader.ts";
import { capUtf8, utf8Boundary } from "./utf8-cut.ts";

// What `dlq list` keeps of the letters it reads: the newest, each cut to what a list shows, within
// a bound of letters and of bytes however many the topic holds and whatever their writers put in them.

/**
 * The most a listed letter keeps of each dlq.* text (the service writes a reason of at most 512
 * bytes) and of its key (an entity id is 24 characters). A letter from another writer may carry
 * a megabyte in each: kept whole, a thousand of them ran `dlq list` out of heap, and would print
 * a megabyte a line.
 */
export const LISTED_TEXT_BYTES = 512;
export const LISTED_KEY_BYTES = 1024;

const listedText = (text: string | null) => (text === null ? null : capUtf8(text, LISTED_TEXT_BYTES));

/**
 * A letter without its value and original headers, for a list of them all, its texts capped (an
 * ellipsis says where) and its key too, between two characters if it is text (keyTruncated says
 * it: the key's bytes stay a prefix of the original's, base64 or not). The key is copied: the
 * client's buffers are views of whole fetch responses, which a view kept would keep.
 */
export const listed = (e: DeadLetterEntry): DeadLetterEntry => ({
  ...e,
  failedAt: listedText(e.failedAt),
  sourceTopic: listedText(e.sourceTopic),
  eventType: listedText(e.eventType),
  code: listedText(e.code),
  reason: listedText(e.reason),
  // Only a key too long is cut: a whole key ending in what looks like a character's first bytes
  // is binary, and must stay whole, else it would list as another key, not said to be cut.
  key:
    e.key === null
      ? null
      : Buffer.from(
          e.key.length <= LISTED_KEY_BYTES ? e.key : e.key.subarray(0, utf8Boundary(e.key, LISTED_KEY_BYTES)),
        ),
  keyTruncated: e.keyTruncated || (e.key !== null && e.key.length > LISTED_KEY_BYTES),
  value: null,
  originalHeaders: [],
});

/** The newest `limit` letters, in the order they failed, and how many the topic holds by code: for `list`. */
export async function readDeadLetters(config: Config, limit: number): Promise<NewestLetters> {
  const newest = new NewestLetters(limit);
  for await (const e of deadLetters(config)) newest.add(e);
  return newest;
}

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(BadEventReasons));

const byFailure = (a: DeadLetterEntry, b: DeadLetterEntry) =>
  (a.failedAt ?? "").localeCompare(b.failedAt ?? "") ||
  a.dlqPartition - b.dlqPartition ||
  (a.dlqOffset < b.dlqOffset ? -1 : a.dlqOffset > b.dlqOffset ? 1 : 0);

/** Letters in the order they failed (the topic's partitions interleaved by time). */
export function sortLetters(letters: DeadLetterEntry[]): DeadLetterEntry[] {
  return letters.sort(byFailure);
}

/**
 * The most bytes of texts and keys a list keeps. Each letter's are capped (LISTED_TEXT_BYTES,
 * LISTED_KEY_BYTES), but another writer's letters at those caps take about 6 KB each (a cut
 * text is held as two bytes a character): a --limit of 20,000 of them ran the 256 MB heap out. The service's own letters take a few hundred
 * bytes, so 100,000 of them fit.
 */
export const LIST_BYTES = 64 * 1024 * 1024;

/**
 * The bytes a text takes in the heap: one a character, or two when one of them is past Latin-1
 * (a cut text ends in an ellipsis, so is held so).
 */
function textBytes(text: string | null): number {
  if (text === null) return 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return 2 * text.length;
  return text.length;
}

/** The bytes a listed letter keeps in its texts and key. */
const listedBytes = (e: DeadLetterEntry) =>
  (e.key?.length ?? 0) +
  textBytes(e.failedAt) +
  textBytes(e.sourceTopic) +
  textBytes(e.eventType) +
  textBytes(e.code) +
  textBytes(e.reason);

/**
 * The newest `limit` of the letters added (as `listed` keeps them), at most LIST_BYTES of them,
 * and a count of all of them by code: a topic of millions of letters is listed in memory for
 * `limit`, not for the topic, and whatever its letters hold.
 */
export class NewestLetters {
  readonly #limit: number;
  readonly #maxBytes: number;
  #kept: DeadLetterEntry[] = [];
  #bytes = 0;
  readonly byCode = new Map<string, number>();
  total = 0;

  constructor(limit: number, maxBytes = LIST_BYTES) {
    this.#limit = limit;
    this.#maxBytes = maxBytes;
  }

  add(e: DeadLetterEntry): void {
    this.total++;
    // A letter's code is whatever its writer put there: only the service's own are counted apart.
    const code = KNOWN_CODES.has(e.code ?? "") ? (e.code as string) : "other";
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    const kept = listed(e);
    this.#kept.push(kept);
    this.#bytes += listedBytes(kept);
    // Trimmed in bulk when twice the limit (or a quarter past the bytes): sorting then costs a log
    // factor per letter, not a pass.
    if (this.#kept.length >= 2 * this.#limit || this.#bytes >= this.#maxBytes + this.#maxBytes / 4) this.#trim();
  }

  /** Keeps the newest letters, at most `limit` and `maxBytes` of them (the newest one whatever its size). */
  #trim(): void {
    const sorted = sortLetters(this.#kept);
    let from = sorted.length;
    let bytes = 0;
    while (from > 0 && sorted.length - from < this.#limit) {
      const size = listedBytes(sorted[from - 1] as DeadLetterEntry);
      if (from < sorted.length && bytes + size > this.#maxBytes) break;
      bytes += size;
      from--;
    }
    this.#kept = sorted.slice(from);
    this.#bytes = bytes;
  }

  /** The newest `limit` (fewer when they hold more than LIST_BYTES), oldest first. */
  letters(): DeadLetterEntry[] {
    this.#trim();
    return this.#kept;
  }

  /** Whether LIST_BYTES left out letters `limit` would have listed. */
  get cutForMemory(): boolean {
    return this.letters().length < Math.min(this.#limit, this.total);
  }

  /** "the newest 1000 of 130000 (bad_field 129000, not_json 1000)", or "" when all are kept. */
  summary(): string {
    const shown = this.letters().length;
    if (shown === this.total) return "";
    const codes = [...this.byCode].map(([code, n]) => `${code} ${n}`).join(", ");
    return `the newest ${shown} of ${this.total} (${codes})`;
  }
}
