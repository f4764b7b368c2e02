import { getOrCreate } from "../collections.ts";
import { BadEventError, BadEventReasons } from "../errors.ts";

// JSON numbers a double can't hold: an integer past 2^53 (an int64 id from the source database)
// or a literal past the double range. JSON.parse rounds the first and makes Infinity of the
// second, which JSON.stringify writes as null; a JSON column keeps their text instead. Finding
// them costs nothing on the usual path: the JSON-column walk that bounds nesting looks at every
// value anyway, and only an event holding one is parsed again, noting their text.

/**
 * The text of each inexact number in a document, by the object or array holding it and its key
 * there (an index, for an array).
 */
export type NumberSources = WeakMap<object, Map<string, string>>;

/** Whether a parsed number may differ from its text: an integer past 2^53, or past the double range. */
export const inexact = (n: number) => !Number.isFinite(n) || (Number.isInteger(n) && !Number.isSafeInteger(n));

/** Thrown by the JSON-column walk, without the sources, when a value holds an inexact number. */
export class InexactNumberFound extends Error {}

/**
 * Inexact numbers an event may hold. Each noted costs a map entry, and the reparse a second tree,
 * so a value made of them could run the heap out (docs/decisions.md). No real document holds this
 * many int64 ids in its free-form fields.
 */
export const MAX_INEXACT_NUMBERS = 10_000;

/**
 * JSON.parse that also notes the source text of every inexact number (the reviver's
 * `context.source`). The reviver walks the tree recursively, as the plain parse does not: a
 * document nested thousands of levels deep (legal where the schema ignores a field) overflows the
 * stack here. Both are bad fields, named as such, never a crash and never rounded in silence.
 */
export function parseKeepingNumbers(text: string): { parsed: unknown; sources: NumberSources } {
  const sources: NumberSources = new WeakMap();
  let count = 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, function (this: object, key: string, value: unknown, context?: { source?: string }) {
      if (typeof value === "number" && inexact(value) && context?.source !== undefined) {
        if (++count > MAX_INEXACT_NUMBERS) throw new TooManyInexact();
        getOrCreate(sources, this, () => new Map<string, string>()).set(key, context.source);
      }
      return value;
    });
  } catch (err) {
    if (err instanceof TooManyInexact) {
      throw new BadEventError(
        BadEventReasons.BAD_FIELD,
        `value holds more than ${MAX_INEXACT_NUMBERS} numbers a double can't hold (integers past 2^53, literals past its range): they can't be kept as written`,
      );
    }
    if (err instanceof RangeError) {
      throw new BadEventError(
        BadEventReasons.BAD_FIELD,
        "value is nested too deep to keep the numbers a double can't hold as written (a field the schema ignores nests thousands of levels)",
      );
    }
    throw err;
  }
  return { parsed, sources };
}

class TooManyInexact extends Error {}

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** A JSON.stringify replacer writing each inexact number as its source text. */
export function withSources(sources: NumberSources) {
  return function (this: object, key: string, value: unknown): unknown {
    if (typeof value !== "number") return value;
    const source = sources.get(this)?.get(key);
    return source === undefined ? value : rawJSON(source);
  };
}
