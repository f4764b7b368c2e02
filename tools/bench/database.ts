import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import mysql from "mysql2/promise";
import { migrate } from "../../src/db/migrate.ts";
import { adminConnection } from "../../test/support/helpers.ts";
import type { Row } from "../../test/support/model.ts";
import type { StackConfig } from "../stack/config.ts";

// The benchmark's MySQL side: fresh databases, InnoDB's deadlock counter, and the database
// ceiling: the final rows written by a minimal loop, without Kafka.

export async function createDatabase(stack: StackConfig, name: string): Promise<void> {
  const conn = await adminConnection();
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await conn.end();
  const pool = mysql.createPool({
    host: "127.0.0.1",
    port: stack.mysqlPort,
    user: stack.mysqlAdminUser,
    password: stack.mysqlAdminPassword,
    database: name,
    connectionLimit: 2,
  });
  await migrate(pool);
  await pool.end();
}

export async function dropDatabase(name: string): Promise<void> {
  const conn = await adminConnection();
  await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await conn.end();
}

/**
 * Deadlocks InnoDB has resolved since the server started: INNODB_METRICS' lock_deadlocks where
 * that counter is enabled (MySQL: STATUS 'enabled'; MariaDB: ENABLED 1), else MariaDB's
 * Innodb_deadlocks status variable; null when the server offers neither.
 */
export async function deadlockCount(): Promise<{ count: number; source: string } | null> {
  const conn = await adminConnection();
  try {
    const [metrics] = (await conn
      .query("SELECT * FROM information_schema.INNODB_METRICS WHERE NAME = 'lock_deadlocks'")
      .catch(() => [[]])) as unknown as [Row[]];
    const m = metrics[0];
    if (m && (String(m.STATUS).toLowerCase() === "enabled" || Number(m.ENABLED) === 1)) {
      return { count: Number(m.COUNT), source: "INNODB_METRICS lock_deadlocks" };
    }
    const [status] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")) as unknown as [Row[]];
    const s = status[0];
    return s ? { count: Number(s.Value), source: "Innodb_deadlocks" } : null;
  } finally {
    await conn.end();
  }
}

/** Rows read ahead of each transaction: 20 statements of 1,000 rows, read before its clock starts. */
const STATEMENT_ROWS = 1000;
const STATEMENTS_PER_TRANSACTION = 20;

/**
 * The database ceiling: the final rows (a dump of the checked tables, check.ts's RowDump), in
 * multi-row INSERT … ON DUPLICATE KEY UPDATE statements of 1,000 rows, 20 per transaction, on one
 * connection, into a fresh database. Only the statements are timed: each transaction's rows are
 * read from the dump before its clock starts.
 */
export async function databaseCeiling(stack: StackConfig, dumpPath: string, database: string) {
  const conn = await mysql.createConnection({
    host: "127.0.0.1",
    port: stack.mysqlPort,
    user: stack.mysqlAdminUser,
    password: stack.mysqlAdminPassword,
    database,
    charset: "utf8mb4_unicode_ci",
  });
  await conn.query("SET time_zone = '+00:00'");
  const lines = createInterface({ input: createReadStream(dumpPath), crlfDelay: Number.POSITIVE_INFINITY });
  let total = 0;
  let ms = 0;
  let pending: [string, Row][] = [];
  const write = async () => {
    const started = performance.now();
    await conn.query("START TRANSACTION");
    for (let i = 0; i < pending.length; ) {
      const table = pending[i]?.[0] as string;
      const columns = Object.keys(pending[i]?.[1] as Row);
      let end = i;
      while (end < pending.length && end - i < STATEMENT_ROWS && pending[end]?.[0] === table) end++;
      const part = pending.slice(i, end).map(([, r]) =>
        columns.map((c) => {
          const v = r[c];
          return v !== null && typeof v === "object" ? JSON.stringify(v) : v;
        }),
      );
      const update = columns.map((c) => `\`${c}\` = VALUES(\`${c}\`)`).join(", ");
      await conn.query(
        `INSERT INTO \`${table}\` (${columns.map((c) => `\`${c}\``).join(", ")}) VALUES ? ON DUPLICATE KEY UPDATE ${update}`,
        [part],
      );
      total += part.length;
      i = end;
    }
    await conn.query("COMMIT");
    ms += performance.now() - started;
    pending = [];
  };
  for await (const line of lines) {
    pending.push(JSON.parse(line) as [string, Row]);
    if (pending.length === STATEMENT_ROWS * STATEMENTS_PER_TRANSACTION) await write();
  }
  if (pending.length > 0) await write();
  await conn.end();
  return { rows: total, rowsPerSecond: total / (ms / 1000) };
}
