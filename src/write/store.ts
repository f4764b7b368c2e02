import { getOrCreate, groupsBy } from "../collections.ts";
import { ConcurrentChangeError } from "../errors.ts";
import type { Children, Op, Row, TableSpec } from "../plan/ops.ts";
import { type DbState, entityKey, type Plan, uniqueKey, type Write } from "../plan/plan.ts";
import { writeChildren } from "./children.ts";
import { compareKeys, sortByKey } from "./key-order.ts";
import { listed, patchBytes, withinPacket } from "./row-size.ts";
import { run, type SqlRunner } from "./sql-runner.ts";
import {
  chunksBySize,
  deleteByKey,
  rowBytes,
  selectOwners,
  selectTombstones,
  selectVersions,
  updateRows,
  upsertRows,
  upsertTombstones,
  valueBytes,
  valuesBudget,
} from "./statements.ts";

// The I/O half of applying a batch: read the state the planner needs, under lock, and write its
// plan (a round's child rows: children.ts). Depends only on SqlRunner, so any mysql2 connection
// (or a test double that records statements) will do.

export type { SqlRunner };

/** Rows written, per table and operation, for metrics and the benchmark. */
export type RowCounts = Map<string, number>;

/** Adds `from`'s counts into `into`. */
export function addRowCounts(into: RowCounts, from: RowCounts): void {
  for (const [key, n] of from) into.set(key, (into.get(key) ?? 0) + n);
}

/**
 * Locks and reads the rows, owners of unique keys and tombstones the ops touch. Ids are sent and
 * read back exactly as they are: the key columns compare every character (migration 004).
 */
export async function loadState(conn: SqlRunner, ops: readonly Op[], maxAllowedPacket: number): Promise<DbState> {
  const budget = valuesBudget(maxAllowedPacket);
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
  // The rows holding the unique values are found first, without locks, and locked below with
  // the rest: tables in name order, rows by primary key in sorted order, so concurrent
  // transactions take their locks in one global order.
  for (const [table, byColumn] of uniques) {
    for (const [column, values] of byColumn) {
      for (const part of chunksBySize([...values].sort(), budget, listed)) {
        for (const r of await run(conn, selectOwners(table, column, part))) {
          getOrCreate(ids, table, () => new Set<string>()).add(r.id as string);
        }
      }
    }
  }
  for (const [table, set] of [...ids].sort(([a], [b]) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    for (const part of chunksBySize([...set].sort(), budget, listed)) {
      for (const r of await run(conn, selectVersions(table, part))) {
        state.rows.set(entityKey(table.name, r.id as string), r.ts ?? "");
        for (const column of table.unique) {
          const value = r[column];
          if (typeof value === "string") state.owners.set(uniqueKey(table.name, column, value), r.id as string);
        }
      }
    }
  }
  // The tombstones of absent rows, locked: an insert must not pass a delete committed meanwhile.
  // Those of stored rows too, read without locks (their rows are locked): a row older than its
  // tombstone is one a delete on another partition crossed, and the planner must see that it is
  // deleted (plan/plan.ts). Locked, they took the whole small tombstone table's locks at every batch.
  for (const [table, set] of ids) {
    if (!table.tombstones) continue;
    const isStored = (id: string) => state.rows.has(entityKey(table.name, id));
    const absent = await readTombstones(
      conn,
      table,
      [...set].filter((id) => !isStored(id)),
      budget,
      true,
    );
    const stored = await readTombstones(conn, table, [...set].filter(isStored), budget, false);
    for (const [id, ts] of [...absent, ...stored]) state.tombstones.set(entityKey(table.name, id), ts);
  }
  return state;
}

/** Reads (and with `lock`, locks) the tombstones of these ids, in sorted order: id → timestamp of the delete. */
async function readTombstones(
  conn: SqlRunner,
  table: TableSpec,
  ids: Iterable<string>,
  budget: number,
  lock = true,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const part of chunksBySize([...ids].sort(), budget, listed)) {
    for (const r of await run(conn, selectTombstones(table, part, lock))) found.set(r.id as string, r.ts as string);
  }
  return found;
}

/**
 * Writes a plan: round by round; in a round parents and their children, then deletes, then
 * patches. Every multi-row statement is cut so its text stays under `maxAllowedPacket`. Rows go in
 * key order, and a round's deletes (with what they cascade to) after its inserts, so concurrent
 * transactions take their locks on an index in one order (key-order.ts). The entities of a round
 * are distinct, so its deletes and inserts never touch one row.
 */
export async function executePlan(db: SqlRunner, plan: Plan, maxAllowedPacket: number): Promise<RowCounts> {
  const budget = valuesBudget(maxAllowedPacket);
  const conn = withinPacket(db, maxAllowedPacket);
  const counts: RowCounts = new Map();
  const count = (table: TableSpec, op: string, n: number) => {
    const key = `${table.name}:${op}`;
    counts.set(key, (counts.get(key) ?? 0) + n);
  };
  for (const round of plan.rounds) {
    for (const [table, writes] of byTable(round, "upsert")) await writeUpserts(conn, table, writes, budget, count);
    for (const [table, writes] of byTable(round, "delete")) {
      // One statement a row: a DELETE by a key list that is much of a small table (suppliers, or
      // any table early on) scans it, on both servers and whatever the index hint, and waits on
      // every row other transactions hold; by one key it reads that row alone. Deletes are a
      // small part of the events, and of a plan's statements.
      for (const key of writes.map((w) => w.id).sort(compareKeys)) await run(conn, deleteByKey(table, [key]));
      count(table, "delete", writes.length);
    }
    for (const [table, writes] of byTable(round, "patch")) {
      await writePatches(conn, table, writes, budget);
      count(table, "update", writes.length);
    }
  }
  await recheckTombstones(conn, plan, budget);
  if (plan.tombstones.length > 0) {
    const rows = plan.tombstones
      .map((t) => ({ entityType: t.table.name, id: t.id, ts: t.ts, eventId: t.eventId }))
      .sort((a, b) => compareKeys(a.entityType, b.entityType) || compareKeys(a.id, b.id));
    // The timestamp's quoted text and the row's separators are well under 64 bytes.
    const size = (r: (typeof rows)[number]) => valueBytes(r.entityType) + valueBytes(r.id) + valueBytes(r.eventId) + 64;
    for (const part of chunksBySize(rows, budget, size)) await run(conn, upsertTombstones(part));
    await recheckRows(conn, plan, budget);
  }
  return counts;
}

type WriteOf<K extends Write["kind"]> = Extract<Write, { kind: K }>;

/** A round's writes of one kind, by table. */
function byTable<K extends Write["kind"]>(round: readonly Write[], kind: K): Map<TableSpec, WriteOf<K>[]> {
  const groups = new Map<TableSpec, WriteOf<K>[]>();
  for (const w of round) if (w.kind === kind) getOrCreate(groups, w.table, () => []).push(w as WriteOf<K>);
  return groups;
}

/** One round's upserts of one table, then their children. */
async function writeUpserts(
  conn: SqlRunner,
  table: TableSpec,
  writes: WriteOf<"upsert">[],
  budget: number,
  count: (table: TableSpec, op: string, n: number) => void,
): Promise<void> {
  sortByKey(writes, (w) => w.id);
  // Rows read as absent are inserted plainly: should another transaction have inserted one
  // since (an entity sent on two partitions, an order number taken by another order), the
  // server refuses it as a duplicate, and the batch is applied again (transaction.ts), planned
  // against what it then finds. An upsert would have changed that other row. Stored rows are
  // written by the columns their writes change: one list per table, and every column for a row
  // deleted and created again in the batch (plan/plan.ts).
  const groups: [update: readonly string[], rows: WriteOf<"upsert">[]][] = [
    [[], writes.filter((w) => w.absent)],
    ...groupsBy(
      writes.filter((w) => !w.absent),
      (w) => w.update,
      sameColumns,
    ),
  ];
  for (const [update, rows] of groups) {
    for (const part of chunksBySize(rows, budget, (w) => rowBytes(w.row, table.columns))) {
      await run(
        conn,
        upsertRows(
          table,
          part.map((w) => w.row),
          update,
        ),
      );
    }
  }
  count(table, "upsert", writes.length);
  // Children are written together, in one pass, where their writes agree on how (all of a
  // table's do, unless one overwrites a row deleted and created again: plan/plan.ts).
  const bySpec = groupsBy(
    writes.filter((w) => w.children !== undefined),
    (w) => w.children as Children,
    (a, b) => a.mode === b.mode && sameColumns(a.update, b.update),
  );
  for (const [spec, parents] of bySpec) {
    const rows = parents.flatMap((w) => w.children?.rows ?? []);
    const created = new Set(parents.filter((w) => w.absent).map((w) => w.id));
    await writeChildren(
      conn,
      spec,
      parents.map((w) => w.id),
      rows,
      budget,
      created,
    );
    count(spec.table, spec.mode === "replace" ? "replace" : "upsert", rows.length);
  }
}

const sameColumns = (a: readonly string[], b: readonly string[]) =>
  a === b || (a.length === b.length && a.every((c, i) => c === b[i]));

/** One round's patches of one table: one statement per set of columns (soft deletes and cancels each change the same ones). */
async function writePatches(conn: SqlRunner, table: TableSpec, writes: WriteOf<"patch">[], budget: number) {
  const groups = new Map<string, { columns: string[]; rows: { id: string; set: Row }[] }>();
  for (const w of writes) {
    const columns = Object.keys(w.set);
    getOrCreate(groups, columns.join("\u0000"), () => ({ columns, rows: [] })).rows.push(w);
  }
  for (const { columns, rows } of groups.values()) {
    if (columns.length === 0) continue; // nothing to change
    for (const part of chunksBySize(rows, budget, (r) => patchBytes(r, columns))) {
      await run(conn, updateRows(table, columns, part));
    }
  }
}

/**
 * Locks and reads again, now that their tombstones are written and locked, the rows of the
 * entities this plan deleted that had no row when it read them (a stored row it locked, no other
 * transaction can insert). A row older than the delete is one another transaction inserted after
 * this one read it as absent (a create on another partition): it must not outlive the delete, and
 * the transaction is run again (ConcurrentChangeError), to delete it. Locked, so an insert not yet
 * committed is waited for; one that comes later rechecks the tombstone (recheckTombstones).
 */
async function recheckRows(conn: SqlRunner, plan: Plan, budget: number): Promise<void> {
  const deleted = new Map<TableSpec, Map<string, string>>();
  for (const t of plan.tombstones) {
    if (!t.absent) continue;
    getOrCreate(deleted, t.table, () => new Map<string, string>()).set(t.id, t.ts);
  }
  for (const [table, byId] of deleted) {
    for (const part of chunksBySize([...byId.keys()].sort(compareKeys), budget, listed)) {
      for (const r of await run(conn, selectVersions(table, part))) {
        const deletedAt = byId.get(r.id as string) ?? "";
        if ((r.ts ?? "") < deletedAt) {
          throw new ConcurrentChangeError(
            `${table.name} row ${r.id} was inserted by another transaction (${r.ts}) while this one deleted it (${deletedAt})`,
          );
        }
      }
    }
  }
}

/**
 * Reads again the tombstones of the rows the plan inserted as absent, now that they are locked.
 * A delete another transaction committed since this one's read leaves no row for the insert to
 * collide with, only its tombstone: one newer than an inserted row means the row must not be
 * there, and the transaction is run again (ConcurrentChangeError), to find the row stale. A delete
 * that comes later waits for the inserted row's lock and sees it.
 */
async function recheckTombstones(conn: SqlRunner, plan: Plan, budget: number): Promise<void> {
  const inserted = new Map<TableSpec, Map<string, string>>();
  for (const round of plan.rounds) {
    for (const w of round) {
      if (w.kind !== "upsert" || !w.absent || !w.table.tombstones) continue;
      const byId = getOrCreate(inserted, w.table, () => new Map<string, string>());
      if ((byId.get(w.id) ?? "") < w.ts) byId.set(w.id, w.ts);
    }
  }
  for (const [table, byId] of inserted) {
    for (const [id, deleted] of await readTombstones(conn, table, byId.keys(), budget)) {
      if (deleted > (byId.get(id) ?? deleted)) {
        throw new ConcurrentChangeError(
          `${table.name} row ${id} was deleted by another transaction (${deleted}) after this one read it`,
        );
      }
    }
  }
}
