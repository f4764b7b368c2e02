import type { ParsedEvent } from "../decode/envelope.ts";
import { compile, Maybe, ObjectId, Type } from "../decode/schema-kit.ts";
import type { DeleteOp, PatchOp, TableSpec } from "../write/ops.ts";

// Deletes carry a small payload naming the id (docs/events.md#topics-and-event-types); without it the envelope's entity_id is the id.
const idPayload = (field: string) => compile(Type.Object({ [field]: Maybe(ObjectId()) }));

/** Soft delete (users, posts): deleted_at ← the event's timestamp, so replays give the same row. */
export function softDelete(table: TableSpec, idField: string) {
  const payload = idPayload(idField);
  return (e: ParsedEvent): PatchOp => {
    const data = payload.parse(e.data, "data") as Record<string, string | null | undefined>;
    return {
      kind: "patch",
      table,
      id: data[idField] ?? e.entityId,
      ts: e.ts,
      eventId: e.eventId,
      set: { deleted_at: e.ts, ...versionColumns(e) },
    };
  };
}

/** Hard delete (suppliers, products): the row goes, a tombstone remembers when. */
export function hardDelete(table: TableSpec, idField: string) {
  if (!table.tombstones) throw new Error(`${table.name}: hard deletes need a table defined with tombstones`);
  const payload = idPayload(idField);
  return (e: ParsedEvent): DeleteOp => {
    const data = payload.parse(e.data, "data") as Record<string, string | null | undefined>;
    return { kind: "delete", table, id: data[idField] ?? e.entityId, ts: e.ts, eventId: e.eventId };
  };
}

/** The envelope columns every parent row carries. */
export const versionColumns = (e: ParsedEvent) => ({ event_id: e.eventId, event_timestamp: e.ts });
