import type { Op } from "../apply/ops.ts";
import type { ParsedEvent } from "../events/envelope.ts";
import type { SourceTopic } from "../kafka/topics.ts";

/** A value outside an enumeration of SPEC §4: applied as is (forward compatible), but counted. */
export interface UnknownEnumValue {
  field: string;
  value: string;
}

/** Turns one event into what it asks of the database. Pure; throws BadEventError for bad input. */
export type EventHandler = (event: ParsedEvent, unknownEnums: UnknownEnumValue[]) => Op;

export interface Domain {
  topic: SourceTopic;
  /** Every event type of the topic (SPEC §3) and its handler. */
  events: Readonly<Record<string, EventHandler>>;
}

/** Notes a value outside `allowed` (it is still applied when it fits the column). */
export function checkEnum(
  value: string,
  allowed: readonly string[],
  field: string,
  unknownEnums: UnknownEnumValue[],
): string {
  if (!allowed.includes(value)) unknownEnums.push({ field, value });
  return value;
}
