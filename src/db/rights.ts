import type mysql from "mysql2/promise";
import type { Pool } from "mysql2/promise";
import { ConfigError } from "../errors.ts";
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
