import type { Config } from "../config/index.ts";
import type { UnknownEnumValue } from "../domains/domain.ts";
import { ROUTES, type Route } from "../domains/registry.ts";
import { BadEventError, BadEventReasons } from "../errors.ts";
import type { Op, Outcome, Row } from "../plan/ops.ts";
import { unreadableBatchReason } from "../read/client-fixes/batch-markers.ts";
import {
  type ParsedEvent,
  type ParsedValue,
  parseEnvelopeKeepingNumbers,
  parseValue,
  readEnvelope,
} from "./envelope.ts";
import { InexactNumberFound, reparseRefused } from "./numbers.ts";
import { datetimeMs } from "./timestamp.ts";

// Decoding: bytes of one Kafka record in, what it asks of the database out. Pure, and total: it
// returns an outcome for every input and never throws, so no message can stop the pipeline. What
// the rules below reject is a dead letter; anything else thrown on the way (a bug, or a
// RangeError deep inside a library) is isolated to its event as `unexpected_error`, and the
// pipeline's breaker stops the service if such failures stop being rare (docs/guarantees.md).

/** The limits decoding enforces; all come from the configuration. */
export interface DecodeLimits {
  maxMessageBytes: number;
  maxClockSkewMs: number;
  maxJsonDepth: number;
  /** KAFKA_TOPIC_PREFIX: the record's topic less this is the source topic (`user`, `order`, ...). */
  topicPrefix: string;
}

/** The configuration's decoding limits. */
export function decodeLimitsOf(config: Config): DecodeLimits {
  return {
    maxMessageBytes: config.maxMessageBytes,
    maxClockSkewMs: config.maxClockSkewMs,
    maxJsonDepth: config.maxJsonDepth,
    topicPrefix: config.kafkaTopicPrefix,
  };
}

/** The parts of a Kafka record decoding reads. */
export interface SourceRecord {
  topic: string;
  key: Buffer | null | undefined;
  value: Buffer | null | undefined;
  /** The record's timestamp in ms since the epoch (negative: none). */
  timestamp: bigint;
  /** Read only for a marker: a record that stands for one that can't be read. */
  headers?: readonly (readonly [unknown, unknown])[] | undefined;
}

/** One message as the pipeline sees it. */
export interface Decoded {
  /** What the event asks of the database, or its outcome when it asks nothing (skip, reject). */
  op: Op | Outcome;
  eventType?: string;
  /** The event's timestamp as DATETIME(6) UTC text. */
  ts?: string;
  unknownEnums: UnknownEnumValue[];
  /** The record's key is not the event's entity_id (applied by entity_id, but counted). */
  keyMismatch?: boolean;
  /** The thing thrown, when the outcome is `unexpected_error`: for the log, never for a letter. */
  unexpected?: unknown;
}

/** A TEXT column holds 65,535 bytes; a string can only exceed that with more than 16,383 characters. */
const TEXT_BYTES = 65535;

// Schemas bound strings in characters; TEXT columns are bounded in bytes, which only the encoded
// value tells. Caught here, the event is a bad field like any other instead of a database error.
// JSON columns are not TEXT: they hold what the server's packet allows, checked when written.
function checkTextBytes(op: Op): void {
  if (op.kind === "upsert") {
    checkRow(op.row, op.table.json);
    if (op.children) for (const row of op.children.rows) checkRow(row, op.children.table.json);
  } else if (op.kind === "patch") checkRow(op.set, op.table.json);
}

function checkRow(row: Row, json: readonly string[]): void {
  for (const column in row) {
    const value = row[column];
    // Only a string of more than TEXT_BYTES / 4 UTF-16 units can have more than TEXT_BYTES bytes.
    if (typeof value !== "string" || value.length <= TEXT_BYTES / 4 || json.includes(column)) continue;
    const bytes = Buffer.byteLength(value);
    if (bytes > TEXT_BYTES) {
      throw new BadEventError(
        BadEventReasons.BAD_FIELD,
        `column ${column} would hold ${bytes} bytes, more than the ${TEXT_BYTES} a TEXT column holds`,
      );
    }
  }
}

/** Whether the record's key is the entity id, compared byte by byte (no string made per event). */
function keyIs(key: Buffer | null | undefined, id: string): boolean {
  if (!key || key.length !== id.length) return false;
  for (let i = 0; i < key.length; i++) if (key[i] !== id.charCodeAt(i)) return false;
  return true;
}

/**
 * An event stamped far ahead of when it was written to Kafka would, applied, outrank every real
 * event of its entity for ever ("never backwards"). The record's time decides, so a rewind or a
 * replay decides the same. A record its producer stamped ahead of the wall clock is held to the
 * wall clock, so a producer can't widen the guard (docs/guarantees.md says what that costs a
 * rewind). A record without a time (-1) gives the guard nothing to judge by: its event is
 * dead-lettered whatever it says, so every reading of the record decides alike.
 */
function checkClockSkew(event: ParsedEvent, recordMs: bigint, maxSkewMs: number, nowMs: number): void {
  if (recordMs < 0n) {
    throw new BadEventError(
      BadEventReasons.CLOCK_SKEW,
      "the Kafka record has no timestamp to check the event's against (MAX_CLOCK_SKEW_MS): have its producer " +
        "set record timestamps, or set the topic's message.timestamp.type to LogAppendTime",
    );
  }
  const eventMs = datetimeMs(event.ts);
  const recordTime = Math.min(Number(recordMs), nowMs);
  const ahead = eventMs - recordTime;
  // Record times are whole milliseconds; at exactly the limit, the event's microseconds decide.
  if (ahead < maxSkewMs || (ahead === maxSkewMs && event.ts.endsWith("000"))) return;
  throw new BadEventError(
    BadEventReasons.CLOCK_SKEW,
    `timestamp ${event.ts} is ${Math.round(ahead / 1000)} s ahead of the Kafka record's ` +
      `${new Date(recordTime).toISOString()}; MAX_CLOCK_SKEW_MS allows ${maxSkewMs} ms`,
  );
}

function checkTopic(route: Route, record: SourceRecord, limits: DecodeLimits, type: string): void {
  if (record.topic === `${limits.topicPrefix}${route.topic}`) return;
  throw new BadEventError(
    BadEventReasons.WRONG_TOPIC,
    `${type} belongs on topic ${limits.topicPrefix}${route.topic}, not ${record.topic}`,
  );
}

/** Parse, validate and flatten one record. Never throws. */
/** `nowMs`: the wall clock, which bounds record times from above (tests pin it). */
export function decode(record: SourceRecord, limits: DecodeLimits, routes = ROUTES, nowMs = Date.now()): Decoded {
  const value = record.value;
  // A marker stands for a record that could not be read (src/read/client-fixes/batch-framing.ts).
  const unreadable = unreadableBatchReason(record.headers);
  if (unreadable !== undefined) {
    return {
      op: { kind: "rejected", error: new BadEventError(BadEventReasons.UNREADABLE_BATCH, unreadable) },
      unknownEnums: [],
    };
  }
  if (value === null || value === undefined) return { op: { kind: "skipped", reason: "null_value" }, unknownEnums: [] };
  // The rare event whose JSON columns hold a number a double can't (numbers.ts) is parsed again.
  const attempt = { record, value, limits, routes, nowMs };
  const plain = decodeValue(attempt);
  return "reparse" in plain ? decodeValue(attempt, plain.reparse) : plain;
}

/** One record to decode, and what decoding it depends on. */
interface Attempt {
  record: SourceRecord;
  value: Buffer;
  limits: DecodeLimits;
  routes: ReadonlyMap<string, Route>;
  nowMs: number;
}

/** The plain attempt found a JSON column holding an inexact number: the value's text, to parse again. */
interface Reparse {
  reparse: string;
}

/**
 * Without `reparse`, parses the value plainly: a JSON column holding an inexact number makes it
 * a Reparse. With it, parses that text again noting the source of such numbers.
 */
function decodeValue(attempt: Attempt): Decoded | Reparse;
function decodeValue(attempt: Attempt, reparse: string): Decoded;
function decodeValue({ record, value, limits, routes, nowMs }: Attempt, reparse?: string): Decoded | Reparse {
  const unknownEnums: UnknownEnumValue[] = [];
  let eventType: string | undefined;
  let plain: ParsedValue | undefined;
  try {
    let event: ParsedEvent;
    if (reparse === undefined) {
      plain = parseValue(value, limits.maxMessageBytes);
      event = readEnvelope(plain.parsed);
    } else event = parseEnvelopeKeepingNumbers(reparse);
    eventType = event.type;
    const route = routes.get(event.type);
    if (!route) return { op: { kind: "skipped", reason: "unknown_type" }, eventType, unknownEnums };
    checkTopic(route, record, limits, event.type);
    checkClockSkew(event, record.timestamp, limits.maxClockSkewMs, nowMs);
    const op = route.handler(event, unknownEnums, limits);
    checkTextBytes(op);
    const decoded: Decoded = { op, eventType, ts: event.ts, unknownEnums };
    if (!keyIs(record.key, event.entityId)) decoded.keyMismatch = true;
    return decoded;
  } catch (err) {
    if (err instanceof BadEventError) return { op: { kind: "rejected", error: err }, eventType, unknownEnums };
    if (err instanceof InexactNumberFound && plain !== undefined) {
      // Counted on this parse, which is then let go: the text is parsed once more, not twice. A
      // refusal names no event type and no enum, as when the count came before the envelope.
      const refused = reparseRefused(plain.parsed);
      return refused ? { op: { kind: "rejected", error: refused }, unknownEnums: [] } : { reparse: plain.text };
    }
    // Named by class only: a message may quote the event, and a letter's text must not.
    const name = err instanceof Error ? err.name : typeof err;
    const error = new BadEventError(
      BadEventReasons.UNEXPECTED_ERROR,
      `unexpected ${name} while handling ${eventType ?? "the event"}`,
    );
    return { op: { kind: "rejected", error }, eventType, unknownEnums, unexpected: err };
  }
}
