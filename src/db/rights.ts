import type mysql from "mysql2/promise";
import type { Pool } from "mysql2/promise";
import { ConfigError, MigrationError } from "../errors.ts";
import type { Progress } from "./migrate.ts";
import type { Migration } from "./migration-files.ts";
import { errnoOf, sqlMessageOf } from "./server-errors.ts";

// The service's account needs RUN_PRIVILEGES on its tables. Without them it would connect, join
// the group, and then wait for ever at its first write as if MySQL were down; so they are
// checked at start, and a refusal met while running (a grant revoked) stops the service the
// same way: a grant fixes it, waiting does not.

/**
 * Rights `run` needs once the schema is current: it reads, writes and deletes rows, nothing else
 * (`SELECT ... FOR UPDATE` is covered by UPDATE; GET_LOCK needs no privilege and is only taken
 * when something is pending).
 */
export const RUN_PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "DELETE"] as const;

// Refusals that a grant fixes: 1044 ER_DBACCESS_DENIED_ERROR, 1045 ER_ACCESS_DENIED_ERROR,
// 1142 ER_TABLEACCESS_DENIED_ERROR, 1143 ER_COLUMNACCESS_DENIED_ERROR, 1227
// ER_SPECIFIC_ACCESS_DENIED_ERROR (e.g. a view's DEFINER).
const DENIED_ERRNOS = new Set([1044, 1045, 1142, 1143, 1227]);

export function isDenied(err: unknown): boolean {
  const errno = errnoOf(err);
  return errno !== undefined && DENIED_ERRNOS.has(errno);
}

/** The account as the server matched it ('svc'@'localhost') and the database: reading them needs no privilege. */
export async function whoAndWhere(conn: {
  query: mysql.Connection["query"];
}): Promise<{ account: string; database: string }> {
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT CURRENT_USER() AS account, DATABASE() AS db");
    const account = String(rows[0]?.account ?? "");
    const at = account.lastIndexOf("@");
    return {
      account: at === -1 ? account : `'${account.slice(0, at)}'@'${account.slice(at + 1)}'`,
      database: String(rows[0]?.db ?? "?"),
    };
  } catch {
    return { account: "this user", database: "this database" };
  }
}

/** A table the service writes, and a column it may set to itself. */
export interface WrittenTable {
  name: string;
  key: string;
}

// 1044 ER_DBACCESS_DENIED_ERROR, 1142 ER_TABLEACCESS_DENIED_ERROR, 1143 ER_COLUMNACCESS_DENIED_ERROR.
const REFUSED_ERRNOS = new Set([1044, 1142, 1143]);

/** The server refused a statement for want of a right on a database, table or column. */
export function isRightRefused(err: unknown): boolean {
  const errno = errnoOf(err);
  return errno !== undefined && REFUSED_ERRNOS.has(errno);
}

/** ER_LOCK_WAIT_TIMEOUT: the statement waited for a lock longer than the session allows. */
const LOCK_WAIT_TIMEOUT = 1205;

/**
 * Runs, in a transaction rolled back, one statement of each kind the service sends per table,
 * on no row: the server checks the rights of a statement whatever it matches. The key is
 * compared with NULL rather than `WHERE 1 = 0`, which sql_safe_updates refuses. A table locked
 * by someone else (LOCK TABLES, a long DDL) is passed over after a second, unchecked: the start
 * must not wait for it, and a right missing there is still met, and stops the service, at its
 * first write. The connection is closed afterwards, its session's lock timeouts with it.
 */
export async function checkRunRights(pool: Pool, tables: readonly WrittenTable[]): Promise<void> {
  const conn = await pool.getConnection();
  try {
    await conn.query("SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1");
    await conn.query("START TRANSACTION");
    for (const { name, key } of tables) {
      const t = `\`${name}\``;
      const none = `WHERE \`${key}\` IN (NULL)`;
      try {
        await conn.query(`INSERT INTO ${t} SELECT * FROM ${t} ${none}`);
        await conn.query(`UPDATE ${t} SET \`${key}\` = \`${key}\` ${none}`);
        await conn.query(`DELETE FROM ${t} ${none}`);
      } catch (err) {
        if (errnoOf(err) !== LOCK_WAIT_TIMEOUT) throw err;
      }
    }
  } catch (err) {
    if (isRightRefused(err)) throw rightsError(err, await whoAndWhere(conn));
    throw err;
  } finally {
    conn.destroy();
  }
}

/** One line for a statement refused for want of a right: what was refused, and the grant that fixes it. */
export function rightsError(err: unknown, who?: { account: string; database: string }) {
  const message = sqlMessageOf(err);
  const to = who
    ? `on \`${who.database}\`.* to ${who.account} (MYSQL_USER)`
    : "on the MYSQL_DATABASE database to the MYSQL_USER account";
  return new ConfigError(
    `MySQL: ${message.replace(/\.$/, "")}; grant ${RUN_PRIVILEGES.join(", ")} ${to}, then start the service again`,
  );
}

/**
 * Rights `migrate` needs on the database, on MySQL 8.0 and MariaDB 10.11, beyond RUN_PRIVILEGES
 * (schema_migrations is read and written; MySQL's ALTER TABLE also wants CREATE and INSERT):
 * - CREATE: the tables of 001, 002 and 005, schema_migrations;
 * - REFERENCES: the foreign keys 001 creates and 004 drops and adds again (MySQL 5.7+ checks it on
 *   the parent table; MariaDB does not);
 * - CREATE VIEW, and DROP: 003's `CREATE OR REPLACE VIEW` asks for DROP even when the view does
 *   not exist yet;
 * - ALTER: 004 changes key columns' collation, drops and adds foreign keys, in place;
 * - INDEX: CREATE INDEX / DROP INDEX statements. No migration up to 004 uses one (their keys come
 *   with CREATE/ALTER TABLE), but an index of its own is the likeliest next migration, and the
 *   local stack's user, which migrates, should not need a new grant for it.
 * PREPARE/EXECUTE, user variables and information_schema reads (004) need no privilege. The stack
 * grants exactly this list, and a refused migration names it.
 */
export const MIGRATE_PRIVILEGES = [
  ...RUN_PRIVILEGES,
  "CREATE",
  "DROP",
  "ALTER",
  "INDEX",
  "REFERENCES",
  "CREATE VIEW",
] as const;

/**
 * One line for a refused migration: who was refused what, which migrations wait, and the grant
 * that lets `analytics-service migrate` apply them. The right comes from the server's message
 * ("CREATE command denied to user ..."); a refusal of the whole database names none.
 */
export function deniedError(
  err: unknown,
  who: { account: string; database: string },
  pending: readonly Migration[],
  progress: Progress = { applied: [], migration: null, statements: 0, of: 0, created: [] },
): MigrationError {
  const message = sqlMessageOf(err);
  const right = /^([A-Z][A-Z ]*?) command denied/.exec(message)?.[1];
  const refused = right ? `may not ${right}` : "was refused";
  const left = pending.filter((m) => !progress.applied.includes(m.name));
  const names = left.map((m) => m.name).join(", ");
  const waiting =
    left.length === 0
      ? "the schema can't be read"
      : left.length === 1
        ? `migration ${names} is pending`
        : `migrations ${names} are pending`;
  // Said only when it matters: the retry will find what those statements created.
  const partly =
    progress.migration !== null && progress.statements > 0
      ? ` (${progress.migration} stopped after ${progress.statements} of its ${progress.of} statements, which stay applied)`
      : "";
  return new MigrationError(
    `user ${who.account} ${refused} on database ${who.database} and ${waiting}: run \`analytics-service migrate\` as a user with ${MIGRATE_PRIVILEGES.join(", ")} rights on ${who.database}, named by MYSQL_MIGRATE_USER and MYSQL_MIGRATE_PASSWORD (the service itself needs only ${RUN_PRIVILEGES.join(", ")} once the schema is current)${partly}`,
  );
}
