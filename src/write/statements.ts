import { chunksBySize as chunkItems } from "../collections.ts";
import type { Row, TableSpec } from "../plan/ops.ts";
import { rowTuple, sqlList, sqlLiteral } from "./sql-text.ts";

// Statement text, built without touching a connection. Reads take their few values through
// mysql2's `query` placeholders (`?` takes a scalar or a list); writes, which carry every row of a
// batch, are whole text with the values written in (sql-text.ts). Identifiers come from the
// table definitions in code, never from events.

export interface Statement {
  sql: string;
  /** The placeholders' values; none when the values are in the text. */
  values?: unknown[];
}

export const TOMBSTONES_TABLE = "entity_tombstones";
/**
 * Rows per multi-row statement at most, however small they are: an `IN` list or a `CASE` the
 * server walks per row stays short. Their size in bytes is bounded separately (`chunksBySize`).
 */
export const MAX_ROWS_PER_STATEMENT = 500;
/**
 * Bytes kept free in every statement for its text around the values (the widest, a table's
 * upsert with its ON DUPLICATE KEY UPDATE list, is a few KB) and the packet's header.
 */
export const STATEMENT_TEXT_BYTES = 16 * 1024;
/**
 * Parents per statement that finds children by parent. That `IN` list is on a non-unique index;
 * from 200 values on (`eq_range_index_dive_limit`, 200 by default on MySQL and MariaDB) the
 * optimizer estimates the rows from index statistics instead of reading the index, and statistics
 * lag behind a table that is filling up: it then scanned the whole table, once per batch
 * (docs/decisions.md).
 */
export const MAX_PARENTS_PER_STATEMENT = 100;

const id = (name: string) => `\`${name}\``;
const list = (names: readonly string[]) => names.map(id).join(", ");

/**
 * Every statement that finds rows by primary key to lock, change or delete them names the index.
 * For a key list that is a good part of a small table (a hundred of six hundred suppliers), both
 * servers otherwise choose to scan the whole table, and under REPEATABLE READ a scan locks every
 * row it passes: two batches then locked each other's rows and deadlocked (docs/decisions.md).
 */
const byPrimaryKey = (table: string) => `${id(table)} FORCE INDEX (PRIMARY)`;

/**
 * Locks the rows by primary key and reads their versions and unique columns. Every lock a batch
 * takes on a table is taken here, by primary key, in one sorted pass: two transactions then
 * always lock rows in the same order and can't deadlock each other.
 */
export function selectVersions(table: TableSpec, ids: string[]): Statement {
  const unique = table.unique.map((c) => `, ${id(c)}`).join("");
  return {
    sql: `SELECT ${id(table.key)} AS id, event_timestamp AS ts${unique} FROM ${byPrimaryKey(table.name)} WHERE ${id(table.key)} IN (?) FOR UPDATE`,
    values: [ids],
  };
}

/**
 * Which rows hold these unique values (an order's number), without locking: the rows found are
 * then locked by primary key with the others (selectVersions). A locking read by a secondary key
 * took locks in another order than the one by primary key, and concurrent batches deadlocked.
 */
export function selectOwners(table: TableSpec, column: string, values: string[]): Statement {
  return {
    sql: `SELECT ${id(table.key)} AS id FROM ${id(table.name)} WHERE ${id(column)} IN (?)`,
    values: [values],
  };
}

/**
 * The tombstones of these ids, locked, or read as committed (`lock` false) without waiting for
 * what another transaction has not: a locking read of a key list that is much of a small table
 * scans it (both servers do, whatever the index hint) and waits on every row others hold.
 */
export function selectTombstones(table: TableSpec, ids: string[], lock = true): Statement {
  return {
    sql: `SELECT entity_id AS id, deleted_event_timestamp AS ts FROM ${byPrimaryKey(TOMBSTONES_TABLE)} WHERE entity_type = ? AND entity_id IN (?)${lock ? " FOR UPDATE" : ""}`,
    values: [table.name, ids],
  };
}

/** Multi-row insert; on an existing row only `update` changes. Without `update`, a plain insert. */
export function upsertRows(table: TableSpec, rows: readonly Row[], update: readonly string[]): Statement {
  const columns = table.columns;
  let values = "";
  for (let i = 0; i < rows.length; i++) values += (i === 0 ? "" : ",") + rowTuple(rows[i] as Row, columns);
  return upsertText(table, list(columns), values, update);
}

/**
 * Stored child rows, each given with its row id: the server finds each by primary key and changes
 * only `update`. No AUTO_INCREMENT value is taken, as every row names its id.
 */
export function updateStoredRows(
  table: TableSpec,
  rowId: string,
  rows: readonly [number, Row][],
  update: readonly string[],
): Statement {
  const columns = table.columns;
  let values = "";
  for (let i = 0; i < rows.length; i++) {
    const [n, row] = rows[i] as [number, Row];
    values += (i === 0 ? "" : ",") + rowTuple(row, columns, n);
  }
  return upsertText(table, `${id(rowId)}, ${list(columns)}`, values, update);
}

function upsertText(table: TableSpec, columns: string, values: string, update: readonly string[]): Statement {
  const head = `INSERT INTO ${id(table.name)} (${columns}) VALUES ${values}`;
  if (update.length === 0) return { sql: head };
  return { sql: `${head} ON DUPLICATE KEY UPDATE ${assignments(update)}` };
}

// VALUES(c) rather than the row alias: the alias is MySQL-only, VALUES() works on both servers.
const assignmentCache = new WeakMap<readonly string[], string>();
function assignments(update: readonly string[]): string {
  let text = assignmentCache.get(update);
  if (text === undefined) {
    text = update.map((c) => `${id(c)} = VALUES(${id(c)})`).join(", ");
    assignmentCache.set(update, text);
  }
  return text;
}

/** A stored child as selectChildren reads it. */
export interface StoredChild {
  row_id: number;
  parent: string;
  child: string;
}

/**
 * The children stored under `parents`: row id, parent key and child key of each, at most `limit`,
 * in (parent, child) order, the unique index's, from just past `after` when given (the last of
 * the page before).
 */
export function selectChildren(
  table: TableSpec,
  rowId: string,
  childKey: string,
  parents: string[],
  limit: number,
  after?: StoredChild,
): Statement {
  const [parent, child] = [id(table.key), id(childKey)];
  const past = after === undefined ? "" : ` AND (${parent} > ? OR (${parent} = ? AND ${child} > ?))`;
  return {
    sql:
      `SELECT ${id(rowId)} AS row_id, ${parent} AS parent, ${child} AS child FROM ${id(table.name)} ` +
      `WHERE ${parent} IN (?)${past} ORDER BY ${parent}, ${child} LIMIT ${Math.trunc(limit)}`,
    values: after === undefined ? [parents] : [parents, after.parent, after.parent, after.child],
  };
}

/**
 * The stored rows of the children `wanted` names (parent → child keys), for merge mode, whose
 * write touches only the children an event carries: a parent's other children, however many a
 * producer has piled up under it, are neither read nor held.
 */
export function selectNamedChildren(
  table: TableSpec,
  rowId: string,
  childKey: string,
  wanted: readonly (readonly [string, readonly string[]])[],
): Statement {
  const [parent, child] = [id(table.key), id(childKey)];
  const where = wanted.map(([p, keys]) => `(${parent} = ${sqlLiteral(p)} AND ${child} IN (${sqlList(keys)}))`);
  return {
    sql: `SELECT ${id(rowId)} AS row_id, ${parent} AS parent, ${child} AS child FROM ${id(table.name)} WHERE ${where.join(" OR ")}`,
  };
}

/**
 * Deletes the rows whose `column`, the primary key (the table's key unless given: a child's row
 * id), is among `values`. The multi-table form, as only it takes an index hint on both servers.
 */
export function deleteByKey(table: TableSpec, values: readonly (string | number)[], column = table.key): Statement {
  return {
    sql: `DELETE ${id(table.name)} FROM ${byPrimaryKey(table.name)} WHERE ${id(column)} IN (${sqlList(values)})`,
  };
}

/**
 * Changes the same columns of several existing rows, each to its own values, in one statement:
 * `c = CASE key WHEN id THEN value … END` per column. Each row's `set` must name exactly `columns`.
 */
export function updateRows(table: TableSpec, columns: readonly string[], rows: { id: string; set: Row }[]): Statement {
  const key = id(table.key);
  const ids = rows.map((r) => sqlLiteral(r.id));
  const set = columns.map((c) => {
    let cases = "";
    for (let i = 0; i < rows.length; i++) cases += ` WHEN ${ids[i]} THEN ${sqlLiteral(rows[i]?.set[c] ?? null)}`;
    return `${id(c)} = CASE ${key}${cases} END`;
  });
  return { sql: `UPDATE ${byPrimaryKey(table.name)} SET ${set.join(", ")} WHERE ${key} IN (${ids.join(",")})` };
}

/** Keeps the newest delete per entity: an older one replayed later leaves it as it is. */
export function upsertTombstones(rows: { entityType: string; id: string; ts: string; eventId: string }[]): Statement {
  const values = rows.map((r) => `(${sqlList([r.entityType, r.id, r.ts, r.eventId])})`).join(",");
  return {
    sql:
      `INSERT INTO ${TOMBSTONES_TABLE} (entity_type, entity_id, deleted_event_timestamp, event_id) VALUES ${values} ` +
      // event_id first: it must compare against the timestamp before that is moved.
      "ON DUPLICATE KEY UPDATE event_id = IF(VALUES(deleted_event_timestamp) >= deleted_event_timestamp, VALUES(event_id), event_id), " +
      "deleted_event_timestamp = GREATEST(deleted_event_timestamp, VALUES(deleted_event_timestamp))",
  };
}

export function chunks<T>(items: T[], size = MAX_ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// Sizes in bytes of the statements' text: a statement is as long as its escaped values. The server refuses
// a statement longer than max_allowed_packet, and MariaDB does so by closing the connection,
// which the client sees as a lost connection, not as an error about the data: so every
// statement is cut to fit before it is sent.

/**
 * At most the bytes a value takes in a statement: a string's UTF-8 bytes (at most 3 per UTF-16
 * unit), each doubled in the worst case by escaping, and its quotes; a number or NULL. From the
 * length alone, without reading the string: it runs for every value of every row written, and
 * only a row near the limit needs the exact figure (tooLarge measures that one).
 */
export function valueBytes(v: unknown): number {
  return typeof v === "string" ? 6 * v.length + 2 : 24;
}

/** At most the bytes one row takes in `VALUES (…), (…)`: its values, separators and parentheses. */
export function rowBytes(row: Row, columns: readonly string[]): number {
  let n = 4;
  for (const c of columns) n += valueBytes(row[c]) + 2;
  return n;
}

/**
 * The bytes a statement's values may take: the server's max_allowed_packet less the room kept
 * for the statement's own text.
 */
export const valuesBudget = (maxAllowedPacket: number) => maxAllowedPacket - STATEMENT_TEXT_BYTES;

/** Statements' rows: at most MAX_ROWS_PER_STATEMENT, and values within `budget` bytes. */
export const chunksBySize = <T>(
  items: readonly T[],
  budget: number,
  size: (item: T) => number,
  maxRows = MAX_ROWS_PER_STATEMENT,
): T[][] => chunkItems(items, budget, size, maxRows);
