import { SECRET_EVENT_FIELDS } from "./secrets.ts";

// One closed list of error codes. Callers ask `isRetryable(err)` or `isExpected(err)`
// instead of parsing messages.
export const ErrorCodes = {
  CONFIG: "CONFIG",
  STACK: "STACK",
  MIGRATION: "MIGRATION",
  BAD_EVENT: "BAD_EVENT",
  DATABASE_UNAVAILABLE: "DATABASE_UNAVAILABLE",
  KAFKA_UNAVAILABLE: "KAFKA_UNAVAILABLE",
  CONCURRENT_CHANGE: "CONCURRENT_CHANGE",
  GROUP_CONFLICT: "GROUP_CONFLICT",
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class AppError extends Error {
  readonly code: ErrorCode;
  /** A retry of the same operation may succeed once the outside world recovers. */
  readonly retryable: boolean;
  /** A mistake a user can make: reported as one line, without a stack trace. */
  readonly expected: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryable?: boolean; expected?: boolean; cause?: unknown; withStack?: boolean } = {},
  ) {
    // V8 reads the limit when the error is made: 0 captures no frames, which costs most of making it.
    const limit = Error.stackTraceLimit;
    if (opts.withStack === false) Error.stackTraceLimit = 0;
    try {
      super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.expected = opts.expected ?? true;
  }
}

/** Invalid configuration: names the variable and what to do. */
export class ConfigError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.CONFIG, message);
  }
}

/** The local development stack could not be brought up or inspected. */
export class StackError extends AppError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.STACK, message, { cause });
  }
}

export class MigrationError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.MIGRATION, message);
  }
}

/** Codes carried by a dead letter; stable, so operators can filter on them. */
export const BadEventReasons = {
  NOT_JSON: "not_json",
  NOT_OBJECT: "not_object",
  BAD_ENVELOPE: "bad_envelope",
  BAD_FIELD: "bad_field",
  TOO_LARGE: "too_large",
  REJECTED_BY_DATABASE: "rejected_by_database",
  /** The event's timestamp is further ahead of its Kafka record's than MAX_CLOCK_SKEW_MS allows. */
  CLOCK_SKEW: "clock_skew",
  /** The event type belongs to another topic than the one the event arrived on. */
  WRONG_TOPIC: "wrong_topic",
  /** The record stands for one of a compressed batch that can't be read (src/read/client-fixes/batch-framing.ts). */
  UNREADABLE_BATCH: "unreadable_batch",
  /**
   * Another transaction changed the event's entity under its own at every run: the entity is
   * written by two partitions at once (a producer that chose the partition itself).
   */
  CONCURRENT_CHANGE: "concurrent_change",
  /** Handling the event threw something that is not a BadEventError: a bug, isolated to this event. */
  UNEXPECTED_ERROR: "unexpected_error",
} as const;
export type BadEventReason = (typeof BadEventReasons)[keyof typeof BadEventReasons];

/** The longest reason a dead letter carries: it may quote names from the event (a field, a variant key). */
export const MAX_REASON_CHARS = 300;

/**
 * Control characters, Unicode's line and paragraph separators, and its bidirectional embeddings,
 * overrides and isolates (U+202E shows the text after it reversed): what would break a line, or
 * make it read otherwise than it is written. The direction marks (U+200E, U+200F, U+061C) stay:
 * Hebrew and Arabic text holds them, and they reorder nothing beyond the characters beside them.
 */
const UNSAFE_ON_ONE_LINE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** A character as its `\uXXXX` escape; one past U+FFFF (a tag character) as `\u{XXXXX}`. */
const unicodeEscape = (c: string) => {
  const code = c.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
};

/**
 * Text from the event (a variant key, a map key, an enum value) may hold a line break, a terminal
 * escape or a bidirectional control: each such character is written as its `\uXXXX` escape, so a
 * reason or a log line stays one line, in a header, a log and a terminal, and reads as it is.
 */
export const oneLine = (text: string) => text.replace(UNSAFE_ON_ONE_LINE, unicodeEscape);

/**
 * What shows as nothing: Unicode's default-ignorable characters (zero-width space and joiners,
 * word joiner, BOM, soft hyphen, variation selectors, tag characters, Hangul fillers), but the
 * direction marks oneLine keeps too: in a name they hide as well as a zero-width space
 * (`supplier.deleted` and a left-to-right mark read as the known type), even beside right-to-left
 * text, where a key with a mark and one without would read alike.
 */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * A name from the event (an event type, an enum value, a key in a reason) as oneLine writes it,
 * and every character that shows as nothing escaped too: `supplier.deleted` followed by a
 * zero-width space is another event type, and must not read as the known one in a metric's
 * label, a warning or a dead letter's reason.
 */
export const visibleName = (text: string) => oneLine(text).replace(INVISIBLE, unicodeEscape);

/**
 * JSON text as a terminal shows it, meaning what it means: JSON.stringify escapes the C0 controls
 * (ESC among them) but writes DEL, the C1 controls (U+009B is the 8-bit CSI), the line separators
 * and the bidirectional controls as they are. They can only stand inside a string, where their
 * `\uXXXX` escape parses back to the same text.
 */
export const terminalSafeJson = (json: string) =>
  json.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, unicodeEscape);

/** `text` cut to at most `max` UTF-16 units with an ellipsis, never between the halves of a surrogate pair. */
function shortened(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  // Nor inside an escape made of a character (`\u20` of `\u200b`): cut before it.
  const partial = /\\(?:u(?:\{[0-9a-f]*|[0-9a-f]{0,3}))?$/.exec(text.slice(Math.max(0, end - 10), end));
  if (partial) end -= partial[0].length;
  return `${text.slice(0, end)}…`;
}

/**
 * A reason that would name a secret field (a path through a map key named like one, or a value
 * found under it) says only which part of the event holds it: the path before that name. Checked
 * here, once, for every reason whatever rule wrote it.
 */
function withoutSecretNames(text: string): string {
  const at = Math.min(...SECRET_EVENT_FIELDS.map((name) => text.indexOf(name)).filter((i) => i >= 0));
  if (!Number.isFinite(at)) return text;
  // The dotted path that ends right before the name: scanned back from it, once. A regular
  // expression found it by trying every start, in time square in a map key's length: a 64,000
  // character variant key held the thread for seconds.
  let start = at;
  while (start > 0 && isPathChar(text.charCodeAt(start - 1))) start--;
  const path = text.slice(start, text.endsWith(".", at) ? at - 1 : at);
  return `${path || "value"} holds an invalid entry`;
}

/** A letter, a digit, `_` or `.`: what the path to a field is written with. */
const isPathChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46;

/**
 * Input that can never be applied, however often it is retried: it goes to the dead-letter topic.
 * Made without a stack: it is reported by its reason, never by where it was thrown, and capturing
 * the frames cost more than the rest of rejecting an event (a flood of bad events pays it for each).
 */
export class BadEventError extends AppError {
  readonly reason: BadEventReason;
  constructor(reason: BadEventReason, text: string) {
    super(ErrorCodes.BAD_EVENT, shortened(visibleName(withoutSecretNames(text)), MAX_REASON_CHARS), {
      expected: true,
      withStack: false,
    });
    this.reason = reason;
  }
}

export class DatabaseUnavailableError extends AppError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.DATABASE_UNAVAILABLE, message, { retryable: true, cause });
  }
}

/**
 * Another transaction changed what this one planned on, after it read it: the transaction is
 * rolled back and run again, against what it then reads.
 */
export class ConcurrentChangeError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.CONCURRENT_CHANGE, message, { retryable: true });
  }
}

/** Another member of the consumer group writes to another database: this instance waits for it to leave. */
export class GroupConflictError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.GROUP_CONFLICT, message, { retryable: true });
  }
}

export class KafkaUnavailableError extends AppError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.KAFKA_UNAVAILABLE, message, { retryable: true, cause });
  }

  /** A Kafka client's failure as the outage it is, waited out, in the client's own words. */
  static of(err: unknown): KafkaUnavailableError {
    return new KafkaUnavailableError(`Kafka: ${messageOf(err)}`, err);
  }
}

export function isExpected(err: unknown): err is AppError {
  return err instanceof AppError && err.expected;
}

export function isRetryable(err: unknown): boolean {
  return err instanceof AppError && err.retryable;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Where a cleanup's failure is said: one line on standard error unless a caller passes its own. */
export type Warn = (line: string) => void;
const onStderr: Warn = (line) => process.stderr.write(`${line}\n`);

/**
 * Awaits a cleanup that runs once the outcome is decided: closing a client after its work, or a
 * rollback before an error is rethrown. Its failure can't change that outcome and must not replace
 * the error being thrown, so it is said as one warning line that names the cleanup.
 */
export async function afterOutcome(what: string, cleanup: Promise<unknown>, warn: Warn = onStderr): Promise<void> {
  try {
    await cleanup;
  } catch (err) {
    warn(`warning: ${what} failed (${oneLine(messageOf(err))}); the outcome above stands`);
  }
}
