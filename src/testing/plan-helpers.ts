import {
  type Children,
  type DeleteOp,
  defineTable,
  type Outcome,
  type PatchOp,
  type Row,
  type UpsertOp,
} from "../plan/ops.ts";
import { type DbState, entityKey, uniqueKey, type Write } from "../plan/plan.ts";

// Tables, operations and database states for the planner's unit tests (src/plan/plan*.test.ts).

// A parent with a unique business key and tombstones, and a child table keyed within its parent.
export const things = defineTable(
  "things",
  "id",
  ["id", "code", "name", "note", "created_at", "event_id", "event_timestamp"],
  {
    unique: ["code"],
    tombstones: true,
  },
);
export const parts = defineTable("parts", "id", ["id", "part_key", "qty", "label"]);
export const UPDATE = ["name", "note", "event_id", "event_timestamp"] as const;

export const T = (n: number) => `2026-02-11 10:00:${String(n).padStart(2, "0")}.000000`;
export const APPLIED: Outcome = { kind: "applied" };
export const STALE: Outcome = { kind: "skipped", reason: "stale" };
export const NO_ROW: Outcome = { kind: "skipped", reason: "no_row" };

export const rowOf = (id: string, ts: string, fields: Row = {}): Row => ({
  id,
  code: null,
  name: `name@${ts}`,
  note: null,
  created_at: ts,
  event_id: `e@${ts}`,
  event_timestamp: ts,
  ...fields,
});

export function upsert(id: string, ts: string, fields: Row = {}, children?: Children): UpsertOp {
  return {
    kind: "upsert",
    table: things,
    id,
    ts,
    eventId: `e@${ts}`,
    row: rowOf(id, ts, fields),
    update: UPDATE,
    ...(children ? { children } : {}),
  };
}

export const patch = (id: string, ts: string, set: Row): PatchOp => ({
  kind: "patch",
  table: things,
  id,
  ts,
  eventId: `e@${ts}`,
  set,
});

export const patchByCode = (code: string, ts: string, set: Row): PatchOp => ({
  kind: "patch",
  table: things,
  lookup: { column: "code", value: code },
  ts,
  eventId: `e@${ts}`,
  set,
});

export const del = (id: string, ts: string): DeleteOp => ({
  kind: "delete",
  table: things,
  id,
  ts,
  eventId: `e@${ts}`,
});

export function db(
  state: { rows?: [string, string][]; tombstones?: [string, string][]; owners?: [string, string][] } = {},
): DbState {
  return {
    rows: new Map((state.rows ?? []).map(([id, ts]) => [entityKey("things", id), ts])),
    tombstones: new Map((state.tombstones ?? []).map(([id, ts]) => [entityKey("things", id), ts])),
    owners: new Map((state.owners ?? []).map(([code, id]) => [uniqueKey("things", "code", code), id])),
  };
}

/** The write of an upsert whose row is not in the table when it runs: an insert. */
export const insertWrite = (op: UpsertOp, row: Row = op.row, children: Children | undefined = op.children): Write =>
  upsertWrite(op, row, children, true);

export const upsertWrite = (
  op: UpsertOp,
  row: Row = op.row,
  children: Children | undefined = op.children,
  absent = false,
): Write => ({
  kind: "upsert",
  table: op.table,
  id: op.id,
  row,
  update: op.update,
  children,
  absent,
  ts: op.ts,
});

export const partsOf = (mode: Children["mode"], rows: Row[]): Children => ({
  table: parts,
  rows,
  mode,
  childKey: "part_key",
  update: ["qty"],
});
