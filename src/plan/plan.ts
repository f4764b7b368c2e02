import { BadEventError, BadEventReasons } from "../errors.ts";
import { addDelete, addPatch, addUpsert, type EntityWrites } from "./coalesce.ts";
import type { Children, DeleteOp, Op, Outcome, PatchOp, Row, SkipReason, TableSpec, UpsertOp } from "./ops.ts";

// The planner: pure. Given the Ops of one partition's batch, in order, and what the database
// holds for the entities they touch, it decides per event whether it applies (docs/events.md)
// and folds what applies into as few writes as possible (coalesce.ts): consecutive full-state
// events of one entity become one row, a patch is folded into the upsert before it, and a delete
// discards the writes before it. A delete and a create again of an entity whose children are
// replaced become one overwrite of the stored row. Each entity keeps its own order; the writes
// come out in rounds, round k holding each entity's k-th write, so a restore after a delete runs
// after the delete.

/** What the database holds, read under lock at the start of the transaction. */
export interface DbState {
  /** entityKey → event_timestamp of the existing row ("" when the row has none). */
  rows: Map<string, string>;
  /** entityKey → timestamp of the newest hard delete. */
  tombstones: Map<string, string>;
  /** uniqueKey → id of the row holding that unique value. */
  owners: Map<string, string>;
}

export type Write =
  | {
      kind: "upsert";
      table: TableSpec;
      id: string;
      row: Row;
      update: readonly string[];
      children?: Children;
      /**
       * The row is not in the table when this write runs, as read under lock: it is inserted
       * plainly. A row of this key, or of one of its unique values, that another transaction
       * inserted since is then a duplicate-key error, never a row this event overwrites.
       */
      absent: boolean;
      /** The timestamp the row is written with: its last event's. */
      ts: string;
    }
  | { kind: "patch"; table: TableSpec; id: string; set: Row }
  | { kind: "delete"; table: TableSpec; id: string };

export interface Tombstone {
  table: TableSpec;
  id: string;
  ts: string;
  eventId: string;
  /** The entity had no row when the batch read it: another transaction may insert one meanwhile. */
  absent: boolean;
}

export interface Plan {
  outcomes: Outcome[];
  rounds: Write[][];
  tombstones: Tombstone[];
}

// Keys compare exactly (docs/events.md#bad-input), as the key columns do since migration 004: ids, order numbers
// and child keys that differ in any character, case or trailing spaces included, are two rows.
export const entityKey = (table: string, id: string) => `${table}\u0000${id}`;
export const uniqueKey = (table: string, column: string, value: string) => `${table}\u0000${column}\u0000${value}`;

const APPLIED: Outcome = { kind: "applied" };
const skipped = (reason: SkipReason): Outcome => ({ kind: "skipped", reason });

interface Entity extends EntityWrites {
  table: TableSpec;
  id: string;
  exists: boolean;
  ts: string;
}

/** The batch's view of the entities it touches: what the database holds, as this batch changes it. */
class Batch {
  readonly entities = new Map<string, Entity>();
  readonly tombstones = new Map<string, Tombstone>();
  readonly owners: Map<string, string>;
  readonly #db: DbState;

  constructor(db: DbState) {
    this.#db = db;
    this.owners = new Map(db.owners);
  }

  entity(table: TableSpec, id: string): Entity {
    const key = entityKey(table.name, id);
    let e = this.entities.get(key);
    if (!e) {
      const ts = this.#db.rows.get(key);
      e = { table, id, stored: ts !== undefined, exists: ts !== undefined, ts: ts ?? "", writes: [] };
      const deleted = this.#db.tombstones.get(key);
      if (ts !== undefined && deleted !== undefined && ts < deleted) {
        // A row older than its entity's delete: a create and a delete of one entity sent on two
        // partitions crossed (write/store.ts closes that race; a row left by it before stays). The
        // delete is the newer event: the entity is deleted, and its row goes with this batch.
        e.exists = false;
        e.ts = "";
        e.writes.push({ kind: "delete", table, id });
      }
      this.entities.set(key, e);
    }
    return e;
  }

  tombstoneOf(e: Entity): string | undefined {
    const key = entityKey(e.table.name, e.id);
    return this.tombstones.get(key)?.ts ?? this.#db.tombstones.get(key);
  }
}

export function plan(ops: readonly (Op | Outcome)[], db: DbState): Plan {
  const batch = new Batch(db);
  const outcomes = ops.map((op): Outcome => {
    if (!("table" in op)) return op;
    switch (op.kind) {
      case "upsert":
        return planUpsert(batch, op);
      case "patch":
        return planPatch(batch, op);
      case "delete":
        return planDelete(batch, op);
      default:
        return op satisfies never;
    }
  });
  const rounds: Write[][] = [];
  for (const e of batch.entities.values()) {
    e.writes.forEach((w, i) => {
      rounds[i] ??= [];
      rounds[i].push(w);
    });
  }
  return { outcomes, rounds, tombstones: [...batch.tombstones.values()] };
}

/**
 * The value of unique `column` that `op` writes, checked against its holder and then held by
 * `op`'s row: none when the row exists and its update leaves the column out (an order keeps the
 * number it was created with), whatever the event says. Checked all the same, the event was
 * applied or refused by whether another entity's event, on another partition, had taken that
 * value yet: a replay decided otherwise than the first run.
 */
function writtenUnique(op: UpsertOp, absent: boolean, column: string): string | undefined {
  const value = op.row[column];
  return typeof value === "string" && (absent || op.update.includes(column)) ? value : undefined;
}

function planUpsert(batch: Batch, op: UpsertOp): Outcome {
  const e = batch.entity(op.table, op.id);
  if (e.exists ? op.ts < e.ts : op.ts < (batch.tombstoneOf(e) ?? "")) return skipped("stale");
  const absent = !e.exists;
  for (const column of op.table.unique) {
    const value = writtenUnique(op, absent, column);
    if (value === undefined) continue;
    const owner = batch.owners.get(uniqueKey(op.table.name, column, value));
    if (owner !== undefined && owner !== op.id) {
      return {
        kind: "rejected",
        error: new BadEventError(
          BadEventReasons.REJECTED_BY_DATABASE,
          `data.${column} already belongs to ${op.table.name} row ${owner}`,
        ),
      };
    }
  }
  for (const column of op.table.unique) {
    const value = writtenUnique(op, absent, column);
    if (value !== undefined) batch.owners.set(uniqueKey(op.table.name, column, value), op.id);
  }
  e.exists = true;
  e.ts = op.ts;
  addUpsert(e, {
    kind: "upsert",
    table: op.table,
    id: op.id,
    row: op.row,
    update: op.update,
    children: op.children,
    absent,
    ts: op.ts,
  });
  return APPLIED;
}

function planPatch(batch: Batch, op: PatchOp): Outcome {
  const id = op.id ?? (op.lookup && batch.owners.get(uniqueKey(op.table.name, op.lookup.column, op.lookup.value)));
  if (id === undefined) return skipped("no_row");
  if (op.lookup?.expect !== undefined && id !== op.lookup.expect) {
    // An event of one entity must not change another (order.cancelled naming another order's number).
    return {
      kind: "rejected",
      error: new BadEventError(
        BadEventReasons.BAD_FIELD,
        `data.${op.lookup.column} belongs to ${op.table.name} row ${id}, not to the event's entity_id ${op.lookup.expect}`,
      ),
    };
  }
  const e = batch.entity(op.table, id);
  if (!e.exists) return skipped("no_row");
  if (op.ts < e.ts) return skipped("stale");
  e.ts = op.ts;
  addPatch(e, { kind: "patch", table: op.table, id: e.id, set: op.set });
  return APPLIED;
}

function planDelete(batch: Batch, op: DeleteOp): Outcome {
  const e = batch.entity(op.table, op.id);
  if (e.exists && op.ts < e.ts) return skipped("stale");
  // Remembered even when there is no row: an older create arriving later must not resurrect it.
  const previous = batch.tombstoneOf(e);
  if (previous === undefined || op.ts >= previous) {
    batch.tombstones.set(entityKey(op.table.name, op.id), {
      table: op.table,
      id: op.id,
      ts: op.ts,
      eventId: op.eventId,
      absent: !e.stored,
    });
  }
  if (!e.exists) return skipped("no_row");
  e.exists = false;
  e.ts = "";
  addDelete(e, { kind: "delete", table: op.table, id: e.id });
  return APPLIED;
}
