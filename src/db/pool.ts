import mysql from "mysql2/promise";
import type { Config } from "../config/index.ts";
import { type AppError, ConfigError, DatabaseUnavailableError } from "../errors.ts";
import { errnoOf, sqlMessageOf } from "./errno.ts";
import { outageAdvice } from "./schema-drift.ts";
import { connectWithTls, explainTlsError, followTlsPlan, type TlsConfig, tlsPlan } from "./tls.ts";

export type Pool = mysql.Pool;
export type Connection = mysql.PoolConnection | mysql.Connection;

export type DbConfig = Pick<
  Config,
  "mysqlHost" | "mysqlPort" | "mysqlUser" | "mysqlPassword" | "mysqlDatabase" | "mysqlPoolSize"
> &
  TlsConfig &
  Partial<Pick<Config, "mysqlMigrateUser" | "mysqlMigratePassword">>;

/** Who connects, and the variables that say so (named when the server refuses them). */
export interface Account {
  user: string;
  password: string;
  variables: string;
}

export const serviceAccount = (config: DbConfig): Account => ({
  user: config.mysqlUser,
  password: config.mysqlPassword,
  variables: "MYSQL_USER and MYSQL_PASSWORD",
});

// Strict mode makes the server reject, not silently truncate, a value that doesn't fit; the zone is
// fixed so NOW() and friends agree with the UTC strings we store; without gap locks, batches of
// different partitions (disjoint entities) don't block each other.
const SESSION_SETTINGS = [
  "SET time_zone = '+00:00'",
  "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
  "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
  // A table lock someone else holds (a backup's FLUSH TABLES WITH READ LOCK, LOCK TABLES, a long
  // ALTER) is waited for 50 s, as a row lock is, not the server's default of a day: the wait then
  // fails, and is retried as an outage whose line names the lock, not waited out unseen.
  "SET SESSION lock_wait_timeout = 50",
];

/**
 * A statement whose values are already in its text (every write: src/write/sql-text.ts) goes out
 * as it is: mysql2 would otherwise scan all of its text for placeholders, once per statement.
 * Statements with values are formatted as mysql2 formats them for these options.
 */
function queryFormat(sql: string, values: unknown): string {
  if (values === undefined || (Array.isArray(values) && values.length === 0)) return sql;
  return mysql.format(sql, values as never, false, "Z");
}

// DATETIME(6) values travel as 'YYYY-MM-DD HH:MM:SS.ffffff' strings in UTC: a JS Date would drop
// the microseconds and the session zone would shift them.
function connectionOptions(config: DbConfig, account: Account): mysql.ConnectionOptions {
  return {
    host: config.mysqlHost,
    port: config.mysqlPort,
    user: account.user,
    password: account.password,
    database: config.mysqlDatabase,
    connectTimeout: 5000,
    dateStrings: true,
    timezone: "Z",
    charset: "utf8mb4_unicode_ci",
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: false,
    // No call-site stack captured on every query: a failure is reported as one line, never a
    // stack, and capturing one costs the main thread on every query.
    trace: false,
    queryFormat: queryFormat as NonNullable<mysql.ConnectionOptions["queryFormat"]>,
  };
}

/** The service's pool, as MYSQL_USER, over TLS as MYSQL_SSL_MODE says (its files are read here, once per configuration). */
export function createPool(config: DbConfig): Pool {
  const options = connectionOptions(config, serviceAccount(config));
  const plan = tlsPlan(config);
  const pool = mysql
    .createPool({
      ...options,
      ssl: plan.ssl,
      stream: plan.stream,
      connectionLimit: config.mysqlPoolSize,
      maxIdle: config.mysqlPoolSize,
      waitForConnections: true,
      queueLimit: 0,
      enableKeepAlive: true,
    })
    .on("connection", (conn) => {
      // The pool hands out the callback-style connection here; a failure destroys it so the next
      // use fails loudly.
      const core = conn as unknown as { query(sql: string, cb: (err: Error | null) => void): void; destroy(): void };
      const onError = (err: Error | null) => {
        if (err) core.destroy();
      };
      for (const sql of SESSION_SETTINGS) core.query(sql, onError);
    });
  followTlsPlan(pool, plan, options);
  return pool;
}

/** One connection of its own, with the pool's session settings: for a short job as another account (migrations). */
export async function openConnection(config: DbConfig, account: Account): Promise<mysql.Connection> {
  const conn = await connectWithTls(connectionOptions(config, account), tlsPlan(config));
  try {
    for (const sql of SESSION_SETTINGS) await conn.query(sql);
  } catch (err) {
    conn.destroy();
    throw err;
  }
  return conn;
}

/**
 * Refusals that won't change however long the service waits: wrong credentials (MySQL says
 * ER_ACCESS_DENIED_NO_PASSWORD_ERROR instead when the password is empty), a database that does not
 * exist or is not the account's, a name no database can have.
 */
const REFUSED_FOR_GOOD = new Set([
  "ER_ACCESS_DENIED_ERROR",
  "ER_ACCESS_DENIED_NO_PASSWORD_ERROR",
  "ER_BAD_DB_ERROR",
  "ER_DBACCESS_DENIED_ERROR",
  "ER_WRONG_DB_NAME",
]);

/** A one-line explanation of why the database could not be reached at start, as `account`. */
export function explainDbError(err: unknown, config: DbConfig, account = serviceAccount(config)): AppError {
  const tls = explainTlsError(err, config);
  if (tls !== null) return tls;
  const e = err as { code?: string; message?: string };
  const where = `${config.mysqlHost}:${config.mysqlPort}`;
  let why = e.message ?? String(err);
  if (e.code === "ECONNREFUSED") why = `nothing is listening at ${where}; start MySQL or set MYSQL_HOST/MYSQL_PORT`;
  else if (e.code === "ER_ACCESS_DENIED_ERROR" || e.code === "ER_ACCESS_DENIED_NO_PASSWORD_ERROR")
    why = `user ${account.user} was refused at ${where}; check ${account.variables}`;
  else if (e.code === "ER_DBACCESS_DENIED_ERROR")
    why = `user ${account.user} has no rights on database ${config.mysqlDatabase} at ${where}; grant them or check MYSQL_DATABASE`;
  else if (e.code === "ER_BAD_DB_ERROR")
    why = `database ${config.mysqlDatabase} does not exist at ${where}; create it or set MYSQL_DATABASE`;
  else if (e.code === "ER_WRONG_DB_NAME")
    why = `${JSON.stringify(config.mysqlDatabase)} is not a name the server takes for a database; check MYSQL_DATABASE`;
  else if (e.code === "ENOTFOUND" || e.code === "EAI_AGAIN")
    why = `host ${config.mysqlHost} can't be resolved; check MYSQL_HOST`;
  else if (e.code === "ETIMEDOUT") why = `no answer from ${where}; check MYSQL_HOST/MYSQL_PORT and the network`;
  // Wrong credentials or database won't fix themselves; anything else may be a server still starting.
  if (e.code !== undefined && REFUSED_FOR_GOOD.has(e.code)) return new ConfigError(`MySQL: ${why}`);
  return new DatabaseUnavailableError(`MySQL: ${why}${outageAdvice(err)}`, err);
}

/** ER_NET_PACKET_TOO_LARGE. */
const PACKET_TOO_LARGE = 1153;

/**
 * MariaDB's engine error "Out of range value for column 'id'": the table's AUTO_INCREMENT ids are
 * used up. (1467, "failed to read auto-increment value", is not taken for it: InnoDB also gives it
 * for a wait on the AUTO-INC table lock that timed out, which a retry outlives.)
 */
const AUTO_INCREMENT_USED_UP = 167;

// Errors that say "this row can never be stored": the statement is wrong for this data, not for
// this moment. The one event that causes it goes to the dead-letter topic.
const BAD_DATA_ERRNOS = new Set([
  1048, // column cannot be null
  1062, // duplicate entry for a unique key
  1264, // out of range
  1265, // data truncated
  1292, // incorrect datetime value
  1366, // incorrect value for column
  1367, // illegal value
  1406, // data too long
  1451, // foreign key (parent row)
  1452, // foreign key (child row)
  1690, // value out of range in expression
  // A value of a shape no column takes (an array where a scalar goes) makes the statement itself
  // wrong; validation should have caught it, and if it did not, it is still that event's fault.
  1064, // syntax error near the value
  1136, // column count doesn't match value count
  1241, // operand should contain 1 column
  3140, // invalid JSON text (MySQL)
  // JSON MySQL can't store in its binary form: an object key over 65,535 bytes, a document too
  // large or too deep for it. MariaDB keeps JSON as text and takes them.
  3150, // JSON value too big (MySQL)
  3151, // JSON key too big (MySQL)
  3157, // JSON document too deep (MySQL)
  3819, // check constraint violated (MySQL)
  4025, // constraint failed (MariaDB JSON check)
  // A child table's AUTO_INCREMENT ids are used up: an insert that needs a new one is refused
  // until someone widens the column; an update of an existing row still works. (MySQL reports
  // the next insert as a duplicate of the largest id instead: 1062.)
  AUTO_INCREMENT_USED_UP,
  // The statement is larger than max_allowed_packet: sent again it is refused again. Statements
  // are cut to fit before they are sent (store.ts), so this means the server's limit went down
  // since it was read; replayed one event at a time, each then fits or is dead-lettered. (The
  // server may also just close the connection: that is a lost connection, retried, and the
  // retry reads the limit again.)
  PACKET_TOO_LARGE,
  1162, // a result string longer than max_allowed_packet
  1301, // a function's result longer than max_allowed_packet
]);

export function isBadDataError(err: unknown): boolean {
  const errno = errnoOf(err);
  return errno !== undefined && BAD_DATA_ERRNOS.has(errno);
}

/**
 * Whether the connection that got `err` can't be used again: the client lost it (mysql2 marks
 * that fatal), or the server refused an oversized packet, after which it closes the connection.
 */
export function isConnectionGone(err: unknown): boolean {
  const e = err as { fatal?: boolean; errno?: number } | undefined;
  return e?.fatal === true || e?.errno === PACKET_TOO_LARGE;
}

/**
 * The longest statement the server takes, in bytes. A session keeps the value the server had
 * when it connected, so the smaller of the session's and the server's current one.
 */
export async function readMaxAllowedPacket(db: Pool | Connection): Promise<number> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT LEAST(@@SESSION.max_allowed_packet, @@GLOBAL.max_allowed_packet) AS n",
  );
  const n = Number(rows[0]?.n);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`max_allowed_packet read as ${String(rows[0]?.n)}`);
  return n;
}

/**
 * The column or key the server's message ends by naming, without its schema and table: MariaDB
 * writes ``column `db`.`t`.`c` ``, MySQL ``column 'c'`` and ``key 't.k'``, then at most "at row n".
 * Only the end counts: a value is quoted before it, and may itself hold "for key 'x'".
 */
const NAMED_AT_END =
  /(?:column ((?:`\w+`\.)*`\w+`|'[\w.]+'|[\w.]+)(?: cannot be null)?|for key '([\w.]+)')(?: at row \d+)?\.?$/i;
const lastName = (text: string) => {
  const m = NAMED_AT_END.exec(text);
  return (m?.[1] ?? m?.[2])?.replaceAll(/[`']/g, "").split(".").at(-1);
};

/**
 * The server's complaint without the offending value (it may be anything the event carried):
 * e.g. "MySQL error 1406 (ER_DATA_TOO_LONG) on column bio".
 */
export function describeBadData(err: unknown): string {
  const e = err as { errno?: number; code?: string };
  if (e.errno === AUTO_INCREMENT_USED_UP) {
    return `MySQL error ${e.errno}: a child table's AUTO_INCREMENT ids are used up (docs/operations.md#auto_increment-ids-used-up)`;
  }
  const text = sqlMessageOf(err);
  const column = lastName(text);
  return `MySQL error ${e.errno ?? "?"} (${e.code ?? "unknown"})${column ? ` on ${column}` : ""}`;
}
