import type { Children, Row, TableSpec } from "./ops.ts";
import type { Write } from "./plan.ts";

// How the planner folds one entity's writes into as few as possible, in the entity's order: a
// full state after a full state is one row, a patch is folded into the upsert before it, and a
// delete discards the writes before it (plan.ts decides which events apply at all).

/** One entity's writes so far in a batch, and whether its row was stored when the batch began. */
export interface EntityWrites {
  stored: boolean;
  writes: Write[];
}

const covers = (update: readonly string[], set: Row) => Object.keys(set).every((c) => update.includes(c));

export function addUpsert(e: EntityWrites, w: Extract<Write, { kind: "upsert" }>) {
  let last = e.writes.at(-1);
  if (last?.kind === "delete" && w.children?.mode === "replace") {
    // Deleted and created again in one batch (a product restored): written as one overwrite of
    // the stored row and its children, not a delete and an insert. Deleted child keys linger in
    // the unique index until purged, and inserting them again locks past them into other parents'
    // entries, where concurrent transactions deadlocked (write/key-order.ts). A delete is written
    // only for a stored row (addDelete), so this one has a row to overwrite.
    e.writes[e.writes.length - 1] = overwrite(w);
    return;
  }
  // A patch the upsert overwrites entirely changes nothing the upsert doesn't.
  if (last?.kind === "patch" && covers(w.update, last.set)) {
    e.writes.pop();
    last = e.writes.at(-1);
  }
  if (last?.kind === "upsert") e.writes[e.writes.length - 1] = mergeUpserts(last, w);
  else e.writes.push(w);
}

export function addPatch(e: EntityWrites, w: Extract<Write, { kind: "patch" }>) {
  const last = e.writes.at(-1);
  if (last?.kind === "upsert" && covers(last.update, w.set)) {
    e.writes[e.writes.length - 1] = { ...last, row: { ...last.row, ...w.set } };
  } else if (last?.kind === "patch") {
    e.writes[e.writes.length - 1] = { ...last, set: { ...last.set, ...w.set } };
  } else {
    e.writes.push(w);
  }
}

export function addDelete(e: EntityWrites, w: Extract<Write, { kind: "delete" }>) {
  // Whatever was to be written since the last delete is deleted again: skip writing it.
  while (e.writes.length > 0 && e.writes.at(-1)?.kind !== "delete") e.writes.pop();
  // A row the batch found absent has nothing to delete once its writes are dropped. A DELETE by
  // key sent anyway holds no lock from the batch's read (there was no row to lock): it would
  // remove a row another partition's transaction inserted meanwhile, however much newer than
  // this delete. The tombstone is written all the same, and one older than the delete is found
  // again and deleted (write/store.ts, recheckRows).
  if (e.writes.length === 0 && e.stored) e.writes.push(w);
}

/**
 * `w` as an update of the stored row that leaves it as `w` would insert it: every column, and its
 * children replace the stored ones, every column of those kept too.
 */
function overwrite(w: Extract<Write, { kind: "upsert" }>): Extract<Write, { kind: "upsert" }> {
  const update = allColumns(w.table, [w.table.key]);
  const children = w.children && {
    ...w.children,
    update: allColumns(w.children.table, [w.children.table.key, w.children.childKey]),
  };
  return { ...w, update, absent: false, ...(children ? { children } : {}) };
}

/** A table's columns but `keys`. */
const allColumns = (table: TableSpec, keys: readonly string[]) => table.columns.filter((c) => !keys.includes(c));

/** `base` with the `columns` that `top` has taken from `top`. One copy of `base`, the shape of which V8 keeps. */
const overlay = (base: Row, top: Row, columns: readonly string[]): Row => {
  const out: Row = { ...base };
  for (const c of columns) if (c in top) out[c] = top[c] as Row[string];
  return out;
};

/**
 * `first` then `second` on one row, as one write. Inserted by `first`, the row ends as `first`'s
 * row with `second`'s update columns; already present, only the update columns change, and they
 * end as `second` has them — the merged row gives both.
 */
function mergeUpserts(
  first: Extract<Write, { kind: "upsert" }>,
  second: Extract<Write, { kind: "upsert" }>,
): Extract<Write, { kind: "upsert" }> {
  // A stored row is written with the columns either write changes (an overwrite changes all).
  const update =
    first.absent || first.update === second.update
      ? second.update
      : second.update.every((c) => first.update.includes(c))
        ? first.update
        : [...first.update, ...second.update.filter((c) => !first.update.includes(c))];
  return {
    ...second,
    update,
    row: overlay(first.row, second.row, second.update),
    children: mergeChildren(first.children, second.children),
    absent: first.absent,
  };
}

/**
 * Children this planner made by merging, each with where each child key's row sits in its `rows`.
 * They belong to the entity's write, so the next event's children are merged into them in place:
 * n events of one order cost n merges, not a copy of every child so far per event (a batch of one
 * order's events, each adding items, took seconds of the pipeline's thread). An event's own
 * children are never changed: a transaction run again plans again from the same events.
 */
const merged = new WeakMap<Children, Map<unknown, number>>();

function mergeChildren(first: Children | undefined, second: Children | undefined): Children | undefined {
  if (!first || !second || second.mode === "replace") return second ?? first;
  let into = first;
  let at = merged.get(first);
  if (at === undefined) {
    into = { ...second, rows: [] };
    at = new Map();
    merged.set(into, at);
    addChildren(into, at, first.rows, first.childKey, first.update);
  }
  addChildren(into, at, second.rows, second.childKey, second.update);
  return into;
}

/** Each of `rows` into `into`: a key not there yet is appended, one there gets this row's `update` columns. */
function addChildren(
  into: Children,
  at: Map<unknown, number>,
  rows: Row[],
  childKey: string,
  update: readonly string[],
) {
  for (const r of rows) {
    const key = r[childKey];
    const i = at.get(key);
    if (i === undefined) at.set(key, into.rows.push(r) - 1);
    else into.rows[i] = overlay(into.rows[i] as Row, r, update);
  }
}
