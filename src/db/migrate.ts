import type mysql from "mysql2/promise";
import { afterOutcome, DatabaseUnavailableError, isExpected, MigrationError } from "../errors.ts";
import { type Migration, readMigrations, splitStatements } from "./migration-files.ts";
import { stoppedError } from "./migration-stopped.ts";
import {
  type Account,
  type Connection,
  type DbConfig,
  explainDbError,
  openConnection,
  type Pool,
  serviceAccount,
} from "./pool.ts";
import { deniedError, isDenied, whoAndWhere } from "./rights.ts";
import { checkTableDefinitions, checkTablesPresent, createdBy, refuseForeignTables, tablesOf } from "./schema-drift.ts";
import { BAD_FIELD, errnoOf, NO_SUCH_TABLE, sqlMessageOf } from "./server-errors.ts";

// Versioned SQL migrations: NNN_name.sql applied in order, each recorded with the SHA-256 of its
// text. A file that changes after it was applied stops the service: the schema it describes is
// no longer the schema the database has.

const LOCK = "mysql_analytics_service_migrations";
/** Seconds another instance's migrations are waited for. */
const LOCK_WAIT_S = 120;

// Takes the migration lock, waiting LOCK_WAIT_S for it. A limit on statements' time must not cut
// that wait short: cut short, it gave NULL at every try while another instance held the lock, an
// outage waited out for ever that never said the lock was held. MariaDB's
// max_statement_time is lifted by the /*M! prefix, which MySQL reads as a comment. MySQL's
// max_execution_time (a DBA's global, or an account's session) times out every top-level
// SELECT, this one too (sql/sql_select.cc, is_timer_applicable_to_statement), and a
// MAX_EXECUTION_TIME hint of 0 does not lift it: 0 means the variable applies (MySQL 8.0 manual,
// "Optimizer Hints", Statement Execution Time Optimizer Hints). So the hint gives the statement a
// limit longer than the wait. MariaDB 10.11 reads the /*+ hint as a comment; a server that knows
// the hint applies the same longer limit.
export const LOCK_STATEMENT = `/*M!100108 SET STATEMENT max_statement_time = 0 FOR */ SELECT /*+ MAX_EXECUTION_TIME(${(LOCK_WAIT_S + 10) * 1000}) */ GET_LOCK(?, ${LOCK_WAIT_S}) AS got`;

export interface MigrateResult {
  applied: string[];
  current: number;
  /** Recorded past this release's last migration, by a newer release: a rollback runs on its schema. */
  ahead?: string[];
}

/**
 * Applies the pending migrations as the migrating account: MYSQL_MIGRATE_USER on a short-lived
 * connection of its own when set (the pool's MYSQL_USER then needs only RUN_PRIVILEGES), else
 * MYSQL_USER, through `pool` when given. A failure is one line.
 */
export async function migrateDatabase(config: DbConfig, pool?: Pool, sent = sentSoFar()): Promise<MigrateResult> {
  const explained = (err: unknown, account?: Account) => (isExpected(err) ? err : explainDbError(err, config, account));
  if (!config.mysqlMigrateUser && pool !== undefined) {
    return migrate(pool, readMigrations(), sent).catch((err: unknown) => Promise.reject(explained(err)));
  }
  const account: Account = config.mysqlMigrateUser
    ? {
        user: config.mysqlMigrateUser,
        password: config.mysqlMigratePassword ?? "",
        variables: "MYSQL_MIGRATE_USER and MYSQL_MIGRATE_PASSWORD",
      }
    : serviceAccount(config);
  const conn = await openConnection(config, account).catch((err: unknown) => Promise.reject(explained(err, account)));
  try {
    return await migrate(conn, readMigrations(), sent).catch((err: unknown) => Promise.reject(explained(err, account)));
  } finally {
    await afterOutcome("closing the migration's connection", conn.end());
  }
}

/**
 * Applies the pending migrations. Nothing is locked or created while none is pending, so `run`
 * works with only RUN_PRIVILEGES once the schema is current; a user that may not apply what is
 * pending gets one line naming the account, the right refused and the grant to use instead.
 */
export async function migrate(
  db: Pool | Connection,
  migrations = readMigrations(),
  sent = sentSoFar(),
): Promise<MigrateResult> {
  const current = migrations.at(-1)?.version ?? 0;
  const pooled = "getConnection" in db;
  const conn = pooled ? await db.getConnection() : db;
  let pending: Migration[] = [];
  const progress: Progress = { applied: [], migration: null, statements: 0, of: 0, created: [] };
  try {
    const recorded = await pendingMigrations(conn, migrations);
    pending = recorded.pending;
    if (pending.length === 0) {
      const made = tablesOf(migrations.flatMap((m) => splitStatements(m.sql)));
      await checkTablesPresent(conn, made, current);
      await checkTableDefinitions(conn, made);
      return recorded.ahead.length > 0 ? { applied: [], current, ahead: recorded.ahead } : { applied: [], current };
    }
    // Several instances may start at once: one migrates, the others wait and then verify.
    const [lock] = await conn.query<mysql.RowDataPacket[]>(LOCK_STATEMENT, [LOCK]);
    // NULL is not a timeout: the wait was cut short (a KILL QUERY, as pt-kill sends to long
    // statements; an error on the server), so nothing says another instance holds the lock.
    // Waited out as an outage; taken for the timeout, it stopped the start with a false line.
    if (lock[0]?.got == null)
      throw new DatabaseUnavailableError("MySQL: the wait for the migration lock was interrupted");
    // Held that long: another instance is still migrating (004 copies every table: minutes on tens
    // of millions of rows). An outage, waited out by `run`: as a failure, every instance started
    // with it stopped after 120 s, and a supervisor restarted them into the same wait.
    if (lock[0]?.got !== 1)
      throw new DatabaseUnavailableError(
        `MySQL: another instance has held the migration lock for ${LOCK_WAIT_S} s: it is applying migrations (large tables take minutes), or its session hangs (SELECT IS_USED_LOCK('${LOCK}') names it)`,
      );
    let failed = false;
    try {
      // Read again under the lock: the instance that held it may have applied them meanwhile.
      pending = (await pendingMigrations(conn, migrations)).pending;
      // None recorded yet: the tables the migrations make must not be there. After an attempt of
      // this start lost its connection part way, those found are its own.
      if (pending.length === migrations.length && sent.migration === null)
        await refuseForeignTables(conn, tablesOf(pending.flatMap((m) => splitStatements(m.sql))));
      return { applied: await applyPending(conn, pending, progress, sent), current };
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // After a failure, the release must not replace its cause: on a lost connection it fails
      // too ("connection is in closed state"), and the lock went with the session.
      const release = conn.query("SELECT RELEASE_LOCK(?)", [LOCK]);
      if (failed) await afterOutcome("releasing the migration lock", release);
      else await release;
    }
  } catch (err) {
    if (isDenied(err)) throw deniedError(err, await whoAndWhere(conn), pending, progress);
    if (progress.migration !== null && errnoOf(err) !== undefined) throw stoppedError(err, progress, migrations);
    throw err;
  } finally {
    if (pooled) (conn as mysql.PoolConnection).release();
  }
}

/**
 * The migrations not recorded in schema_migrations (all of them while it is missing), checksums
 * verified, and those recorded past this release's last (`ahead`: a newer release applied them).
 */
async function pendingMigrations(
  conn: Connection,
  migrations: Migration[],
): Promise<{ pending: Migration[]; ahead: string[] }> {
  let rows: mysql.RowDataPacket[];
  try {
    [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT version, name, checksum FROM schema_migrations");
  } catch (err) {
    if (errnoOf(err) === NO_SUCH_TABLE) return { pending: migrations, ahead: [] };
    // ER_BAD_FIELD_ERROR: a schema_migrations of another tool (Rails, golang-migrate, dbmate and
    // Ecto name theirs so, with a version column only): MYSQL_DATABASE names another application's
    // database. Taken for tables changed by hand, it was waited out for ever, the line asking to
    // put back what the migrations made.
    if (errnoOf(err) === BAD_FIELD) throw foreignMigrations(err, (await whoAndWhere(conn)).database);
    throw err;
  }
  const applied = new Map(rows.map((r) => [Number(r.version), r]));
  const known = new Map(migrations.map((m) => [m.version, m]));
  const last = migrations.at(-1)?.version ?? 0;
  const ahead: string[] = [];
  for (const [version, row] of [...applied].sort(([a], [b]) => a - b)) {
    const file = known.get(version);
    // A release rolled back runs on the schema of the newer one (docs/operations.md#database-rights):
    // migrations only add, so what this release reads is there. One missing below the last is not that.
    if (!file && version > last) {
      ahead.push(String(row.name));
      continue;
    }
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
  return { pending: migrations.filter((m) => !applied.has(m.version)), ahead };
}

/** The line for a database whose schema_migrations is another tool's: nothing was read or changed. */
function foreignMigrations(err: unknown, database: string): MigrationError {
  return new MigrationError(
    `database ${database} holds a schema_migrations table that is not this service's (MySQL: ${sqlMessageOf(err)}): another tool's migrations (Rails, golang-migrate, ...) record themselves there, so MYSQL_DATABASE names another application's database; nothing was changed: point MYSQL_DATABASE at the service's own database, or at an empty one`,
  );
}

/** How far the migration being applied got: DDL commits as it goes, so a refusal mid-file leaves its first statements applied. */
export interface Progress {
  /** Migrations applied and recorded before the failure: no longer pending. */
  applied: string[];
  migration: string | null;
  statements: number;
  of: number;
  /** Tables and views the failed migration's applied statements created, for the line that says what to undo. */
  created: string[];
}

/**
 * How far the attempts so far sent the migration they were applying when one lost its connection
 * (the server restarted, the session was killed): a retry runs the migration again from its first
 * statement (004's user variables and prepared statements live in one session), and a statement
 * an earlier attempt sent may then find its own work done.
 */
export interface Sent {
  migration: string | null;
  statements: number;
}

/** For one run of `migrate` and each retry of it. */
export const sentSoFar = (): Sent => ({ migration: null, statements: 0 });

/**
 * What a statement that took effect gives when sent again, by the statement that gives it:
 * ER_TABLE_EXISTS_ERROR (CREATE TABLE), ER_DUP_ENTRY (INSERT), ER_DUP_FIELDNAME and ER_DUP_KEYNAME
 * (ALTER TABLE … ADD a column or an index, CREATE INDEX). Only by it: ER_DUP_ENTRY from ALTER TABLE
 * … ADD UNIQUE KEY is rows the key refuses, and such an ALTER cut off by the lost connection was
 * rolled back; taken as done, the migration was recorded without its key.
 */
const DONE_BEFORE: [RegExp, Set<number>][] = [
  [/^CREATE\s+TABLE\b/i, new Set([1050])],
  [/^INSERT\b/i, new Set([1062])],
  [/^(?:ALTER\s+TABLE|CREATE\s+(?:UNIQUE\s+)?INDEX)\b/i, new Set([1060, 1061])],
];

const doneBefore = (statement: string, err: unknown) =>
  DONE_BEFORE.some(([kind, errnos]) => kind.test(statement) && errnos.has(errnoOf(err) ?? 0));

async function applyPending(conn: Connection, pending: Migration[], progress: Progress, sent: Sent): Promise<string[]> {
  if (pending.length === 0) return [];
  await conn.query(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version INT NOT NULL PRIMARY KEY,
       name VARCHAR(200) NOT NULL,
       checksum CHAR(64) NOT NULL,
       applied_at DATETIME(6) NOT NULL
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  );
  const done: string[] = [];
  for (const m of pending) {
    const statements = splitStatements(m.sql);
    Object.assign(progress, { migration: m.name, statements: 0, of: statements.length, created: [] });
    const before = sent.migration === m.name ? sent.statements : 0;
    for (const [i, statement] of statements.entries()) {
      Object.assign(sent, { migration: m.name, statements: Math.max(before, i + 1) });
      try {
        await conn.query(statement);
      } catch (err) {
        // Sent before a lost connection, it took effect though its answer was lost: refused as
        // already done, it stopped the start for good at a table of the migration's own.
        if (i >= before || !doneBefore(statement, err)) throw err;
      }
      progress.statements++;
      const made = createdBy(statement);
      if (made !== undefined) progress.created.push(made);
    }
    await conn.query(
      "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6))",
      [m.version, m.name, m.checksum],
    );
    done.push(m.name);
    progress.applied.push(m.name);
  }
  return done;
}
