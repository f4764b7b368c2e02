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
 * Values a document may hold in all to be parsed again for its inexact numbers. The reviver runs
 * for every value, those of fields the schema ignores too, at about fifty times the cost of the
 * plain parse: a 1 MiB document of `0`s (500,000 values) beside one inexact number took most of a
 * second. A document that holds more is a bad field; the platform's hold a few hundred values, a
 * product of 600 variants about 12,000. This also bounds the inexact numbers noted, and the map
 * entry each costs.
 */
export const MAX_VALUES_TO_REPARSE = 100_000;

/**
 * Levels of arrays and objects a document may nest to be parsed again for its inexact numbers.
 * The reviver's walk recurses, and where it runs out of stack depends on the stack it is called
 * on (about 2,300 levels from a shallow one, fewer from a deeper one): a bound of its own, well
 * under that, makes every reading of the record decide alike.
 */
export const MAX_DEPTH_TO_REPARSE = 1000;

/**
 * Which bound `root` passes: more than `maxValues` values, containers and keys' values alike
 * (then the walk stops, and this is said whatever the depth), else more than `maxDepth` levels of
 * arrays and objects (the root is level 1). Each value is counted where it is found, and only
 * containers are stacked: stacking every item and counting it when popped read a whole list
 * before counting any of it, and a 1 MiB list of `0`s (500,000 items) took longer to count than
 * to parse.
 */
function boundPassed(root: unknown, maxValues: number, maxDepth: number): "values" | "depth" | undefined {
  let count = 1;
  if (count > maxValues) return "values";
  let deep = false;
  const containers: object[] = [];
  const depths: number[] = [];
  let depth = 0;
  const found = (value: unknown): boolean => {
    if (++count > maxValues) return true;
    if (value !== null && typeof value === "object") {
      containers.push(value);
      depths.push(depth + 1);
    }
    return false;
  };
  if (root !== null && typeof root === "object") {
    containers.push(root);
    depths.push(1);
  }
  while (containers.length > 0) {
    const node = containers.pop() as object;
    depth = depths.pop() as number;
    if (depth > maxDepth) deep = true;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) if (found(node[i])) return "values";
    } else {
      for (const key in node) if (found((node as Record<string, unknown>)[key])) return "values";
    }
  }
  return deep ? "depth" : undefined;
}

/** Whether `root` holds more than `max` values, containers and keys' values alike; stops there. */
export const holdsMoreValues = (root: unknown, max: number) => boundPassed(root, max, Infinity) === "values";

/** Whether `root` nests more than `max` levels of arrays and objects (the root is level 1). */
export const nestsDeeperThan = (root: unknown, max: number) => boundPassed(root, Infinity, max) === "depth";

/**
 * Why a document can't be parsed again for its inexact numbers (MAX_VALUES_TO_REPARSE,
 * MAX_DEPTH_TO_REPARSE), counted on its plain parse, the one that found the number: counting on a
 * parse of its own parsed the text three times. Undefined when it can.
 */
export function reparseRefused(plain: unknown): BadEventError | undefined {
  const passed = boundPassed(plain, MAX_VALUES_TO_REPARSE, MAX_DEPTH_TO_REPARSE);
  if (passed === undefined) return undefined;
  return new BadEventError(
    BadEventReasons.BAD_FIELD,
    passed === "values"
      ? `value holds a number a double can't hold (an integer past 2^53, a literal past its range) and more than ${MAX_VALUES_TO_REPARSE} values in all: too many to parse again to keep it as written`
      : `value is nested too deep to keep the numbers a double can't hold as written (more than ${MAX_DEPTH_TO_REPARSE} levels, in a field the schema ignores)`,
  );
}

/**
 * JSON.parse that also notes the source text of every inexact number (the reviver's
 * `context.source`), for a text whose plain parse reparseRefused let through. The reviver walks
 * the tree recursively, as the plain parse does not: a document nested thousands of levels deep
 * (legal where the schema ignores a field) overflows the stack here. That is a bad field, as is a
 * document too large to parse again: named as such, never a crash and never rounded in silence.
 */
export function parseKeepingNumbers(text: string): { parsed: unknown; sources: NumberSources } {
  const sources: NumberSources = new WeakMap();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, function (this: object, key: string, value: unknown, context?: { source?: string }) {
      if (typeof value === "number" && inexact(value) && context?.source !== undefined) {
        getOrCreate(sources, this, () => new Map<string, string>()).set(key, context.source);
      }
      return value;
    });
  } catch (err) {
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

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** A JSON.stringify replacer writing each inexact number as its source text. */
export function withSources(sources: NumberSources) {
  return function (this: object, key: string, value: unknown): unknown {
    if (typeof value !== "number") return value;
    const source = sources.get(this)?.get(key);
    return source === undefined ? value : rawJSON(source);
  };
}
