import { getOrCreate } from "../collections.ts";
import type { Children, Row } from "../plan/ops.ts";
import { compareKeys, sortByKey } from "./key-order.ts";
import { listed, storedRowBytes } from "./row-size.ts";
import { run, type SqlRunner } from "./sql-runner.ts";
import {
  chunks,
  chunksBySize,
  deleteByKey,
  MAX_PARENTS_PER_STATEMENT,
  rowBytes,
  type StoredChild,
  selectChildren,
  selectNamedChildren,
  updateStoredRows,
  upsertRows,
} from "./statements.ts";

// A round's child rows (variants, order items), written against what is stored under their parents.

/**
 * Replace mode's stored children held at once while a round's are matched, and read at most by
 * one statement (a parent's are at most its last document's: replace keeps exactly those).
 * A usual round holds a few thousand, and is read and written in one pass; past this, the parents
 * read whole so far are written before more are read. Without it, a round of 120 products of
 * 7,000 stored variants each held 840,000 and blocked the thread, and 100 parents of a 1 MiB
 * event's worth of children each would have run the heap out.
 */
export const STORED_CHILDREN_AT_ONCE = 20_000;

/** A parent's stored children: child key → row id. Keys compare exactly, as the columns do (migration 004). */
type StoredOf = Map<string, Map<unknown, number>>;

/**
 * Writes the children of `parents` (one round's, one child table). Each child is matched to the
 * row stored under its parent with the same key: a stored child is updated in place by its row
 * id, and only a new one is inserted. An upsert on the unique (parent, child key) would do the
 * same in one statement, but InnoDB takes an AUTO_INCREMENT value for every row it is given,
 * stored or not, so rewriting a product's variants on every product event would run the INT ids
 * out; it also costs the server more (docs/decisions.md). A new child is inserted plainly: its
 * key is not stored under its parent, which this transaction holds locked, so a duplicate-key
 * error is never a row to overwrite. Replace mode reads a parent's stored children whole and then
 * deletes those no document holds (their keys are not the new ones', so the order is free); merge
 * mode reads only the stored children the round names (writeNamed).
 *
 * Parents are written in the index's order, each parent's rows in their key's, and deletes come
 * after inserts: a transaction then takes its locks on the unique (parent, child key) index in
 * one pass in the server's order of it. An insert whose key has a deleted twin not yet purged
 * locks the entries after it too, which may be another parent's, written by another partition's
 * transaction; in any other order two such transactions deadlocked (key-order.ts).
 */
export async function writeChildren(
  conn: SqlRunner,
  spec: Children,
  parents: string[],
  rows: Row[],
  budget: number,
  /** Parents this round inserts: no child of theirs is stored (a child's foreign key cascades). */
  created: ReadonlySet<string> = new Set(),
): Promise<void> {
  const { table, childKey } = spec;
  const rowId = table.rowId;
  if (rowId === undefined) throw new Error(`child table ${table.name} is defined without its rowId`);
  const rowsOf = new Map<unknown, Row[]>();
  for (const row of rows) getOrCreate(rowsOf, row[table.key], () => []).push(row);
  for (const list of rowsOf.values()) if (list.length > 1) sortByKey(list, (row) => row[childKey] as string);
  if (spec.mode === "merge") return writeNamed(conn, spec, [...parents].sort(compareKeys), rowsOf, budget, created);
  const stored: StoredOf = new Map();
  let held = 0;
  /** Parents whose stored children are all read, and not yet written. */
  let whole: string[] = [];
  const writeWhole = async (done: string[]) => {
    await writeMatched(conn, spec, done, stored, rowsOf, budget);
    for (const p of done) {
      held -= stored.get(p)?.size ?? 0;
      stored.delete(p);
    }
  };
  for (const part of chunks([...parents].sort(compareKeys), MAX_PARENTS_PER_STATEMENT)) {
    let after: StoredChild | undefined;
    let written = 0;
    for (;;) {
      const page = await run<StoredChild>(
        conn,
        selectChildren(table, rowId, childKey, part, STORED_CHILDREN_AT_ONCE, after),
      );
      for (const r of page) getOrCreate(stored, r.parent, () => new Map()).set(r.child, r.row_id);
      held += page.length;
      if (page.length < STORED_CHILDREN_AT_ONCE) break;
      after = page[page.length - 1] as StoredChild;
      if (held < STORED_CHILDREN_AT_ONCE) continue;
      // Pages come in (parent, child) order: every parent before the page's last is read whole.
      const last = after.parent;
      const before = part.slice(written).filter((p) => compareKeys(p, last) < 0);
      await writeWhole([...whole, ...before]);
      whole = [];
      written += before.length;
    }
    whole.push(...part.slice(written));
    if (held >= STORED_CHILDREN_AT_ONCE) {
      await writeWhole(whole);
      whole = [];
    }
  }
  if (whole.length > 0) await writeWhole(whole);
}

/** The most children merge mode looks up by key in one statement (and at most a statement's budget of them). */
export const NAMED_CHILDREN_AT_ONCE = 1_000;

/**
 * Merge mode: the round's children, in their parents' index order and their keys', looked up by
 * key, at most NAMED_CHILDREN_AT_ONCE at a time, then updated or inserted. A parent's stored
 * children that no event names are not read: a producer may add new items to one order, event
 * after event, without end, and reading them all would make each later event read (and hold) all
 * of them.
 * The children of a parent this round inserts are not looked up: none is stored. Another
 * partition's transaction may have inserted the parent and some of them meanwhile (one entity on
 * two partitions); this one's upsert of the parent then waited for it, a child of one key is a
 * duplicate-key error, and the transaction runs again, against them (transaction.ts); a child of
 * another key is kept, as merge keeps it anyway.
 */
async function writeNamed(
  conn: SqlRunner,
  spec: Children,
  parents: readonly string[],
  rowsOf: Map<unknown, Row[]>,
  budget: number,
  created: ReadonlySet<string>,
): Promise<void> {
  const { table, childKey } = spec;
  const rowId = table.rowId as string;
  /** The rows to write next, in order; `looked` of them, of parents stored before, are looked up. */
  let part: Row[] = [];
  let looked = 0;
  let bytes = 0;
  const write = async () => {
    if (part.length === 0) return;
    const wanted: [string, string[]][] = [];
    for (const row of part) {
      const parent = row[table.key] as string;
      if (created.has(parent)) continue;
      if (wanted.at(-1)?.[0] !== parent) wanted.push([parent, []]);
      wanted.at(-1)?.[1].push(row[childKey] as string);
    }
    const stored: StoredOf = new Map();
    const found =
      wanted.length === 0 ? [] : await run<StoredChild>(conn, selectNamedChildren(table, rowId, childKey, wanted));
    for (const r of found) getOrCreate(stored, r.parent, () => new Map()).set(r.child, r.row_id);
    const kept: [number, Row][] = [];
    const added: Row[] = [];
    for (const row of part) {
      const n = stored.get(row[table.key] as string)?.get(row[childKey]);
      if (n === undefined) added.push(row);
      else kept.push([n, row]);
    }
    await writeRows(conn, spec, kept, added, budget);
    [part, looked, bytes] = [[], 0, 0];
  };
  for (const parent of parents) {
    const fresh = created.has(parent);
    for (const row of rowsOf.get(parent) ?? []) {
      const size = fresh ? 0 : listed(row[childKey]) + listed(parent) + 16;
      if (looked >= NAMED_CHILDREN_AT_ONCE || (looked > 0 && bytes + size > budget)) await write();
      part.push(row);
      if (!fresh) looked++;
      bytes += size;
    }
  }
  await write();
}

/** Updates the `kept` children by their row ids, and inserts the `added` ones. */
async function writeRows(conn: SqlRunner, spec: Children, kept: [number, Row][], added: Row[], budget: number) {
  const { table, update } = spec;
  if (update.length > 0) {
    for (const part of chunksBySize(kept, budget, ([, row]) => storedRowBytes(row, table.columns))) {
      await run(conn, updateStoredRows(table, table.rowId as string, part, update));
    }
  }
  // A plain insert: on MySQL a table whose AUTO_INCREMENT ids are used up hands out its largest
  // id again, and an upsert would then overwrite that row, another parent's child.
  for (const part of chunksBySize(added, budget, (row) => rowBytes(row, table.columns))) {
    await run(conn, upsertRows(table, part, []));
  }
}

/** Replace mode: deletes, updates and inserts the children of `parents`, whose stored children are all in `stored`. */
async function writeMatched(
  conn: SqlRunner,
  spec: Children,
  parents: string[],
  stored: StoredOf,
  rowsOf: Map<unknown, Row[]>,
  budget: number,
) {
  const { table, childKey } = spec;
  const rowId = table.rowId as string;
  const kept: [number, Row][] = [];
  const added: Row[] = [];
  const gone: number[] = [];
  for (const parent of parents) {
    const children = stored.get(parent);
    const keep = new Set<number>();
    for (const row of rowsOf.get(parent) ?? []) {
      const n = children?.get(row[childKey]);
      if (n === undefined) added.push(row);
      else {
        kept.push([n, row]);
        keep.add(n);
      }
    }
    if (children === undefined || keep.size === children.size) continue;
    for (const [, n] of sortByKey([...children], ([key]) => key as string)) if (!keep.has(n)) gone.push(n);
  }
  await writeRows(conn, spec, kept, added, budget);
  for (const part of chunksBySize(gone, budget, listed)) await run(conn, deleteByKey(table, part, rowId));
}
