import type { ParsedEvent } from "../decode/envelope.ts";
import { BadEventError, BadEventReasons } from "../errors.ts";
import type { SourceTopic } from "../kafka/topics.ts";
import type { Op, TableSpec } from "../plan/ops.ts";

/** A value outside an enumeration of docs/events.md#enumerations: applied as is (forward compatible), but counted. */
export interface UnknownEnumValue {
  /** `table.column`: two tables' columns of one name (products' and orders' `status`) count apart. */
  field: string;
  value: string;
}

/** The limits flattening enforces, from the configuration. */
export interface FlattenLimits {
  /** Deepest nesting a JSON column may hold (MAX_JSON_DEPTH). */
  maxJsonDepth: number;
}

/** Turns one event into what it asks of the database. Pure; throws BadEventError for bad input. */
export type EventHandler = (event: ParsedEvent, unknownEnums: UnknownEnumValue[], limits: FlattenLimits) => Op;

export interface Domain {
  topic: SourceTopic;
  /** Every event type of the topic (docs/events.md#topics-and-event-types) and its handler. */
  events: Readonly<Record<string, EventHandler>>;
  /** The tables its events write, children included: the service's rights are checked on them at start. */
  tables: readonly TableSpec[];
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

/**
 * Two children with one key would become one row, the second silently lost: the event is
 * ambiguous and is rejected, naming both places. Keys compare exactly, as the tables do.
 */
export function rejectDuplicate(keys: readonly string[], pathOf: (index: number) => string): void {
  const first = new Map<string, number>();
  keys.forEach((key, i) => {
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, i);
    else {
      throw new BadEventError(
        BadEventReasons.BAD_FIELD,
        `${pathOf(i)} ${JSON.stringify(key)} repeats ${pathOf(earlier)}: two children with one key`,
      );
    }
  });
}
