import mysql from "mysql2/promise";
import type { Config } from "../config/index.ts";
import { type AppError, ConfigError, DatabaseUnavailableError } from "../errors.ts";
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
  // The character set the driver sends and reads, again: a server's init_connect (a legacy my.cnf's
  // "SET NAMES utf8", run for every account without SUPER after the handshake) turned it to
  // utf8mb3, and every emoji was stored as six bytes of surrogate halves, without an error.
  "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
  "SET time_zone = '+00:00'",
  "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
  "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
  // A table lock someone else holds (a backup's FLUSH TABLES WITH READ LOCK, LOCK TABLES, a long
  // ALTER) is waited for 50 s, as a row lock is, not the server's default of a day: the wait then
  // fails, and is retried as an outage whose line names the lock, not waited out unseen.
  "SET SESSION lock_wait_timeout = 50",
  // A server whose autocommit is off (SET GLOBAL autocommit = 0, or autocommit=0 in its my.cnf)
  // opens a transaction with a session's first statement and rolls it back when the session ends:
  // `migrate` lost the record of its last migration (and 005's database id) that way, and every
  // start after refused on "Table 'service_database' already exists". Batches say START
  // TRANSACTION and COMMIT themselves; every other statement commits as it goes.
  "SET SESSION autocommit = 1",
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
    why = `user ${account.user} was refused at ${where}; check ${account.variables}${certificateHint(config, account)}`;
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

/**
 * An account created REQUIRE X509 (or SUBJECT, ISSUER), usually without a password, is refused
 * without a client certificate by the same "access denied" as a wrong password: the server tells
 * the client no more. Named when it may be the cause: no password, no certificate, TLS in use.
 */
function certificateHint(config: DbConfig, account: Account): string {
  if (account.password !== "" || config.mysqlSslCert || config.mysqlSslMode === "disabled") return "";
  return "; an account without a password may instead require a client certificate (REQUIRE X509): set MYSQL_SSL_CERT and MYSQL_SSL_KEY";
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
