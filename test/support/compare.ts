import { createHash } from "node:crypto";

// Compares what MySQL holds with expected rows (test/support/model.ts), table by table: a checksum for
// the verdict, a short row diff to say what is wrong. Values are normalised the way they differ
// between servers without being wrong: JSON columns come back parsed (MySQL) or as text
// (MariaDB, where JSON is LONGTEXT), and MySQL reorders the keys of JSON objects.

export type Row = Record<string, unknown>;
export interface Queryable {
  query(sql: string): Promise<[unknown, unknown]>;
}

/** The seven tables of docs/events.md#documents-and-tables and the key each is sorted and matched by. */
export const TABLE_KEYS: Readonly<Record<string, readonly string[]>> = {
  users: ["user_id"],
  suppliers: ["supplier_id"],
  products: ["product_id"],
  product_variants: ["product_id", "variant_key"],
  orders: ["order_id"],
  order_items: ["order_id", "item_id"],
  posts: ["post_id"],
};
/** Surrogate AUTO_INCREMENT ids: they depend on insert history, not on the data. */
const SURROGATE: Readonly<Record<string, string>> = { product_variants: "id", order_items: "id" };
const JSON_COLUMNS = new Set(["attributes_json", "variant_attributes_json", "media_json"]);
const MAX_DIFF_LINES = 20;

export async function compareTables(
  conn: Queryable,
  expected: Record<string, Row[]>,
): Promise<{ equal: boolean; report: string }> {
  const lines: string[] = [];
  let equal = true;
  for (const [table, key] of Object.entries(TABLE_KEYS)) {
    const [rows] = await conn.query(`SELECT * FROM \`${table}\``);
    const actual = normaliseRows(table, rows as Row[]);
    const wanted = normaliseRows(table, expected[table] ?? []);
    const [a, w] = [checksum(actual), checksum(wanted)];
    if (a === w) {
      lines.push(`${table}: ${actual.length} rows, sha256 ${a.slice(0, 16)}, equal`);
      continue;
    }
    equal = false;
    lines.push(
      `${table}: DIFFERENT: expected ${wanted.length} rows (sha256 ${w.slice(0, 16)}), found ${actual.length} (sha256 ${a.slice(0, 16)})`,
    );
    lines.push(...diffRows(key, wanted, actual).map((l) => `  ${l}`));
  }
  return { equal, report: lines.join("\n") };
}

/** Rows without surrogate ids, values normalised, sorted by the table's key. */
export function normaliseRows(table: string, rows: readonly Row[]): Row[] {
  const key = TABLE_KEYS[table] ?? [];
  const surrogate = SURROGATE[table];
  return rows
    .map((row) => {
      // Columns in name order: the checksum must not depend on the order the server sends them in.
      const out: Row = {};
      for (const column of Object.keys(row).sort()) {
        if (column !== surrogate) out[column] = normaliseValue(column, row[column]);
      }
      return out;
    })
    .sort((x, y) => compareKeys(keyOf(key, x), keyOf(key, y)));
}

function normaliseValue(column: string, value: unknown): unknown {
  if (value instanceof Date) {
    // A Date has lost the microseconds already: comparing it would hide or invent differences.
    throw new Error(`column ${column} came back as a Date: query with a connection opened with dateStrings: true`);
  }
  if (Buffer.isBuffer(value)) value = value.toString("utf8");
  if (JSON_COLUMNS.has(column) && typeof value === "string") value = JSON.parse(value);
  return canonical(value);
}

/** Objects with sorted keys; doubles to 15 significant digits, the precision both servers print. */
function canonical(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number") return Number.isInteger(value) ? value : Number(value.toPrecision(15));
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out: Row = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Row)[k]);
    return out;
  }
  return value;
}

/** sha256 of the canonical JSON of the normalised, sorted rows. */
export function checksum(rows: readonly Row[]): string {
  return createHash("sha256").update(JSON.stringify(rows)).digest("hex");
}

const brief = (row: Row) => {
  const text = JSON.stringify(row);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
};
const keyOf = (key: readonly string[], row: Row) => key.map((k) => String(row[k]));
function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i] as string, b[i] as string];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Missing rows, extra rows, and for rows on both sides the columns that differ; at most MAX_DIFF_LINES. */
export function diffRows(key: readonly string[], expected: readonly Row[], actual: readonly Row[]): string[] {
  const byKey = (rows: readonly Row[]) => new Map(rows.map((r) => [keyOf(key, r).join("/"), r]));
  const [want, have] = [byKey(expected), byKey(actual)];
  const out: string[] = [];
  for (const [k, row] of want) {
    const found = have.get(k);
    if (found === undefined) {
      out.push(`- missing ${k}: ${brief(row)}`);
      continue;
    }
    for (const column of new Set([...Object.keys(row), ...Object.keys(found)])) {
      const [w, h] = [JSON.stringify(row[column]), JSON.stringify(found[column])];
      if (w !== h) out.push(`~ ${k} ${column}: expected ${w ?? "(no column)"}, found ${h ?? "(no column)"}`);
    }
  }
  for (const [k, row] of have) if (!want.has(k)) out.push(`+ extra ${k}: ${brief(row)}`);
  if (out.length <= MAX_DIFF_LINES) return out;
  return [...out.slice(0, MAX_DIFF_LINES), `... and ${out.length - MAX_DIFF_LINES} more differences`];
}
