import type { ParsedEvent } from "../decode/envelope.ts";
import { compile, Maybe, ObjectId, Type } from "../decode/schema-kit.ts";
import { BadEventError, BadEventReasons } from "../errors.ts";
import type { DeleteOp, PatchOp, TableSpec } from "../plan/ops.ts";

// Deletes carry a small payload naming the id (docs/events.md#small-payloads); without it the
// envelope's entity_id is the id. With it, it must be that id: an event of one entity (its key,
// its partition, its order) must not delete another.
const idPayload = (field: string) => compile(Type.Object({ [field]: Maybe(ObjectId()) }));

function deletedId(e: ParsedEvent, payload: ReturnType<typeof idPayload>, field: string): string {
  const id = (payload.parse(e.data, "data") as Record<string, string | null | undefined>)[field];
  if (id === null || id === undefined || id === e.entityId) return e.entityId;
  throw new BadEventError(BadEventReasons.BAD_FIELD, `data.${field} ${id} is not the event's entity_id ${e.entityId}`);
}

/** Soft delete (users, posts): deleted_at ← the event's timestamp, so replays give the same row. */
export function softDelete(table: TableSpec, idField: string) {
  const payload = idPayload(idField);
  return (e: ParsedEvent): PatchOp => {
    return {
      kind: "patch",
      table,
      id: deletedId(e, payload, idField),
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
    return { kind: "delete", table, id: deletedId(e, payload, idField), ts: e.ts, eventId: e.eventId };
  };
}

/** The envelope columns every parent row carries. */
export const versionColumns = (e: ParsedEvent) => ({ event_id: e.eventId, event_timestamp: e.ts });
