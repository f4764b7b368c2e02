import type { RowDataPacket } from "mysql2/promise";
import type { Config } from "../config/index.ts";
import { createPool, explainDbError, type Pool } from "../db/pool.ts";
import { BAD_FIELD, errnoOf, NO_SUCH_TABLE, sqlMessageOf } from "../db/server-errors.ts";
import { ENTITY_TABLES } from "../domains/registry.ts";
import { afterOutcome, ConfigError, isExpected, oneLine } from "../errors.ts";
import type { TableSpec } from "../plan/ops.ts";
import { TOMBSTONES_TABLE } from "../write/statements.ts";
import { parseCommandLine, UsageError } from "./args.ts";

// `analytics-service repair <table> <id> [--dry-run] [--force]`: unfreezes one entity. An event stamped far
// in the future, applied before MAX_CLOCK_SKEW_MS turned such events away, left its row versioned
// at that time (e.g. 9999-12-31), so every real event of the entity since is skipped as older; a
// delete stamped so leaves a tombstone that no restore can outrank. Repair clears the row's
// event_timestamp — the planner takes a row without one as older than any event — and deletes the
// entity's tombstone, so the next event of the entity applies, and a replay of its history
// rebuilds it. The row keeps its columns (and the event_id that froze it) until then.

/** The tables whose rows carry a version (event_timestamp): each domain's entity table (domains/registry.ts). */
export const REPAIRABLE_TABLES: ReadonlyMap<string, TableSpec> = new Map(ENTITY_TABLES.map((t) => [t.name, t]));

/** An entity id as events carry it (envelope `entity_id`): a MongoDB ObjectId, 24 hex digits. */
const ENTITY_ID = /^[0-9a-fA-F]{24}$/;

export interface RepairOptions {
  table: TableSpec;
  id: string;
  dryRun: boolean;
  /** Clears the guards even when nothing is ahead of now: older events may then overwrite the row. */
  force: boolean;
}

const USAGE = "repair <table> <id> [--dry-run] [--force]";

/** `repair <table> <id> [--dry-run] [--force]`; any other command line is a one-line UsageError. */
export function repairOptions(args: readonly string[]): RepairOptions {
  const { options, words } = parseCommandLine("repair", args, { "dry-run": "boolean", force: "boolean" }, true);
  const [table, id, ...extra] = words;
  if (table === undefined || id === undefined) throw new UsageError(`repair: name the row: ${USAGE}`);
  if (extra.length > 0) throw new UsageError(`repair: unexpected argument "${extra[0]}"; usage: ${USAGE}`);
  const spec = REPAIRABLE_TABLES.get(table);
  if (!spec) {
    const known = [...REPAIRABLE_TABLES.keys()];
    const hint = REPAIRABLE_TABLES.has(`${table}s`) ? ` (did you mean ${table}s?)` : "";
    throw new UsageError(`repair: unknown table "${table}"${hint}; one of ${known.join(", ")}`);
  }
  if (!ENTITY_ID.test(id)) {
    throw new UsageError(
      `repair: "${id}" is not an id: ${spec.key} is 24 hexadecimal digits, as entity_id in the events`,
    );
  }
  return { table: spec, id, dryRun: options["dry-run"] === true, force: options.force === true };
}

/** What the entity holds that keeps events out: the row's version and the tombstone's time. */
export interface RepairState {
  /** The row as stored (its id as the table spells it), or null without a row. */
  row: { id: string; eventTimestamp: string | null } | null;
  tombstone: { deletedAt: string; eventId: string } | null;
}

export const hasGuard = (s: RepairState) => (s.row !== null && s.row.eventTimestamp !== null) || s.tombstone !== null;

/** The last millisecond a DATETIME holds: 9999-12-31 23:59:59.999. */
const LAST_DATETIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A stored DATETIME(6) in UTC, as the tables hold it, for `ms` since the epoch. */
const stored = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "000");

/**
 * Whether a guard lies further ahead of now than MAX_CLOCK_SKEW_MS lets an event be: only such a
 * time (written before the guard existed) freezes the entity. Any other is a real event's, and
 * clearing it would let older events overwrite the row.
 */
export function isFrozen(s: RepairState, nowMs: number, maxClockSkewMs: number): boolean {
  // Past year 9999 the ISO text gains a sign ("+033715-…") and would sort below every DATETIME.
  const limit = stored(Math.min(nowMs + maxClockSkewMs, LAST_DATETIME_MS));
  return (s.row?.eventTimestamp != null && s.row.eventTimestamp > limit) || (s.tombstone?.deletedAt ?? "") > limit;
}

/** Why a repair that would unfreeze nothing is refused, in one line. */
export function notFrozen(options: RepairOptions, state: RepairState): string {
  const entity = `${options.table.name} ${state.row?.id ?? options.id}`;
  return (
    `repair: ${entity} is not frozen: nothing it holds is ahead of now by more than MAX_CLOCK_SKEW_MS, so its events apply; ` +
    "clearing its guards would let older events overwrite it (--force does it anyway)"
  );
}

/** A stored time, marked when it lies ahead of `now` (what freezes an entity). */
function when(ts: string, now: Date): string {
  return ts > stored(now.getTime()) ? `${ts} (in the future)` : ts;
}

/**
 * The lines `repair` prints: one per guard it removes (or, dry, would remove), then what follows.
 * `state` must hold a guard (hasGuard).
 */
export function describeRepair(options: RepairOptions, state: RepairState, now = new Date()): string[] {
  const entity = `${options.table.name} ${state.row?.id ?? options.id}`;
  const lines: string[] = [];
  const verb = (dry: string, done: string) => (options.dryRun ? dry : done);
  if (state.row?.eventTimestamp != null) {
    lines.push(
      `${entity}: ${verb("would set", "set")} event_timestamp ${when(state.row.eventTimestamp, now)} to NULL; the row's columns stay`,
    );
  }
  if (state.tombstone) {
    // The event_id is the producer's text (any 36 characters): a terminal escape in it would run
    // on the operator's terminal (rewrite the lines above, set the clipboard) unless escaped.
    lines.push(
      `${entity}: ${verb("would delete", "deleted")} its tombstone of ${when(state.tombstone.deletedAt, now)}, event ${oneLine(state.tombstone.eventId)}`,
    );
  }
  lines.push(
    options.dryRun
      ? "dry run: nothing changed"
      : "the next event of this entity applies, whatever its timestamp; replay its history to rebuild it now",
  );
  return lines;
}

/** Why there is nothing to repair, in the words of one line. */
export function nothingToRepair(options: RepairOptions, state: RepairState): string {
  const entity = `${options.table.name} ${state.row?.id ?? options.id}`;
  const row = state.row === null ? "no row" : "its row has no event_timestamp (nothing holds events back)";
  const tombstone = options.table.tombstones ? "no tombstone" : `${options.table.name} have no tombstones`;
  return `repair: ${entity}: nothing to repair: ${row} and ${tombstone}`;
}

interface Conn {
  query<T extends RowDataPacket[]>(sql: string, values?: unknown[]): Promise<[T, unknown]>;
}

/** Reads, under lock, what holds the entity's events back. */
export async function readRepairState(conn: Conn, table: TableSpec, id: string): Promise<RepairState> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT \`${table.key}\` AS id, event_timestamp AS ts FROM \`${table.name}\` WHERE \`${table.key}\` = ? FOR UPDATE`,
    [id],
  );
  let tombstone: RepairState["tombstone"] = null;
  if (table.tombstones) {
    const [stones] = await conn.query<RowDataPacket[]>(
      `SELECT deleted_event_timestamp AS ts, event_id FROM ${TOMBSTONES_TABLE} WHERE entity_type = ? AND entity_id = ? FOR UPDATE`,
      [table.name, id],
    );
    const stone = stones[0];
    if (stone) tombstone = { deletedAt: String(stone.ts), eventId: String(stone.event_id) };
  }
  const row = rows[0];
  return {
    row: row ? { id: String(row.id), eventTimestamp: row.ts === null ? null : String(row.ts) } : null,
    tombstone,
  };
}

/** Removes the guards `state` found, in the transaction that read them. */
export async function removeGuards(conn: Conn, table: TableSpec, id: string, state: RepairState): Promise<void> {
  if (state.row?.eventTimestamp != null) {
    await conn.query(`UPDATE \`${table.name}\` SET event_timestamp = NULL WHERE \`${table.key}\` = ?`, [id]);
  }
  if (state.tombstone) {
    await conn.query(`DELETE FROM ${TOMBSTONES_TABLE} WHERE entity_type = ? AND entity_id = ?`, [table.name, id]);
  }
}

export async function runRepair(
  config: Config,
  options: RepairOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const pool = createPool({ ...config, mysqlPoolSize: 1 });
  try {
    const conn = await pool.getConnection();
    try {
      // Read and change in one transaction, under the row locks the service's writes also take:
      // a batch writing the entity meanwhile waits, and what is printed is what was changed.
      await conn.beginTransaction();
      const state = await readRepairState(conn, options.table, options.id);
      if (!hasGuard(state)) {
        await conn.rollback();
        err.write(`analytics-service: ${nothingToRepair(options, state)}\n`);
        return 1;
      }
      if (!options.force && !isFrozen(state, Date.now(), config.maxClockSkewMs)) {
        await conn.rollback();
        err.write(`analytics-service: ${notFrozen(options, state)}\n`);
        return 1;
      }
      if (options.dryRun) await conn.rollback();
      else {
        await removeGuards(conn, options.table, options.id, state);
        await conn.commit();
      }
      out.write(`${describeRepair(options, state).join("\n")}\n`);
      return 0;
    } catch (e) {
      await afterOutcome("rolling back the repair", conn.rollback());
      throw e;
    } finally {
      conn.release();
    }
  } catch (e) {
    throw await explainRepairError(e, config, pool);
  } finally {
    await pool.end();
  }
}

/**
 * Whether the database records this service's migrations (its schema_migrations has a checksum,
 * which other tools' tables of that name have not), or shows its report views to an account that
 * may read only them: one that does neither is another application's, or one never migrated.
 */
async function holdsServiceTables(pool: { query: Pool["query"] }): Promise<boolean> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
       AND ((TABLE_NAME = 'schema_migrations' AND COLUMN_NAME = 'checksum') OR TABLE_NAME = 'report_users_active_deleted')`,
  );
  return Number(rows[0]?.n) > 0;
}

/**
 * One line for what an operator can fix: a database that is not the service's (MYSQL_DATABASE set
 * wrong: "run migrate" would make the schema there, "put back what the migrations made" would alter
 * another application's users table), a table not there (not migrated, or dropped), a user without
 * the rights.
 */
async function explainRepairError(e: unknown, config: Config, pool: { query: Pool["query"] }): Promise<unknown> {
  if (isExpected(e)) return e;
  const errno = errnoOf(e);
  if ((errno === NO_SUCH_TABLE || errno === BAD_FIELD) && !(await holdsServiceTables(pool).catch(() => true))) {
    return new ConfigError(
      `repair: database ${config.mysqlDatabase} at ${config.mysqlHost}:${config.mysqlPort} holds none of the service's tables (MySQL: ${sqlMessageOf(e)}); nothing was changed: point MYSQL_DATABASE at the database the service writes, or run \`analytics-service migrate\` there first`,
    );
  }
  if (errno === NO_SUCH_TABLE) {
    return new ConfigError(
      `repair: ${sqlMessageOf(e).replace(/\.$/, "")}: run \`analytics-service migrate\`, which applies what is pending or names the tables dropped by hand`,
    );
  }
  // 1142/1143: a statement refused; a refused login or database (1045, 1044) is explainDbError's.
  if (errno === 1142 || errno === 1143) {
    return new ConfigError(
      `repair: user ${config.mysqlUser} was refused on database ${config.mysqlDatabase} (${(e as Error).message}): repair needs SELECT, UPDATE and DELETE there`,
    );
  }
  return explainDbError(e, config);
}
