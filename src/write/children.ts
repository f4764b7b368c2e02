import { getOrCreate } from "../collections.ts";
import type { Children, Row } from "./ops.ts";
import { listed, storedRowBytes } from "./row-size.ts";
import { run, type SqlRunner } from "./sql-runner.ts";
import {
  chunks,
  chunksBySize,
  deleteByKey,
  MAX_PARENTS_PER_STATEMENT,
  rowBytes,
  selectChildren,
  updateStoredRows,
  upsertRows,
} from "./statements.ts";

// A round's child rows (variants, order items), written against what is stored under their parents.

/**
 * Writes the children of `parents` (one round's, one child table). Each child is matched to the
 * row stored under its parent with the same key: a stored child is updated in place by its row
 * id, and only a new one is inserted. An upsert on the unique (parent, child key) would do the
 * same in one statement, but InnoDB takes an AUTO_INCREMENT value for every row it is given,
 * stored or not, so rewriting a product's variants on every product event would run the INT ids
 * out; it also costs the server more (docs/decisions.md). Replace mode first deletes the stored
 * children that no document holds. A new child is inserted plainly: its key is not stored under
 * its parent, which this transaction holds locked, so a duplicate-key error is never a row to
 * overwrite.
 */
export async function writeChildren(
  conn: SqlRunner,
  spec: Children,
  parents: string[],
  rows: Row[],
  budget: number,
): Promise<void> {
  const { table, childKey } = spec;
  const rowId = table.rowId;
  if (rowId === undefined) throw new Error(`child table ${table.name} is defined without its rowId`);
  const rowsOf = new Map<unknown, Row[]>();
  for (const row of rows) getOrCreate(rowsOf, row[table.key], () => []).push(row);
  // What is held is the stored children of the parents read so far: once they pass
  // STORED_CHILDREN_AT_ONCE, those parents are written before more are read (a round of 120
  // products of 7,000 stored variants each held 840,000 and blocked the thread).
  let stored = new Map<string, number>();
  let pending: string[] = [];
  for (const part of chunks(parents, MAX_PARENTS_PER_STATEMENT)) {
    for (const r of await run<{ row_id: number; parent: string; child: string }>(
      conn,
      selectChildren(table, rowId, childKey, part),
    )) {
      stored.set(childMatchKey(r.parent, r.child), r.row_id);
    }
    pending.push(...part);
    if (stored.size >= STORED_CHILDREN_AT_ONCE) {
      await writeMatched(
        conn,
        spec,
        stored,
        pending.flatMap((p) => rowsOf.get(p) ?? []),
        budget,
      );
      stored = new Map();
      pending = [];
    }
  }
  if (pending.length > 0)
    await writeMatched(
      conn,
      spec,
      stored,
      pending.flatMap((p) => rowsOf.get(p) ?? []),
      budget,
    );
}

/**
 * Stored children held at once while a round's are matched. A usual round holds a few thousand,
 * and is written in one pass.
 */
export const STORED_CHILDREN_AT_ONCE = 20_000;

// Matched by exact text, as the key columns compare (migration 004): "S" and "S " are two
// children, and so are "s" and "S".
const childMatchKey = (parent: unknown, child: unknown) => `${parent}\u0000${child}`;

/** Deletes, updates and inserts `rows`, the children of parents whose stored children are `stored`. */
async function writeMatched(conn: SqlRunner, spec: Children, stored: Map<string, number>, rows: Row[], budget: number) {
  const { table, childKey, update } = spec;
  const rowId = table.rowId as string;
  const kept: [number, Row][] = [];
  const added: Row[] = [];
  for (const row of rows) {
    const n = stored.get(childMatchKey(row[table.key], row[childKey]));
    if (n === undefined) added.push(row);
    else kept.push([n, row]);
  }
  // Before the inserts: a new child may take the key of one that goes.
  if (spec.mode === "replace") {
    const keep = new Set(kept.map(([n]) => n));
    const gone = [...stored.values()].filter((n) => !keep.has(n));
    for (const part of chunksBySize(gone, budget, listed)) await run(conn, deleteByKey(table, part, rowId));
  }
  if (update.length > 0) {
    for (const part of chunksBySize(kept, budget, ([, row]) => storedRowBytes(row, table.columns))) {
      await run(conn, updateStoredRows(table, rowId, part, update));
    }
  }
  // A plain insert: on MySQL a table whose AUTO_INCREMENT ids are used up hands out its largest
  // id again, and an upsert would then overwrite that row, another parent's child.
  for (const part of chunksBySize(added, budget, (row) => rowBytes(row, table.columns))) {
    await run(conn, upsertRows(table, part, []));
  }
}
