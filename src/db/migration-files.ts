import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// The migration files: NNN_name.sql, read in order with the SHA-256 of each text (migrate.ts
// records it, and stops on a file that changed after it was applied), split into statements.

export const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations", import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name), "utf8");
      return { version: Number(name.slice(0, 3)), name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

/** Splits a migration into statements: each ends with `;` at the end of a line. Comments are dropped. */
export function splitStatements(sql: string): string[] {
  return sql
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
