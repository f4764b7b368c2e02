import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type mysql from "mysql2/promise";
import { MigrationError } from "../errors.ts";
import type { Connection, Pool } from "./pool.ts";

// Versioned SQL migrations: NNN_name.sql applied in order, each recorded with the SHA-256 of its
// text. A file that changes after it was applied stops the service: the schema it describes is
// no longer the schema the database has.

export const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations", import.meta.url));
const LOCK = "mysql_analytics_service_migrations";

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

export interface MigrateResult {
  applied: string[];
  current: number;
}

export async function migrate(pool: Pool, migrations = readMigrations()): Promise<MigrateResult> {
  const conn = await pool.getConnection();
  try {
    // Several instances may start at once: one migrates, the others wait and then verify.
    const [lock] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, 120) AS got", [LOCK]);
    if (lock[0]?.got !== 1) throw new MigrationError("another instance held the migration lock for 120 s; try again");
    try {
      return await applyPending(conn, migrations);
    } finally {
      await conn.query("SELECT RELEASE_LOCK(?)", [LOCK]);
    }
  } finally {
    conn.release();
  }
}

async function applyPending(conn: Connection, migrations: Migration[]): Promise<MigrateResult> {
  await conn.query(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version INT NOT NULL PRIMARY KEY,
       name VARCHAR(200) NOT NULL,
       checksum CHAR(64) NOT NULL,
       applied_at DATETIME(6) NOT NULL
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  );
  const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT version, name, checksum FROM schema_migrations");
  const applied = new Map(rows.map((r) => [Number(r.version), r]));
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const [version, row] of applied) {
    const file = known.get(version);
    if (!file) {
      throw new MigrationError(
        `migration ${row.name} is recorded in schema_migrations but its file is missing: run the release that applied it`,
      );
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${file.name} was changed after it was applied: restore the file and put the change in a new migration`,
      );
    }
  }
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    for (const statement of splitStatements(m.sql)) await conn.query(statement);
    await conn.query(
      "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6))",
      [m.version, m.name, m.checksum],
    );
    done.push(m.name);
  }
  return { applied: done, current: migrations.at(-1)?.version ?? 0 };
}
