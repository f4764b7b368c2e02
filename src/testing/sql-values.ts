import type { SqlValue } from "../plan/ops.ts";

// Reads back the values a write statement carries in its text (src/write/sql-text.ts), so unit
// tests can say which rows a statement writes. Knows only the literals sqlLiteral writes.

function literal(text: string, at: number): [SqlValue, number] {
  if (text.startsWith("NULL", at)) return [null, at + 4];
  if (text[at] === "'") {
    let out = "";
    for (let i = at + 1; i < text.length; i++) {
      const c = text[i];
      if (c === "'") return [out, i + 1];
      if (c === "\\") {
        i++;
        out += text[i] === "0" ? "\0" : text[i];
      } else out += c;
    }
    throw new Error(`unterminated string at ${at}`);
  }
  const number = /^-?[0-9][0-9.e+-]*/i.exec(text.slice(at, at + 40))?.[0];
  if (number === undefined) throw new Error(`no literal at ${at}: ${text.slice(at, at + 20)}`);
  return [Number(number), at + number.length];
}

/** Literals separated by commas from `at` up to the `)` that closes them; that `)`'s index too. */
function literals(text: string, at: number): [SqlValue[], number] {
  const out: SqlValue[] = [];
  let i = at;
  for (;;) {
    const [value, next] = literal(text, i);
    out.push(value);
    if (text[next] === ")") return [out, next];
    if (text[next] !== ",") throw new Error(`expected , or ) at ${next}`);
    i = next + 1;
  }
}

/** The rows of an INSERT's `VALUES (…),(…)`. */
export function insertedRows(sql: string): SqlValue[][] {
  const rows: SqlValue[][] = [];
  let i = sql.indexOf(" VALUES (") + " VALUES ".length;
  while (sql[i] === "(") {
    const [row, end] = literals(sql, i + 1);
    rows.push(row);
    i = sql[end + 1] === "," ? end + 2 : end + 1;
  }
  return rows;
}

/** The values of a statement's last `IN (…)` list. */
export function inList(sql: string): SqlValue[] {
  return literals(sql, sql.lastIndexOf(" IN (") + " IN (".length)[0];
}
