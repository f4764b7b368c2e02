// npm run docs:config: the configuration table of docs/operations.md, from the declarations the
// service and the local stack parse (src/config/index.ts, tools/stack/config.ts), so the page can't
// drift from the code. Prints the table; with --write, puts it between the page's markers.
// test/integration/readme.test.ts checks that the page holds exactly this output.
import { readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { type AnyVar, type Declaration, describeDefault, fileVariable } from "../../src/config/declare.ts";
import { serviceDeclaration } from "../../src/config/index.ts";
import { PROJECT_ROOT, stackDeclaration } from "../stack/config.ts";

export const CONFIG_START = "<!-- config:start -->";
export const CONFIG_END = "<!-- config:end -->";
export const OPERATIONS_DOC = join(PROJECT_ROOT, "docs", "operations.md");

/** The default as the page shows it: a path inside the checkout (STACK_DIR) relative to it, so the page is the same in every clone. */
function shownDefault(v: AnyVar): string {
  const text = describeDefault(v);
  if (v.kind === "string" && isAbsolute(text)) {
    const inside = relative(PROJECT_ROOT, text);
    if (!inside.startsWith("..") && !isAbsolute(inside)) return inside === "" ? "." : inside;
  }
  return text;
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/**
 * What parsing takes (src/config/declare.ts): a value outside it stops the start, so the page
 * says it rather than leave the operator to find out. A secret's file form is named here too.
 */
function accepted(v: AnyVar): string {
  switch (v.kind) {
    case "int":
      return `${v.min}–${v.max}`;
    case "enum":
      return v.values.join(", ");
    case "bool":
      return "true, false (or 1, 0, yes, no, on, off)";
    case "list":
      return "comma-separated";
    case "string": {
      // Empty stays empty where that is not the default anyway (a password set empty).
      const text = v.allowEmpty && v.default !== "" ? "text, or empty" : "text";
      return v.secret ? `${text}; or \`${fileVariable(v)}\`: a file holding it` : text;
    }
  }
}

/** One row per variable: `| \`NAME\` | \`default\` | accepted | description |`. */
export function configRows(decl: Declaration): string[] {
  return Object.values(decl).map(
    (v) => `| \`${v.env}\` | \`${cell(shownDefault(v))}\` | ${cell(accepted(v))} | ${cell(v.description)} |`,
  );
}

/** The whole table, the service's variables first (in declaration order), then the local stack's; ends with a newline. */
export function configTable(): string {
  const lines = [
    "| variable | default | accepts | meaning |",
    "|---|---|---|---|",
    ...configRows(serviceDeclaration),
    ...configRows(stackDeclaration),
  ];
  return `${lines.join("\n")}\n`;
}

/** What the page holds between its markers (the line after the start marker up to the end marker), or null without them. */
export function markedBlock(page: string): string | null {
  const start = page.indexOf(`${CONFIG_START}\n`);
  const end = page.indexOf(CONFIG_END, start);
  if (start < 0 || end < 0) return null;
  return page.slice(start + CONFIG_START.length + 1, end);
}

/** `page` with the block between its markers replaced by `table`. */
export function withTable(page: string, table: string): string {
  const block = markedBlock(page);
  if (block === null) throw new Error(`no ${CONFIG_START} ... ${CONFIG_END} block`);
  const at = page.indexOf(`${CONFIG_START}\n`) + CONFIG_START.length + 1;
  return page.slice(0, at) + table + page.slice(at + block.length);
}

if (import.meta.main) {
  if (process.argv.includes("--write")) {
    const page = readFileSync(OPERATIONS_DOC, "utf8");
    const next = withTable(page, configTable());
    if (next !== page) writeFileSync(OPERATIONS_DOC, next);
    console.log(`${relative(process.cwd(), OPERATIONS_DOC)}: ${next === page ? "table up to date" : "table written"}`);
  } else {
    process.stdout.write(configTable());
  }
}
