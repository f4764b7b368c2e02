import type { RowDataPacket } from "mysql2/promise";
import type { Config } from "../config/index.ts";
import { TABLES } from "../domains/registry.ts";
import { isExpected } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type GroupDatabase, readGroupDatabase } from "../read/group-database.ts";
import { type Outage, retrying } from "../retry.ts";
import { TOMBSTONES_TABLE } from "../write/statements.ts";
import { migrateDatabase, sentSoFar } from "./migrate.ts";
import { explainDbError, type Pool } from "./pool.ts";
import { checkRunRights } from "./rights.ts";

// The database as the service finds it at start: reachable, its schema current, the service's
// rights in place, and the group's database id read (read/group-database.ts).

/**
 * Waits for MySQL, then applies pending migrations (as MYSQL_MIGRATE_USER on a connection of its
 * own when set). The line says whether TLS is in use: under preferred only the server decides.
 */
export async function prepareDatabase(
  config: Config,
  pool: Pool,
  outage: Outage,
  log: Logger,
  signal: AbortSignal,
): Promise<GroupDatabase> {
  // Each step waits out what an outage does to it (a server starting, full, read-only, failing
  // over); a refused right, a failed migration or a dropped table stops the start with its line.
  const waiting = <T>(step: () => Promise<T>) =>
    retrying(
      () => step().catch((err: unknown) => Promise.reject(isExpected(err) ? err : explainDbError(err, config))),
      outage,
      config.retryMaxBackoffMs,
      signal,
    );
  const tls = await waiting(() => checkDatabase(pool));
  // One record across the retries: a migration cut off by a lost connection is run again knowing
  // which of its statements were sent.
  const sent = sentSoFar();
  const migrated = await waiting(() => migrateDatabase(config, pool, sent));
  await waiting(() => checkRunRights(pool, [...TABLES, { name: TOMBSTONES_TABLE, key: "entity_id" }]));
  log.info(
    {
      host: config.mysqlHost,
      port: config.mysqlPort,
      database: config.mysqlDatabase,
      tls,
      applied: migrated.applied,
      migratedAs: migrated.applied.length > 0 ? config.mysqlMigrateUser || config.mysqlUser : undefined,
      ahead: migrated.ahead,
    },
    `connected to MySQL ${config.mysqlHost}:${config.mysqlPort}/${config.mysqlDatabase} ${tls === "" ? "without TLS" : `over ${tls}`}, schema at migration ${migrated.current}${migrated.ahead ? ` and ${migrated.ahead.join(", ")} of a newer release` : ""}`,
  );
  const at = { host: config.mysqlHost, port: config.mysqlPort, database: config.mysqlDatabase };
  return waiting(() => readGroupDatabase(pool, at));
}

/** The session's TLS version ("" without TLS), which also proves that MySQL answers. */
async function checkDatabase(pool: Pool): Promise<string> {
  const [rows] = await pool.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
  return String(rows[0]?.Value ?? "");
}
