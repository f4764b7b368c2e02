import { getOrCreate } from "../collections.ts";
import type { Children, Op, Row, TableSpec } from "./ops.ts";
import { type DbState, entityKey, type Plan, uniqueKey, type Write } from "./plan.ts";
import {
  chunks,
  deleteByKey,
  MAX_PARENTS_PER_STATEMENT,
  type Statement,
  selectChildren,
  selectOwners,
  selectTombstones,
  selectVersions,
  updateRows,
  updateStoredRows,
  upsertRows,
  upsertTombstones,
} from "./sql.ts";

// The I/O half of applying a batch: read the state the planner needs, under lock, and write its
// plan. Depends only on this narrow interface, so any mysql2 connection (or a test double that
// records statements) will do.

export interface SqlRunner {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

/** Rows written, per table and operation, for metrics and the benchmark. */
export type RowCounts = Map<string, number>;

/** Runs a statement; for a read, its rows. */
async function run<T = Record<string, string>>(conn: SqlRunner, s: Statement): Promise<T[]> {
  const [rows] = await conn.query(s.sql, s.values);
  return rows as T[];
}

/** Locks and reads the rows, owners of unique keys and tombstones the ops touch. */
export async function loadState(conn: SqlRunner, ops: readonly Op[]): Promise<DbState> {
  const ids = new Map<TableSpec, Set<string>>();
  const uniques = new Map<TableSpec, Map<string, Set<string>>>();
  const addUnique = (table: TableSpec, column: string, value: unknown) => {
    if (typeof value !== "string") return;
    const byColumn = getOrCreate(uniques, table, () => new Map<string, Set<string>>());
    getOrCreate(byColumn, column, () => new Set<string>()).add(value);
  };
  for (const op of ops) {
    const id = op.id;
    if (id !== undefined) getOrCreate(ids, op.table, () => new Set<string>()).add(id);
    if (op.kind === "upsert") for (const c of op.table.unique) addUnique(op.table, c, op.row[c]);
    if (op.kind === "patch" && op.lookup) addUnique(op.table, op.lookup.column, op.lookup.value);
  }

  const state: DbState = { rows: new Map(), tombstones: new Map(), owners: new Map() };
  // Sorted, so concurrent transactions take row locks in the same order.
  for (const [table, set] of ids) {
    for (const part of chunks([...set].sort())) {
      for (const r of await run(conn, selectVersions(table, part))) {
        state.rows.set(entityKey(table.name, r.id as string), r.ts ?? "");
      }
    }
  }
  for (const [table, byColumn] of uniques) {
    for (const [column, values] of byColumn) {
      for (const part of chunks([...values].sort())) {
        for (const r of await run(conn, selectOwners(table, column, part))) {
          state.owners.set(uniqueKey(table.name, column, r.value as string), r.id as string);
          state.rows.set(entityKey(table.name, r.id as string), r.ts ?? "");
        }
      }
    }
  }
  for (const [table, set] of ids) {
    if (!table.tombstones) continue;
    const absent = [...set].filter((id) => !state.rows.has(entityKey(table.name, id))).sort();
    for (const part of chunks(absent)) {
      for (const r of await run(conn, selectTombstones(table, part))) {
        state.tombstones.set(entityKey(table.name, r.id as string), r.ts as string);
      }
    }
  }
  return state;
}

/** Writes a plan: round by round; in a round deletes, then parents, then their children, then patches. */
export async function executePlan(conn: SqlRunner, plan: Plan): Promise<RowCounts> {
  const counts: RowCounts = new Map();
  const count = (table: TableSpec, op: string, n: number) => {
    const key = `${table.name}:${op}`;
    counts.set(key, (counts.get(key) ?? 0) + n);
  };

  for (const round of plan.rounds) {
    const byTable = <K extends Write["kind"]>(kind: K) => {
      const groups = new Map<TableSpec, Extract<Write, { kind: K }>[]>();
      for (const w of round) {
        if (w.kind !== kind) continue;
        const group = groups.get(w.table) ?? [];
        group.push(w as Extract<Write, { kind: K }>);
        groups.set(w.table, group);
      }
      return groups;
    };

    for (const [table, writes] of byTable("delete")) {
      for (const part of chunks(writes.map((w) => w.id))) await run(conn, deleteByKey(table, part));
      count(table, "delete", writes.length);
    }
    for (const [table, writes] of byTable("upsert")) {
      const update = writes[0]?.update ?? [];
      for (const part of chunks(writes))
        await run(
          conn,
          upsertRows(
            table,
            part.map((w) => w.row),
            update,
          ),
        );
      count(table, "upsert", writes.length);
      const withChildren = writes.filter((w) => w.children);
      const first = withChildren[0]?.children;
      if (!first) continue;
      const rows = withChildren.flatMap((w) => w.children?.rows ?? []);
      await writeChildren(
        conn,
        first,
        withChildren.map((w) => w.id),
        rows,
      );
      count(first.table, first.mode === "replace" ? "replace" : "upsert", rows.length);
    }
    for (const [table, writes] of byTable("patch")) {
      // One statement per set of columns: soft deletes and cancels each change the same ones.
      const groups = new Map<string, { columns: string[]; rows: { id: string; set: Row }[] }>();
      for (const w of writes) {
        const columns = Object.keys(w.set);
        getOrCreate(groups, columns.join("\u0000"), () => ({ columns, rows: [] })).rows.push(w);
      }
      for (const { columns, rows } of groups.values()) {
        if (columns.length === 0) continue; // nothing to change
        for (const part of chunks(rows)) await run(conn, updateRows(table, columns, part));
      }
      count(table, "update", writes.length);
    }
  }
  if (plan.tombstones.length > 0) {
    const rows = plan.tombstones.map((t) => ({ entityType: t.table.name, id: t.id, ts: t.ts, eventId: t.eventId }));
    for (const part of chunks(rows)) await run(conn, upsertTombstones(part));
  }
  return counts;
}

/**
 * Writes the children of `parents` (one round's, one child table). Each child is matched to the
 * row stored under its parent with the same key: a stored child is updated in place by its row
 * id, and only a new one is inserted. An upsert on the unique (parent, child key) would do the
 * same in one statement, but InnoDB takes an AUTO_INCREMENT value for every row it is given,
 * stored or not, so rewriting a product's variants on every product event would run the INT ids
 * out; it also costs the server more (docs/decisions.md). Replace mode first deletes the stored
 * children that no document holds.
 */
async function writeChildren(conn: SqlRunner, spec: Children, parents: string[], rows: Row[]): Promise<void> {
  const { table, childKey, update } = spec;
  const rowId = table.rowId;
  if (rowId === undefined) throw new Error(`child table ${table.name} is defined without its rowId`);
  // Matched by exact text: a key the server's collation calls equal but spelt differently (case,
  // trailing spaces) is written as new, where the unique key still finds the stored row.
  const matchKey = (parent: unknown, child: unknown) => `${parent}\u0000${child}`;
  const stored = new Map<string, number>();
  for (const part of chunks(parents, MAX_PARENTS_PER_STATEMENT)) {
    for (const r of await run<{ row_id: number; parent: string; child: string }>(
      conn,
      selectChildren(table, rowId, childKey, part),
    )) {
      stored.set(matchKey(r.parent, r.child), r.row_id);
    }
  }
  const kept: [number, Row][] = [];
  const added: Row[] = [];
  for (const row of rows) {
    const n = stored.get(matchKey(row[table.key], row[childKey]));
    if (n === undefined) added.push(row);
    else kept.push([n, row]);
  }
  // Before the inserts: a new child may take the key of one that goes.
  if (spec.mode === "replace") {
    const keep = new Set(kept.map(([n]) => n));
    const gone = [...stored.values()].filter((n) => !keep.has(n));
    for (const part of chunks(gone)) await run(conn, deleteByKey(table, part, rowId));
  }
  if (update.length > 0) for (const part of chunks(kept)) await run(conn, updateStoredRows(table, rowId, part, update));
  for (const part of chunks(added)) await run(conn, upsertRows(table, part, update));
}
