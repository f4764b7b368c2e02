import { join } from "node:path";
import mysql from "mysql2/promise";
import type { Config } from "../../src/config/index.ts";
import { MIGRATE_PRIVILEGES } from "../../src/db/rights.ts";
import { StackError } from "../../src/errors.ts";
import type { StackConfig } from "./config.ts";
import { privateServerPid, startPrivateServer, stopPrivateServer } from "./mariadb-server.ts";
import { isPortOpen } from "./process.ts";

export interface DatabaseStatus {
  state: "ours" | "external" | "down";
  address: string;
  version?: string;
  pid?: number;
}

const server = (c: StackConfig) => ({
  dir: join(c.dir, "mariadb"),
  port: c.mysqlPort,
  bufferPoolMb: c.mysqlBufferPoolMb,
});

export async function adminConnection(c: StackConfig, database?: string): Promise<mysql.Connection> {
  try {
    return await mysql.createConnection({
      host: "127.0.0.1",
      port: c.mysqlPort,
      user: c.mysqlAdminUser,
      password: c.mysqlAdminPassword,
      database,
      connectTimeout: 3000,
      multipleStatements: false,
    });
  } catch (err) {
    throw explainConnectError(err, c);
  }
}

function explainConnectError(err: unknown, c: StackConfig): StackError {
  const e = err as { code?: string; message?: string };
  const where = `127.0.0.1:${c.mysqlPort}`;
  if (e.code === "ER_ACCESS_DENIED_ERROR" || e.code === "ER_ACCESS_DENIED_NO_PASSWORD_ERROR") {
    return new StackError(
      `the database at ${where} refused ${c.mysqlAdminUser}: set STACK_MYSQL_ADMIN_USER and STACK_MYSQL_ADMIN_PASSWORD to an account that may create databases and users`,
    );
  }
  if (e.code === "ETIMEDOUT" || e.code === "PROTOCOL_CONNECTION_LOST" || e.code === "HANDSHAKE_NO_SSL_SUPPORT") {
    return new StackError(
      `port ${c.mysqlPort} is held by a program that does not answer as MySQL: stop it or set STACK_MYSQL_PORT to a free port`,
    );
  }
  return new StackError(`the database at ${where} refused the connection: ${e.message ?? String(err)}`, err);
}

export async function databaseStatus(c: StackConfig): Promise<DatabaseStatus> {
  const address = `127.0.0.1:${c.mysqlPort}`;
  const ours = privateServerPid(server(c));
  if (ours === null && !(await isPortOpen(c.mysqlPort))) return { state: "down", address };
  const conn = await adminConnection(c);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT VERSION() AS v");
    const version = String(rows[0]?.v);
    return ours === null ? { state: "external", address, version } : { state: "ours", address, version, pid: ours };
  } finally {
    await conn.end();
  }
}

/** Uses the server on the port, or starts a private one; then makes sure the service's database and user exist. */
export async function databaseUp(c: StackConfig, service: Config): Promise<DatabaseStatus> {
  let status = await databaseStatus(c);
  if (status.state === "down") {
    await startPrivateServer(server(c));
    status = await databaseStatus(c);
  }
  await ensureServiceAccount(c, service);
  return status;
}

/**
 * The hosts the local user may log in from: loopback only. 'localhost' is a Unix socket (or any
 * loopback login on a server that resolves names), '127.0.0.1' and '::1' TCP on a server that
 * doesn't (the private server runs with --skip-name-resolve).
 */
export const SERVICE_HOSTS = ["localhost", "127.0.0.1", "::1"] as const;
/** Hosts older versions also created the user for: their grants on the database are taken back. */
const STALE_HOSTS = ["%"] as const;

/**
 * Database `service.mysqlDatabase` and a user with the rights `run` and `migrate` use on it
 * (MIGRATE_PRIVILEGES: the local user also migrates), from loopback only, and none elsewhere.
 * Safe to repeat; brings an account older versions made (ALL PRIVILEGES, also from '%') down to
 * these rights. Returns what it changed, one entry per account (nothing when all was in place).
 */
export async function ensureServiceAccount(c: StackConfig, service: Config): Promise<string[]> {
  const changed: string[] = [];
  const conn = await adminConnection(c);
  try {
    const db = service.mysqlDatabase;
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(db)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    const wanted = [...MIGRATE_PRIVILEGES].sort();
    for (const host of SERVICE_HOSTS) {
      const account = accountOf(service.mysqlUser, host);
      await conn.query(`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${mysql.escape(service.mysqlPassword)}`);
      const held = await databaseGrants(conn, service.mysqlUser, host, db);
      const exact =
        held.size === 1 && JSON.stringify([...(held.get(grantPattern(db)) ?? [])].sort()) === JSON.stringify(wanted);
      // Left alone when already exact, so a service running on it never sees its rights missing.
      if (exact) continue;
      for (const pattern of held.keys()) await conn.query(`REVOKE ALL PRIVILEGES ON ${pattern}.* FROM ${account}`);
      await conn.query(`GRANT ${MIGRATE_PRIVILEGES.join(", ")} ON ${grantPattern(db)}.* TO ${account}`);
      changed.push(`granted ${account}`);
    }
    for (const host of STALE_HOSTS) {
      const done = await retireAccount(conn, service.mysqlUser, host, db);
      if (done) changed.push(`${done} ${accountOf(service.mysqlUser, host)}`);
    }
  } finally {
    await conn.end();
  }
  return changed;
}

const accountOf = (user: string, host: string) => `${mysql.escape(user)}@${mysql.escape(host)}`;
/** The account as information_schema's GRANTEE column spells it: 'user'@'host'. */
const granteeOf = (user: string, host: string) => `'${user.replace(/'/g, "''")}'@'${host}'`;

/**
 * The database as a GRANT names it: `_` and `%` are wildcards there (`t_1` would also match
 * `tx1`), so they are escaped to stand for themselves.
 */
export const grantPattern = (db: string) => mysql.escapeId(db.replace(/[\\_%]/g, "\\$&"));

/**
 * The account's database-level grants that cover `db`, by the GRANT pattern as stored (escaped,
 * or unescaped as older versions wrote it): pattern → privileges.
 */
async function databaseGrants(
  conn: mysql.Connection,
  user: string,
  host: string,
  db: string,
): Promise<Map<string, Set<string>>> {
  const escaped = db.replace(/[\\_%]/g, "\\$&");
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_SCHEMA AS db, PRIVILEGE_TYPE AS privilege FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA IN (?)",
    [granteeOf(user, host), [...new Set([db, escaped])]],
  );
  const grants = new Map<string, Set<string>>();
  for (const r of rows) {
    const pattern = mysql.escapeId(String(r.db));
    const set = grants.get(pattern) ?? new Set<string>();
    set.add(String(r.privilege));
    grants.set(pattern, set);
  }
  return grants;
}

/**
 * Takes back the rights on `db` an older version granted `user`@`host`, and drops the account if
 * nothing else is left on it. An account someone gave other rights keeps them (and its login):
 * it is not ours to remove.
 */
async function retireAccount(
  conn: mysql.Connection,
  user: string,
  host: string,
  db: string,
): Promise<"dropped" | "revoked" | null> {
  const account = accountOf(user, host);
  // Every account has a row here (USAGE at least): an account that is absent has none.
  const [exists] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? LIMIT 1",
    [granteeOf(user, host)],
  );
  if (exists.length === 0) return null;
  const held = await databaseGrants(conn, user, host, db);
  for (const pattern of held.keys()) await conn.query(`REVOKE ALL PRIVILEGES ON ${pattern}.* FROM ${account}`);
  const [grants] = await conn.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR ${account}`);
  const lines = grants.map((g) => String(Object.values(g)[0]));
  if (lines.every((line) => /^GRANT USAGE ON \*\.\* TO /.test(line))) {
    await conn.query(`DROP USER IF EXISTS ${account}`);
    return "dropped";
  }
  return held.size > 0 ? "revoked" : null;
}

export async function databaseDown(c: StackConfig): Promise<boolean> {
  return stopPrivateServer(server(c));
}
