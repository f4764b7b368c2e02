import type { Op, Row, TableSpec } from "./ops.ts";
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

// Pure size estimates of the rows a statement carries: what cuts statements under the server's
// max_allowed_packet (store.ts), and what refuses an event whose one row can never fit.

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

/** Why `statement`, written out, does not fit under max_allowed_packet, if it doesn't. */
function measured(table: TableSpec, statement: Statement, maxAllowedPacket: number): string | undefined {
  // Write statements carry their values in their text; the command byte goes before it. The
  // server refuses a packet of max_allowed_packet bytes itself (MariaDB 10.11 answered 1153 to
  // 65,536 of 65,536): it takes strictly fewer.
  const bytes = Buffer.byteLength(statement.sql) + 1;
  if (bytes < maxAllowedPacket) return undefined;
  return `row for ${table.name} is ${bytes.toLocaleString("en-US")} bytes; the server's max_allowed_packet is ${maxAllowedPacket.toLocaleString("en-US")}`;
}
