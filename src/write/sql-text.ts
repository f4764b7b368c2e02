import type { Row, SqlValue } from "../plan/ops.ts";

// Values written into a statement's text, so a batch's rows go to the server as one string built
// once, not as arrays of values that the driver walks and escapes again (docs/decisions.md).
//
// The pool's sessions set their own sql_mode, without NO_BACKSLASH_ESCAPES (src/db/pool.ts): in
// a single-quoted literal only the quote, the backslash and NUL then need escaping, on MySQL and
// MariaDB alike; every other character, line breaks and `"` included, stands for itself. The
// text is sent in utf8mb4, so no multi-byte character can hide a quote. Numbers come from
// validated documents, which refuse NaN and Infinity, and print as MySQL reads them.

const SPECIAL = /[\0'\\]/g;
const ESCAPED: Readonly<Record<string, string>> = { "\0": "\\0", "'": "\\'", "\\": "\\\\" };
const escapeChar = (c: string) => ESCAPED[c] as string;

/** `value` as a SQL literal: NULL, a number, or a quoted string. */
export function sqlLiteral(value: SqlValue): string {
  if (value === null) return "NULL";
  if (typeof value === "number") return `${value}`;
  // Three scans for one character each are faster than one regular expression, and almost every
  // value has none of them.
  if (value.indexOf("'") === -1 && value.indexOf("\\") === -1 && value.indexOf("\0") === -1) return `'${value}'`;
  return `'${value.replace(SPECIAL, escapeChar)}'`;
}

/** A row as `(v1,v2,…)` in the order of `columns`; a column the row lacks is NULL. */
export function rowTuple(row: Row, columns: readonly string[], first?: SqlValue): string {
  let text = first === undefined ? "(" : `(${sqlLiteral(first)},`;
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) text += ",";
    text += sqlLiteral(row[columns[i] as string] ?? null);
  }
  return `${text})`;
}

/** Values as `v1,v2,…`, for an `IN (…)` list. */
export function sqlList(values: readonly SqlValue[]): string {
  let text = "";
  for (let i = 0; i < values.length; i++)
    text += i === 0 ? sqlLiteral(values[i] as SqlValue) : `,${sqlLiteral(values[i] as SqlValue)}`;
  return text;
}
