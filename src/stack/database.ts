import { join } from "node:path";
import mysql from "mysql2/promise";
import type { Config } from "../config/index.ts";
import { StackError } from "../errors.ts";
import type { StackConfig } from "./config.ts";
import { privateServerPid, startPrivateServer, stopPrivateServer } from "./mariadb-server.ts";
import { isPortOpen } from "./process.ts";

export interface DatabaseStatus {
  state: "ours" | "external" | "down";
  address: string;
  version?: string;
  pid?: number;
}

const server = (c: StackConfig) => ({ dir: join(c.dir, "mariadb"), port: c.mysqlPort });

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

/** Database `service.mysqlDatabase` and a user with every right on it and none elsewhere. */
export async function ensureServiceAccount(c: StackConfig, service: Config): Promise<void> {
  const conn = await adminConnection(c);
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(service.mysqlDatabase)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    // TCP logins from this machine match 'localhost' or '127.0.0.1' before '%' on some servers.
    for (const host of ["%", "localhost", "127.0.0.1"]) {
      const account = `${mysql.escape(service.mysqlUser)}@${mysql.escape(host)}`;
      await conn.query(`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${mysql.escape(service.mysqlPassword)}`);
      await conn.query(`GRANT ALL PRIVILEGES ON ${mysql.escapeId(service.mysqlDatabase)}.* TO ${account}`);
    }
  } finally {
    await conn.end();
  }
}

export async function databaseDown(c: StackConfig): Promise<boolean> {
  return stopPrivateServer(server(c));
}
