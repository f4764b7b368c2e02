import type { UnknownEnumValue } from "../domains/domain.ts";
import { HANDLERS } from "../domains/registry.ts";
import { BadEventError, BadEventReasons } from "../errors.ts";
import { parseEnvelope } from "../events/envelope.ts";
import type { Op } from "./ops.ts";
import type { Outcome } from "./plan.ts";

/** One message as the pipeline sees it; the value is null for a Kafka tombstone. */
export interface Decoded {
  /** What the event asks of the database, or its outcome when it asks nothing (skip, reject). */
  op: Op | Outcome;
  eventType?: string;
  /** The event's timestamp as DATETIME(6) UTC text. */
  ts?: string;
  unknownEnums: UnknownEnumValue[];
}

/** A TEXT column holds 65,535 bytes; a string can only exceed that with more than 16,383 characters. */
const TEXT_BYTES = 65535;

// Schemas bound strings in characters; TEXT columns are bounded in bytes, which only the encoded
// value tells. Caught here, the event is a bad field like any other instead of a database error.
function checkTextBytes(op: Op): void {
  const rows = op.kind === "upsert" ? [op.row, ...(op.children?.rows ?? [])] : op.kind === "patch" ? [op.set] : [];
  for (const row of rows) {
    for (const column in row) {
      const value = row[column];
      if (typeof value === "string" && value.length > TEXT_BYTES / 4 && Buffer.byteLength(value) > TEXT_BYTES) {
        throw new BadEventError(
          BadEventReasons.BAD_FIELD,
          `column ${column} would hold ${Buffer.byteLength(value)} bytes, more than the ${TEXT_BYTES} a TEXT column holds`,
        );
      }
    }
  }
}

/** Parse, validate and flatten one message value. Pure; never throws for bad input. */
export function decode(value: Buffer | null | undefined, maxBytes: number): Decoded {
  const unknownEnums: UnknownEnumValue[] = [];
  if (value === null || value === undefined) return { op: { kind: "skipped", reason: "null_value" }, unknownEnums };
  let eventType: string | undefined;
  try {
    const event = parseEnvelope(value, maxBytes);
    eventType = event.type;
    const handler = HANDLERS.get(event.type);
    if (!handler) return { op: { kind: "skipped", reason: "unknown_type" }, eventType, unknownEnums };
    const op = handler(event, unknownEnums);
    checkTextBytes(op);
    return { op, eventType, ts: event.ts, unknownEnums };
  } catch (err) {
    if (err instanceof BadEventError) return { op: { kind: "rejected", error: err }, eventType, unknownEnums };
    throw err;
  }
}
