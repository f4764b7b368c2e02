import type { UnknownEnumValue } from "../domains/domain.ts";
import { HANDLERS } from "../domains/registry.ts";
import { BadEventError } from "../errors.ts";
import { parseEnvelope } from "../events/envelope.ts";
import type { Op } from "./ops.ts";
import type { Outcome } from "./plan.ts";

/** One message as the pipeline sees it; the value is null for a Kafka tombstone. */
export interface Decoded {
  /** What the event asks of the database, or its outcome when it asks nothing (skip, reject). */
  op: Op | Outcome;
  eventType?: string;
  eventId?: string;
  unknownEnums: UnknownEnumValue[];
}

/** Parse, validate and flatten one message value. Pure; never throws for bad input. */
export function decode(value: Buffer | null | undefined, maxBytes: number): Decoded {
  const unknownEnums: UnknownEnumValue[] = [];
  if (value === null || value === undefined) return { op: { kind: "skipped", reason: "null_value" }, unknownEnums };
  let eventType: string | undefined;
  let eventId: string | undefined;
  try {
    const event = parseEnvelope(value, maxBytes);
    eventType = event.type;
    eventId = event.eventId;
    const handler = HANDLERS.get(event.type);
    if (!handler) return { op: { kind: "skipped", reason: "unknown_type" }, eventType, eventId, unknownEnums };
    return { op: handler(event, unknownEnums), eventType, eventId, unknownEnums };
  } catch (err) {
    if (err instanceof BadEventError) return { op: { kind: "rejected", error: err }, eventType, eventId, unknownEnums };
    throw err;
  }
}
