import { closeSync, openSync, writeSync } from "node:fs";
import type { Connection } from "mysql2/promise";
import { normaliseRows, TABLE_KEYS } from "../../test/support/compare.ts";
import { type Row, TABLES, type TableName } from "../../test/support/model.ts";
import { type CompactChildren, type CompactModel, differingColumns, encodeRow } from "./compact-model.ts";

// The tables MySQL holds against the compact model (compact-model.ts), streamed a row at a time so
// that a 10,000,000-event drain is checked in bounded memory: each row is normalised as
// test/support/compare.ts does, encoded as the model holds it, and compared with the model's row
// of the same key. Child tables are read in their parent's order and compared parent by parent.
// The model's rows are consumed: a check runs once. The same pass can write the rows to a file
// (RowDump) for the database ceiling.

/** Surrogate AUTO_INCREMENT ids: left out of dumps, as they are of the comparison. */
const SURROGATE: Partial<Record<TableName, string>> = { product_variants: "id", order_items: "id" };
const MAX_DIFF_LINES = 20;

/** Rows written as JSON lines `[table, row]`, without surrogate ids, for databaseCeiling. */
export class RowDump {
  readonly #fd: number;
  #buffer: string[] = [];
  #size = 0;
  constructor(path: string) {
    this.#fd = openSync(path, "w");
  }
  add(table: TableName, row: Row): void {
    const surrogate = SURROGATE[table];
    if (surrogate !== undefined) delete row[surrogate];
    const line = `${JSON.stringify([table, row])}\n`;
    this.#buffer.push(line);
    this.#size += line.length;
    if (this.#size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.#buffer.length > 0) writeSync(this.#fd, this.#buffer.join(""));
    this.#buffer = [];
    this.#size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.#fd);
  }
}

/** Every row of a table, streamed (ORDER BY `orderBy` when given). */
export async function* tableRows(conn: Connection, table: TableName, orderBy?: string): AsyncGenerator<Row> {
  const core = (conn as unknown as { connection: { query(sql: string): { stream(o: object): AsyncIterable<Row> } } })
    .connection;
  yield* core.query(`SELECT * FROM \`${table}\`${orderBy ? ` ORDER BY \`${orderBy}\`` : ""}`).stream({
    highWaterMark: 1000,
  });
}

/** Writes every table to a dump, without comparing (a run with --no-check). */
export async function dumpTables(conn: Connection, dump: RowDump): Promise<void> {
  for (const table of TABLES) for await (const row of tableRows(conn, table)) dump.add(table, row);
}

const brief = (row: Row) => {
  const text = JSON.stringify(row);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
};

class Differences {
  readonly lines: string[] = [];
  count = 0;
  note(line: string): void {
    if (++this.count <= MAX_DIFF_LINES) this.lines.push(`  ${line}`);
  }
}

export async function checkTables(
  conn: Connection,
  compact: CompactModel,
  dump?: RowDump,
): Promise<{ equal: boolean; report: string }> {
  const expectedRows = compact.rows();
  const report: string[] = [];
  const diff = new Differences();
  for (const table of TABLES) {
    const before = diff.count;
    const key = TABLE_KEYS[table] as readonly string[];
    const children = table === "product_variants" ? compact.variants : table === "order_items" ? compact.items : null;
    let found = 0;
    const rows = tableRows(conn, table, children ? key[0] : undefined);
    const compare = children ? compareChildren(table, key, children, diff) : null;
    const stored = children ? null : compact.parents[table as keyof CompactModel["parents"]].stored;
    for await (const raw of rows) {
      found++;
      const row = normaliseRows(table, [raw])[0] as Row;
      dump?.add(table, raw);
      if (compare) {
        compare.row(row);
        continue;
      }
      const id = String(row[key[0] as string]);
      const expected = stored?.get(id);
      if (expected === undefined) diff.note(`+ extra ${table} ${id}: ${brief(row)}`);
      else {
        const encoded = encodeRow(table, row);
        if (encoded !== expected) {
          diff.note(
            `~ ${table} ${id}: ${differingColumns(table, expected, encoded).join(", ")} differ; found ${brief(row)}`,
          );
        }
        stored?.delete(id);
      }
    }
    compare?.end();
    for (const [id, expected] of stored ?? []) diff.note(`- missing ${table} ${id}: ${expected}`);
    stored?.clear();
    const n = diff.count - before;
    report.push(
      n === 0
        ? `${table}: ${found} rows, equal`
        : `${table}: DIFFERENT: expected ${expectedRows[table]} rows, found ${found}; ${n} rows missing, extra or changed`,
    );
  }
  dump?.flush();
  if (diff.count > MAX_DIFF_LINES) diff.lines.push(`  ... and ${diff.count - MAX_DIFF_LINES} more differences`);
  return { equal: diff.count === 0, report: [...report, ...diff.lines].join("\n") };
}

/** Child rows arrive ordered by their parent: each parent's rows are compared when the next begins. */
function compareChildren(table: TableName, key: readonly string[], children: CompactChildren, diff: Differences) {
  const [parentKey, childKey] = key as [string, string];
  let parent: string | undefined;
  let group = new Map<string, { encoded: string; row: Row }>();
  const close = () => {
    if (parent === undefined) return;
    const expected = children.stored.get(parent) ?? "";
    for (const line of expected === "" ? [] : expected.split("\n")) {
      const id = String((JSON.parse(line) as unknown[])[1]); // SMALL: parent key, then child key
      const got = group.get(id);
      if (got === undefined) diff.note(`- missing ${table} ${parent}/${id}: ${line}`);
      else if (got.encoded !== line) {
        diff.note(
          `~ ${table} ${parent}/${id}: ${differingColumns(table, line, got.encoded).join(", ")} differ; found ${brief(got.row)}`,
        );
      }
      group.delete(id);
    }
    for (const [id, got] of group) diff.note(`+ extra ${table} ${parent}/${id}: ${brief(got.row)}`);
    children.stored.delete(parent);
    group = new Map();
  };
  return {
    row(row: Row) {
      const p = String(row[parentKey]);
      if (p !== parent) {
        close();
        parent = p;
      }
      group.set(String(row[childKey]), { encoded: encodeRow(table, row), row });
    },
    end() {
      close();
      for (const [p, expected] of children.stored) {
        for (const line of expected === "" ? [] : expected.split("\n")) diff.note(`- missing ${table} ${p}: ${line}`);
      }
      children.stored.clear();
    },
  };
}
