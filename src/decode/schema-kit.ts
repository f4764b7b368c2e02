import { type Static, type TSchema, Type } from "typebox";
import { Compile } from "typebox/compile";
import { Format } from "typebox/format";
import { BadEventError, BadEventReasons } from "../errors.ts";
import { SECRET_EVENT_FIELDS } from "../secrets.ts";
import { InexactNumberFound, inexact, type NumberSources, withSources } from "./numbers.ts";
import { toUtcDatetime6 } from "./timestamp.ts";

// Building blocks for the document schemas. TypeBox was measured fastest on the hot path
// (docs/decisions.md); objects accept and ignore fields they don't name. String limits are the
// column widths, counted in characters as MySQL counts them.

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** Code points, as MySQL counts utf8mb4 characters (an emoji is one; a lone surrogate too). */
export function charCount(s: string): number {
  let count = 0;
  for (let i = 0; i < s.length; i++, count++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return count;
}

// A string has between length/2 and length code points, so most strings are settled without
// counting; TypeBox's own maxLength counts every bounded string through an array (docs/decisions.md).
// The bounds are formats, not refinements: a compiled check calls a format's test directly, but
// runs refinements through a closure it makes for every string checked, tens per event.
const CHAR_BOUNDS = new Map<string, { min: number; max: number; test: (s: string) => boolean }>();

function charsFormat(min: number, max: number): string {
  const name = `mysql-chars-${min}-${max}`;
  let bounds = CHAR_BOUNDS.get(name);
  if (bounds === undefined) {
    const test = (s: string) =>
      (s.length <= max || charCount(s) <= max) && (min === 0 || s.length >= 2 * min || charCount(s) >= min);
    bounds = { min, max, test };
    CHAR_BOUNDS.set(name, bounds);
  }
  // TypeBox passes a format it does not know: registered again should anything have reset them.
  if (!Format.Has(name)) Format.Set(name, bounds.test);
  return name;
}

/**
 * What is wrong with a string that failed the format `name` of Str(), in the words of a dead
 * letter. `value` is what the error's pointer finds; TypeBox does not escape a `/` inside a key (a
 * variant key may hold one), so it may be another value, or none: unless it is a string that
 * fails these bounds, only the bounds are named.
 */
function charsProblem(name: string, value: unknown): string | undefined {
  const bounds = CHAR_BOUNDS.get(name);
  if (bounds === undefined) return undefined;
  const { min, max, test } = bounds;
  const failing = typeof value === "string" && !test(value) ? value : undefined;
  if (min === 0 || (failing !== undefined && charCount(failing) > max)) {
    return `must not have more than ${max} characters`;
  }
  return failing !== undefined
    ? `must not have fewer than ${min} characters`
    : `must have from ${min} to ${max} characters`;
}

export const Str = (maxLength: number, minLength = 0) => Type.String({ format: charsFormat(minLength, maxLength) });
/** Unbounded text (TEXT columns): the server's byte limit is enforced by the server. */
export const Text = () => Type.String();
export const Int = (minimum = INT_MIN) => Type.Integer({ minimum, maximum: INT_MAX });
export const Num = () => Type.Number();
/** An ISO-8601 instant; converted (and checked) by `datetime()` during flattening. */
export const Timestamp = () => Str(64);
export const ObjectId = () => Type.String({ pattern: "^[0-9a-fA-F]{24}$" });
/** The field may be absent or null (`?` in docs/events.md#documents-and-tables). */
export const Maybe = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));
/** The field may be absent; absent means the column's default. */
export const Defaulted = <T extends TSchema>(schema: T) => Type.Optional(schema);

export interface Validator<T> {
  /** Returns the value typed, or throws BadEventError naming the first bad field under `prefix`. */
  parse(value: unknown, prefix: string): T;
}

export function compile<T extends TSchema>(schema: T): Validator<Static<T>> {
  const compiled = Compile(schema);
  return {
    parse(value, prefix) {
      if (compiled.Check(value)) return value as Static<T>;
      tooManyToExplain(value, prefix);
      const first = compiled.Errors(value)[0];
      let path = first ? pointerToPath(first.instancePath) : "";
      let problem = first?.message ?? "is invalid";
      const format = (first?.params as { format?: string } | undefined)?.format;
      if (first?.keyword === "format" && format !== undefined) {
        problem = charsProblem(format, valueAt(value, first.instancePath)) ?? problem;
      }
      // "data.profile must have required properties display_name" → "data.profile.display_name is required"
      const missing = (first?.params as { requiredProperties?: string[] } | undefined)?.requiredProperties?.[0];
      if (first?.keyword === "required" && missing !== undefined) {
        path = [path, missing].filter(Boolean).join(".");
        problem = "is required";
      }
      const field = [prefix, path].filter(Boolean).join(".");
      throw new BadEventError(BadEventReasons.BAD_FIELD, `${field || "value"} ${problem}`);
    },
  };
}

/**
 * Values an invalid document may hold and still be explained. TypeBox's Errors() walks the whole
 * document whatever it finds first, a few microseconds a value: a 1 MiB message of 300,000 empty
 * items took seconds of the pipeline's one thread. Past this, the reason names the largest list
 * or map: a product's variants are a map keyed by variant, and one of 600 variants (about 12,000
 * values) with one bad price was only "data is invalid".
 */
export const MAX_VALUES_TO_EXPLAIN = 10_000;

function tooManyToExplain(root: unknown, prefix: string): void {
  const nodes: [unknown, string | null][] = [[root, prefix]];
  let count = 0;
  let largest = { path: prefix, length: 0 };
  while (nodes.length > 0) {
    const [node, path] = nodes.pop() as [unknown, string | null];
    if (node === null || typeof node !== "object") continue;
    const keys = Array.isArray(node) ? null : Object.keys(node);
    const size = keys === null ? (node as unknown[]).length : keys.length;
    // The root is named anyway; a container inside a secret field (path null) never is.
    if (path !== null && node !== root && size > largest.length) largest = { path, length: size };
    count += size;
    if (count > MAX_VALUES_TO_EXPLAIN) {
      const seen =
        largest.length > 0
          ? ` (the largest list or map seen: ${largest.path || "value"}, ${largest.length} entries)`
          : "";
      throw new BadEventError(
        BadEventReasons.BAD_FIELD,
        `${prefix || "value"} is invalid and holds more than ${MAX_VALUES_TO_EXPLAIN} values, too many to say which is wrong${seen}`,
      );
    }
    for (let i = 0; i < size; i++) {
      const key = keys === null ? String(i) : (keys[i] as string);
      const value = (node as Record<string, unknown>)[key];
      // Values inside a secret field are counted, but no list inside it is named: that would put
      // the secret's name and shape into a dead letter's reason.
      const inside = path === null || (keys !== null && SECRET_EVENT_FIELDS.includes(key)) ? null : `${path}.${key}`;
      if (value !== null && typeof value === "object") nodes.push([value, inside]);
    }
  }
}

/**
 * A string-keyed map. TypeBox's own Record matches keys with `^.*$`, which no key holding a line
 * break matches, so such a key's value went unchecked; any key is matched here.
 */
export const StringMap = <T extends TSchema>(value: T) => Type.Record(Type.String({ pattern: "^[\\s\\S]*$" }), value);

const pointerSegments = (pointer: string) =>
  pointer
    .split("/")
    .slice(1)
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));

function pointerToPath(pointer: string): string {
  return pointerSegments(pointer).join(".");
}

/** The value a JSON pointer of an error names inside `root`. */
function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const segment of pointerSegments(pointer)) {
    // Only the document's own values: a key such as "constructor/caller" must not lead into a
    // prototype, where reading a property can throw.
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** Converts an ISO timestamp to a DATETIME(6) UTC string; `field` names it in the error. */
export function datetime(value: string, field: string): string {
  const converted = toUtcDatetime6(value);
  if (converted === null) {
    throw new BadEventError(BadEventReasons.BAD_FIELD, `${field} is not an ISO-8601 datetime DATETIME can hold`);
  }
  return converted;
}

/**
 * The JSON text of `value` for a JSON column. Nested deeper than `maxDepth` (the outermost array
 * or object is level 1) it is a bad field: MariaDB refuses JSON of 32 levels or more, and
 * JSON.stringify recurses, so a document of thousands of nested arrays would throw RangeError.
 * The check recurses no deeper than the limit (at most 31) and stops at the first level too deep.
 * A number a double can't hold is written as its text in the event (numbers.ts); without
 * `sources`, InexactNumberFound asks for the event to be parsed again, noting them.
 */
export function jsonText(value: unknown, field: string, maxDepth: number, sources?: NumberSources): string {
  const found = inspect(value, maxDepth);
  if (found === DEEP) {
    throw new BadEventError(
      BadEventReasons.BAD_FIELD,
      `${field} is nested deeper than ${maxDepth} levels (MAX_JSON_DEPTH)`,
    );
  }
  if ((found & INEXACT) !== 0) {
    if (sources === undefined) throw new InexactNumberFound();
    const exact = withSources(sources);
    return JSON.stringify(value, function (this: object, key: string, v: unknown) {
      return SECRET_EVENT_FIELDS.includes(key) ? undefined : exact.call(this, key, v);
    });
  }
  // A JSON column keeps the fields the document has inside it, but never a secret's, wherever
  // it is put (a media item's uploader with its password_hash). The walk above saw every key, so
  // only a value holding a secret's key is stringified through the replacer.
  return (found & SECRET) !== 0 ? JSON.stringify(value, withoutSecrets) : JSON.stringify(value);
}

const withoutSecrets = (key: string, value: unknown) => (SECRET_EVENT_FIELDS.includes(key) ? undefined : value);

// What inspect() finds, as bits; DEEP is returned alone, as soon as it is found.
const FINE = 0;
const SECRET = 1;
const INEXACT = 2;
const DEEP = 4;

/**
 * DEEP when `value` nests more than `levels` arrays and objects (found first, and the walk stops),
 * else INEXACT if it holds a number a double can't hold, and SECRET if an object in it has a
 * secret field's key. Recurses at most `levels` + 1 deep.
 */
function inspect(value: unknown, levels: number): number {
  if (typeof value === "number") return inexact(value) ? INEXACT : FINE;
  if (value === null || typeof value !== "object") return FINE;
  if (levels === 0) return DEEP;
  let found = FINE;
  if (Array.isArray(value)) {
    for (const item of value) {
      const f = inspect(item, levels - 1);
      if (f === DEEP) return DEEP;
      found |= f;
    }
  } else {
    for (const key in value) {
      if (SECRET_EVENT_FIELDS.includes(key)) found |= SECRET;
      const f = inspect((value as Record<string, unknown>)[key], levels - 1);
      if (f === DEEP) return DEEP;
      found |= f;
    }
  }
  return found;
}

export function maybeDatetime(value: string | null | undefined, field: string): string | null {
  return value === null || value === undefined ? null : datetime(value, field);
}

export type { Static };
export { Type };
