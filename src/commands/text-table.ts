import stringWidth from "string-width";
import { oneLine } from "../errors.ts";

// Plain-text tables for the operator commands: a header, a rule, one line per row, columns
// separated by two spaces, numbers right-aligned. Pure, so it is unit-tested on its own.

export interface Column {
  /** The row property shown in this column. */
  key: string;
  /** The header; the key when absent. */
  title?: string;
  /** Default: right when every value in the column is a number, left otherwise. */
  align?: "left" | "right";
}

export type Row = Record<string, unknown>;

/**
 * How a value reads in a cell: NULL as `-`, control characters (newlines, tabs) as spaces, line
 * separators and bidirectional controls (a letter written before they were escaped) as `\uXXXX`.
 */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "-";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return oneLine(text.replace(/\p{Cc}/gu, " "));
}

/**
 * Columns a terminal gives the text: wide East Asian characters and emoji take two, combining
 * marks and zero-width characters none, a grapheme cluster (an emoji with its modifiers, a flag)
 * is counted once. string-width knows the Unicode tables this takes.
 */
export const displayWidth = (text: string): number => stringWidth(text);

function pad(text: string, width: number, align: "left" | "right"): string {
  const fill = " ".repeat(Math.max(0, width - displayWidth(text)));
  return align === "right" ? fill + text : text + fill;
}

/** The table as lines of text, each ending in a newline; `(no rows)` under the header when empty. */
export function formatTable(columns: readonly (Column | string)[], rows: readonly Row[]): string {
  return [...tableLines(columns, rows)].join("");
}

/**
 * formatTable's lines, one at a time: the cells are made once to measure the columns and again
 * as each line is given, so a long table (`dlq list --limit 100000`) is never held as text whole.
 */
export function* tableLines(columns: readonly (Column | string)[], rows: readonly Row[]): Generator<string> {
  const cols = columns.map((c) => (typeof c === "string" ? { key: c } : c));
  const aligns = cols.map((c) => {
    if (c.align) return c.align;
    const values = rows.map((r) => r[c.key]).filter((v) => v !== null && v !== undefined);
    return values.length > 0 && values.every((v) => typeof v === "number" || typeof v === "bigint") ? "right" : "left";
  });
  const header = cols.map((c) => c.title ?? c.key);
  const cells = (r: Row) => cols.map((c) => cellText(r[c.key]));
  // A loop, not Math.max(...): spread over a hundred thousand rows overflows the stack.
  const widths = header.map((h) => displayWidth(h));
  for (const r of rows) {
    cells(r).forEach((text, i) => {
      widths[i] = Math.max(widths[i] ?? 0, displayWidth(text));
    });
  }
  const line = (values: string[]) =>
    `${values
      .map((v, i) => pad(v, widths[i] ?? 0, aligns[i] ?? "left"))
      .join("  ")
      .trimEnd()}\n`;
  yield line(header);
  yield `${widths.map((w) => "-".repeat(w)).join("  ")}\n`;
  for (const r of rows) yield line(cells(r));
  if (rows.length === 0) yield "(no rows)\n";
}
