import type { Op, Row, TableSpec } from "../plan/ops.ts";
import {
  deleteByKey,
  rowBytes,
  type Statement,
  updateRows,
  updateStoredRows,
  upsertRows,
  valueBytes,
  valuesBudget,
} from "./statements.ts";
import type { SqlRunner } from "./store.ts";

// Size estimates of the rows a statement carries: what cuts statements under the server's
// max_allowed_packet (store.ts), what refuses an event whose one row can never fit, and the
// guard that sends no statement the server would refuse for its size.

/** A value in a list (`IN (…)`, a key): the value and its separator. */
export const listed = (v: unknown) => valueBytes(v) + 2;
/** A child row written by its row id (`updateStoredRows`): the row and the id before it. */
export const storedRowBytes = (row: Row, columns: readonly string[]) => rowBytes(row, columns) + 26;
/** One row's share of `updateRows`: ` WHEN id THEN value` per column, and the id in the `IN` list. */
export function patchBytes(r: { id: string; set: Row }, columns: readonly string[]): number {
  const id = valueBytes(r.id);
  let n = id + 2;
  for (const c of columns) n += id + valueBytes(r.set[c]) + 12;
  return n;
}

/**
 * Why `op` can't be written, if it can't: one of its rows does not fit in a statement of its own
 * under the server's max_allowed_packet. The server would refuse that statement however often
 * it is sent, by closing the connection, which looks like an outage; so the event is refused
 * before anything is sent, and its neighbours are applied. The estimate decides for almost every
 * row; one that it does not clear is written out as the statement would be and measured.
 */
export function tooLarge(op: Op, maxAllowedPacket: number): string | undefined {
  const budget = valuesBudget(maxAllowedPacket);
  const { table } = op;
  // The estimates decide for almost every row, without a closure or a statement made per row:
  // this runs for every row of every event.
  switch (op.kind) {
    case "upsert": {
      if (rowBytes(op.row, table.columns) > budget) {
        const why = measured(table, upsertRows(table, [op.row], op.update), maxAllowedPacket);
        if (why !== undefined) return why;
      }
      if (!op.children) return undefined;
      const { table: child, update, rows } = op.children;
      for (const row of rows) {
        if (storedRowBytes(row, child.columns) <= budget) continue;
        // The larger of the two ways a child is written: by its row id (here the largest INT).
        const stored = updateStoredRows(child, child.rowId ?? "id", [[2147483647, row]], update);
        const why = measured(child, stored, maxAllowedPacket);
        if (why !== undefined) return why;
      }
      return undefined;
    }
    case "patch": {
      const columns = Object.keys(op.set);
      const r = { id: op.id ?? op.lookup?.value ?? "", set: op.set };
      return patchBytes(r, columns) <= budget
        ? undefined
        : measured(table, updateRows(table, columns, [r]), maxAllowedPacket);
    }
    case "delete":
      return listed(op.id) <= budget ? undefined : measured(table, deleteByKey(table, [op.id]), maxAllowedPacket);
    default:
      return op satisfies never;
  }
}

/**
 * A statement's packet beside its text: the command byte and, to a server that takes query
 * attributes (MySQL 8.0.23 and later; mysql2 asks for them), their two counts, each a byte (as
 * mysql2's packets/query.js frames it). Counted on MariaDB too: two bytes of a limit of megabytes.
 */
const BESIDE_TEXT = 3;

/** Why `statement`, written out, does not fit under max_allowed_packet, if it doesn't. */
function measured(table: TableSpec, statement: Statement, maxAllowedPacket: number): string | undefined {
  // Write statements carry their values in their text. The server takes strictly fewer bytes
  // than max_allowed_packet: a packet of exactly that many is refused like a larger one.
  const bytes = Buffer.byteLength(statement.sql) + BESIDE_TEXT;
  if (bytes < maxAllowedPacket) return undefined;
  return `row for ${table.name} is ${bytes.toLocaleString("en-US")} bytes; the server's max_allowed_packet is ${maxAllowedPacket.toLocaleString("en-US")}`;
}

/**
 * A write statement the server would refuse for its size: not sent. Every event's rows fit alone
 * (tooLarge), but one entity's events written as one row (a create and its cancel, two item
 * states) can outgrow each of them. Sent, the statement is refused (1153) or the connection is
 * dropped, which looks like an outage and would be retried with the same batch for ever; thrown
 * instead, it makes the batch be applied in halves, down to single events (transaction.ts).
 */
export class StatementTooLargeError extends Error {}

/** `conn`, refusing to send a write statement that does not fit under `maxAllowedPacket`. */
export function withinPacket(conn: SqlRunner, maxAllowedPacket: number): SqlRunner {
  return {
    query(sql, values) {
      // Write statements carry their values in their text. Measured only when its length could
      // reach the limit: at most 3 UTF-8 bytes a UTF-16 unit.
      if (values === undefined && sql.length * 3 + BESIDE_TEXT >= maxAllowedPacket) {
        const bytes = Buffer.byteLength(sql) + BESIDE_TEXT;
        if (bytes >= maxAllowedPacket) {
          return Promise.reject(
            new StatementTooLargeError(
              `a statement of ${bytes} bytes, for rows of several events written as one; max_allowed_packet is ${maxAllowedPacket}`,
            ),
          );
        }
      }
      return conn.query(sql, values);
    },
  };
}
