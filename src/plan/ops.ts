import type { BadEventError } from "../errors.ts";

// What an event asks of the database, as data. Domains turn events into Ops (pure); the planner
// folds the Ops of a batch against the rows' current timestamps; the writer turns the plan into SQL.

export type SqlValue = string | number | null;
export type Row = Record<string, SqlValue>;

export interface TableSpec {
  name: string;
  /** Primary key column of a parent table, or the parent's key column in a child table. */
  key: string;
  columns: readonly string[];
  /** Unique business keys besides the primary key (orders.order_number). */
  unique: readonly string[];
  /** Hard deletes leave a tombstone so an older event can't bring the row back. */
  tombstones: boolean;
  /** JSON columns: not bounded like TEXT, only by what one statement may carry. */
  json: readonly string[];
  /** A child table's surrogate AUTO_INCREMENT primary key (`id`), by which stored children are written. */
  rowId?: string;
  /**
   * The columns that compare exactly (a NO PAD binary collation, which the table's migration sets
   * and the start checks: db/schema-drift.ts): `key`, `unique`, and the ids and child keys it holds.
   */
  exactColumns: readonly string[];
}

export interface Children {
  table: TableSpec;
  rows: Row[];
  /** Both modes insert new rows and update the `update` columns of existing ones; replace also deletes the parent's other child rows. */
  mode: "replace" | "merge";
  /** Identifies a child within its parent (variant_key, item_id). */
  childKey: string;
  update: readonly string[];
}

interface OpBase {
  table: TableSpec;
  /** The event's timestamp as DATETIME(6) text: the row's version. */
  ts: string;
  eventId: string;
}

/** Insert the row, or on an existing row replace the `update` columns. */
export interface UpsertOp extends OpBase {
  kind: "upsert";
  id: string;
  row: Row;
  update: readonly string[];
  children?: Children;
}

/** Change some columns of an existing row, found by primary key or by a unique column. */
export interface PatchOp extends OpBase {
  kind: "patch";
  id?: string;
  /** Found by a unique column's value; `expect` is the id it must belong to (the event's entity). */
  lookup?: { column: string; value: string; expect?: string };
  set: Row;
}

/** Hard delete; the table's tombstone keeps the delete's timestamp. */
export interface DeleteOp extends OpBase {
  kind: "delete";
  id: string;
}

export type Op = UpsertOp | PatchOp | DeleteOp;

export function defineTable<const C extends string>(
  name: string,
  key: C,
  columns: readonly C[],
  options: {
    unique?: readonly C[];
    tombstones?: boolean;
    rowId?: string;
    json?: readonly C[];
    /** Columns besides the keys that must compare exactly: another entity's id, a child's key within its parent. */
    exact?: readonly C[];
  } = {},
): TableSpec {
  const unique = options.unique ?? [];
  const table: TableSpec = {
    name,
    key,
    columns,
    unique,
    tombstones: options.tombstones ?? false,
    json: options.json ?? [],
    exactColumns: [key, ...unique, ...(options.exact ?? [])],
  };
  if (options.rowId !== undefined) table.rowId = options.rowId;
  return table;
}

/** The columns an upsert replaces on an existing row: every column except `keep`. */
export const allBut = (columns: readonly string[], keep: readonly string[]) => columns.filter((c) => !keep.includes(c));

/** What became of an event: applied, skipped (and why), or rejected, to be dead-lettered. */
export type SkipReason = "stale" | "no_row" | "unknown_type" | "null_value";
export type Outcome =
  | { kind: "applied" }
  | { kind: "skipped"; reason: SkipReason }
  /** `unexpected`: what was thrown when the event's handling failed in the code (a bug), for the log only. */
  | { kind: "rejected"; error: BadEventError; unexpected?: unknown };
