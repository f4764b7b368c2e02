import { isUtf8 } from "node:buffer";
import { BadEventError, BadEventReasons } from "../errors.ts";
import { type NumberSources, parseKeepingNumbers } from "./numbers.ts";
import { compile, datetime, ObjectId, type Static, Str, Timestamp, Type } from "./schema-kit.ts";

// docs/events.md#envelope: every message value is a UTF-8 JSON object with these five fields.
export const EnvelopeSchema = Type.Object({
  event_type: Str(100, 1),
  event_id: Str(36, 1),
  entity_id: ObjectId(),
  timestamp: Timestamp(),
  data: Type.Object({}),
});
export type Envelope = Static<typeof EnvelopeSchema>;

const envelope = compile(EnvelopeSchema);

/** A message that passed the envelope checks; `ts` is the timestamp as DATETIME(6) UTC text. */
export interface ParsedEvent {
  type: string;
  eventId: string;
  entityId: string;
  ts: string;
  data: Record<string, unknown>;
  /** The source text of the numbers a double can't hold, when parsed for them (`exactNumbers`). */
  numberSources?: NumberSources;
}

/**
 * Valid UTF-8 bytes decode to well-formed text; only a JSON escape (`\ud800`) can make a lone
 * surrogate, which MySQL would store as U+FFFD: two keys that differ in one would become one.
 */
const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * Whether every string and key in a parsed document is well-formed. Walks with plain loops and
 * stacks only strings and containers: Object.entries would make a pair of every array element,
 * and a document may hold a million small values.
 */
function wellFormed(root: unknown): boolean {
  const nodes: unknown[] = [root];
  const visit = (value: unknown) => {
    if (typeof value === "string" || (value !== null && typeof value === "object")) nodes.push(value);
  };
  while (nodes.length > 0) {
    const node = nodes.pop();
    if (typeof node === "string") {
      if (!node.isWellFormed()) return false;
    } else if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) visit(node[i]);
    } else {
      // A parsed document's objects are plain, their keys their own (a "__proto__" key included).
      const object = node as Record<string, unknown>;
      for (const key in object) {
        if (!key.isWellFormed()) return false;
        visit(object[key]);
      }
    }
  }
  return true;
}

/** A message value parsed, and checked as a whole: its text, and the object it holds. */
export interface ParsedValue {
  text: string;
  parsed: object;
}

/**
 * Parses a message value and checks it as a whole (its size, UTF-8, JSON, an object, no lone
 * surrogate); throws BadEventError naming what is wrong.
 */
export function parseValue(value: Buffer, maxBytes: number): ParsedValue {
  if (value.length > maxBytes) {
    throw new BadEventError(
      BadEventReasons.TOO_LARGE,
      `value is ${value.length} bytes, over the ${maxBytes}-byte limit (MAX_MESSAGE_BYTES)`,
    );
  }
  if (!isUtf8(value)) throw new BadEventError(BadEventReasons.NOT_JSON, "value is not valid UTF-8");
  const text = value.toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's own message quotes the input, which may hold a secret: say only what failed.
    throw new BadEventError(BadEventReasons.NOT_JSON, "value is not valid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new BadEventError(BadEventReasons.NOT_OBJECT, "value is JSON but not an object");
  }
  // `\u` is rare in events (non-ASCII text travels as UTF-8), and looking for it is cheap.
  if (text.includes("\\u") && LONE_SURROGATE_ESCAPE.test(text) && !wellFormed(parsed)) {
    throw new BadEventError(
      BadEventReasons.BAD_FIELD,
      "value holds a string with a lone surrogate (\\ud800–\\udfff unpaired): not Unicode text a utf8mb4 column can store",
    );
  }
  return { text, parsed };
}

/** Parses and checks a message value; throws BadEventError naming what is wrong. */
export function parseEnvelope(value: Buffer, maxBytes: number): ParsedEvent {
  return readEnvelope(parseValue(value, maxBytes).parsed);
}

/**
 * Parses again, more slowly, the text of a value that passed parseValue and whose plain parse
 * passed reparseRefused, noting the text of the numbers a double can't hold for the JSON columns
 * to keep (decode asks for the rare event that has one).
 */
export function parseEnvelopeKeepingNumbers(text: string): ParsedEvent {
  let parsed: unknown;
  let numberSources: NumberSources;
  try {
    ({ parsed, sources: numberSources } = parseKeepingNumbers(text));
  } catch (err) {
    if (err instanceof BadEventError) throw err;
    throw new BadEventError(BadEventReasons.NOT_JSON, "value is not valid JSON");
  }
  return readEnvelope(parsed as object, numberSources);
}

/** The envelope of a parsed value; throws BadEventError naming what is wrong. */
export function readEnvelope(parsed: object, numberSources?: NumberSources): ParsedEvent {
  let env: Envelope;
  try {
    env = envelope.parse(parsed, "");
  } catch (err) {
    throw new BadEventError(BadEventReasons.BAD_ENVELOPE, (err as Error).message);
  }
  let ts: string;
  try {
    ts = datetime(env.timestamp, "timestamp");
  } catch (err) {
    throw new BadEventError(BadEventReasons.BAD_ENVELOPE, (err as Error).message);
  }
  return {
    type: env.event_type,
    eventId: env.event_id,
    entityId: env.entity_id,
    ts,
    data: env.data as Record<string, unknown>,
    ...(numberSources === undefined ? {} : { numberSources }),
  };
}
