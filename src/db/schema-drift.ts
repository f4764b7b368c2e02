import type mysql from "mysql2/promise";
import { TABLES } from "../domains/registry.ts";
import { ConfigError, MigrationError } from "../errors.ts";
import { TOMBSTONES_TABLE } from "../write/statements.ts";
import { isRightRefused, RUN_PRIVILEGES, whoAndWhere } from "./rights.ts";
import { errnoOf, NO_SUCH_TABLE } from "./server-errors.ts";

// What the service's database can be that waiting alone won't end: its tables changed by hand
// since the migrations made them, a server that takes no writes (a replica, a failover), a lock
// someone else holds. The service waits them out as outages (nothing is lost, and it goes on once
// they are put right), and its line says what to put right.

/** The table or view a migration statement creates, if it creates one. */
export function createdBy(statement: string): string | undefined {
  return /^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?/i.exec(statement)?.[1];
}

/** The tables and views the migrations' statements leave (created, and not dropped after). */
export function tablesOf(statements: readonly string[]): string[] {
  const left = new Set<string>();
  for (const statement of statements) {
    const made = createdBy(statement);
    if (made !== undefined) left.add(made);
    const dropped = /^\s*DROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?`?(\w+)`?/i.exec(statement)?.[1];
    if (dropped !== undefined) left.delete(dropped);
  }
  return [...left];
}

/**
 * Refuses to start a schema in a database that already holds tables of the migrations' names while
 * it records none of them: another application's database (MYSQL_DATABASE set wrong), or this
 * service's with schema_migrations dropped or its first migration cut off part way by another
 * start. Refused at its first CREATE TABLE instead, the first migration left an empty
 * schema_migrations behind and a line that said only "fix the cause".
 */
export async function refuseForeignTables(conn: { query: mysql.Connection["query"] }, made: readonly string[]) {
  if (made.length === 0) return;
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_NAME AS name, DATABASE() AS db FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)",
    [made],
  );
  if (rows.length === 0) return;
  const names = rows.map((r) => String(r.name)).sort();
  throw new MigrationError(
    `database ${rows[0]?.db} already holds ${names.join(", ")} but records no migration of this service: nothing was created. If they are this service's (its first migration cut off part way, or schema_migrations dropped), drop them and run migrate again; else MYSQL_DATABASE names another application's database: point it at an empty database or this service's own`,
  );
}

/**
 * Refuses a database whose migrations are all recorded but that lacks a table or view they made:
 * it was dropped by hand, and `migrate` would otherwise call the schema up to date.
 */
export async function checkTablesPresent(
  conn: { query: mysql.Connection["query"] },
  expected: readonly string[],
  current: number,
): Promise<void> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
  );
  const present = new Set(rows.map((r) => String(r.name)));
  const unlisted = expected.filter((t) => !present.has(t));
  if (unlisted.length === 0) return;
  // information_schema lists only the tables the account has a right on: one granted table by
  // table sees some of them. Called dropped, the line sent the operator to drop a sound database.
  const missing: string[] = [];
  const hidden: string[] = [];
  for (const table of unlisted) {
    try {
      await conn.query(`SELECT 1 FROM \`${table}\` LIMIT 0`);
    } catch (err) {
      // A table the account may not use is refused whether it exists or not; only a table
      // refused as not existing is known to be gone.
      if (errnoOf(err) === NO_SUCH_TABLE) missing.push(table);
      else if (isRightRefused(err)) hidden.push(table);
      else throw err;
    }
  }
  if (hidden.length > 0) {
    const who = await whoAndWhere(conn);
    throw new ConfigError(
      `user ${who.account} may not use ${hidden.length > 1 ? "tables" : "table"} ${hidden.join(", ")} of database ${who.database}, so it can't tell whether they are there: grant its rights on \`${who.database}\`.* as a whole, not table by table (${RUN_PRIVILEGES.join(", ")} for MYSQL_USER; docs/operations.md#database-rights), then run it again`,
    );
  }
  if (missing.length === 0) return;
  const [what, it] =
    missing.length > 1 ? [`tables ${missing.join(", ")} are`, "they were"] : [`table ${missing[0]} is`, "it was"];
  throw new MigrationError(
    `${what} missing, though migration ${current} is recorded as applied: ${it} dropped by hand; restore ${missing.length > 1 ? "them" : "it"} from a backup, or drop the database, run \`analytics-service migrate\` and rewind the group to the earliest offsets`,
  );
}

/**
 * The columns that compare exactly (a NO PAD binary collation), by table: each domain's table
 * says its own (`exactColumns`: its keys, the ids and child keys it holds; migration 004 made
 * those of the first tables so), and the tombstones' entity type and id.
 */
export const EXACT_KEY_COLUMNS: Readonly<Record<string, readonly string[]>> = Object.fromEntries([
  ...TABLES.map((t) => [t.name, t.exactColumns]),
  [TOMBSTONES_TABLE, ["entity_type", "entity_id"]],
]);
export const EXACT_COLLATIONS: ReadonlySet<string> = new Set(["utf8mb4_nopad_bin", "utf8mb4_0900_bin"]);

/**
 * Refuses tables a hand changed in what the server does not refuse, but writes wrongly: an engine
 * other than InnoDB (MyISAM has no transactions and no row locks, which every batch relies on),
 * a text column in another character set than utf8mb4 (utf8mb3 or latin1 refuse emoji
 * and other scripts: every such event was dead-lettered), a key column under a collation that is
 * not exact (utf8mb4_general_ci or _bin: "A-1" and "a-1", or "A-1 " and "A-1", were one key: the
 * second's events were dead-lettered as ER_DUP_ENTRY). A DBA's `ALTER TABLE … CONVERT
 * TO CHARACTER SET` does all of this without an error, and the service started "schema at
 * migration 5" as if nothing had happened. One line names each change (the first few).
 */
export async function checkTableDefinitions(
  conn: { query: mysql.Connection["query"] },
  tables: readonly string[],
): Promise<void> {
  if (tables.length === 0) return;
  const [engines] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_NAME AS t, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME IN (?) ORDER BY TABLE_NAME",
    [tables],
  );
  const [columns] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_NAME AS t, COLUMN_NAME AS c, CHARACTER_SET_NAME AS cs, COLLATION_NAME AS co FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) AND CHARACTER_SET_NAME IS NOT NULL ORDER BY TABLE_NAME, ORDINAL_POSITION",
    [tables],
  );
  // Views' columns (003's reports) are the tables' own, said once, for the table.
  const base = new Set(engines.map((r) => String(r.t)));
  const changes: string[] = [];
  for (const r of engines) {
    if (String(r.engine).toLowerCase() !== "innodb") changes.push(`${r.t} is ${r.engine}, not InnoDB`);
  }
  for (const r of columns.filter((x) => base.has(String(x.t)))) {
    const [t, c, cs, co] = [String(r.t), String(r.c), String(r.cs), String(r.co)];
    if (cs !== "utf8mb4") changes.push(`${t}.${c} is ${cs}, not utf8mb4`);
    else if (EXACT_KEY_COLUMNS[t]?.includes(c) && !EXACT_COLLATIONS.has(co))
      changes.push(`key ${t}.${c} compares as ${co}, not exactly`);
  }
  if (changes.length === 0) return;
  const shown = changes.slice(0, 4).join("; ") + (changes.length > 4 ? `; and ${changes.length - 4} more` : "");
  throw new MigrationError(
    `the analytics tables were changed by hand (${shown}): nothing was written. Put back what the migrations made (InnoDB, utf8mb4, keys in utf8mb4_nopad_bin on MariaDB or utf8mb4_0900_bin on MySQL; docs/events.md#exact-keys), then run it again`,
  );
}

// 1146 ER_NO_SUCH_TABLE, 1054 ER_BAD_FIELD_ERROR, 1364 ER_NO_DEFAULT_FOR_FIELD; 1290
// ER_OPTION_PREVENTS_STATEMENT (read_only), 1792 a read-only transaction, 1836 ER_READ_ONLY_MODE;
// 1205 ER_LOCK_WAIT_TIMEOUT (the session waits 50 s: src/db/pool.ts); 1820 ER_MUST_CHANGE_PASSWORD
// (MariaDB, and MySQL's sandbox: the login is taken, every statement refused), 1862
// ER_MUST_CHANGE_PASSWORD_LOGIN (MySQL refuses the login): the account's password expired.
const CHANGED_BY_HAND = "the analytics tables were changed by hand: put back what the migrations made";
// The server's own line ("You must SET PASSWORD before executing this statement") names neither
// the account nor that the service can't do it.
const EXPIRED =
  "the password of the service's MySQL account has expired: set a new one (ALTER USER … IDENTIFIED BY) and put it in MYSQL_PASSWORD (MYSQL_MIGRATE_PASSWORD for MYSQL_MIGRATE_USER), or ALTER USER … PASSWORD EXPIRE NEVER";
const ADVICE = new Map<number, string>([
  [1146, CHANGED_BY_HAND],
  [1054, CHANGED_BY_HAND],
  [1364, "a column without a default was added by hand: give it a default or drop it"],
  [1290, "the server takes no writes (read_only: a replica, or a failover under way): point MYSQL_HOST at the primary"],
  [1792, "the server takes no writes (a read-only transaction): point MYSQL_HOST at the primary"],
  [1836, "the server takes no writes (read-only mode): point MYSQL_HOST at the primary"],
  [1820, EXPIRED],
  [1862, EXPIRED],
  [
    1205,
    "another session holds a lock on the analytics tables: a backup's FLUSH TABLES WITH READ LOCK, LOCK TABLES or a long ALTER",
  ],
]);

/** What to put right for a database error that waiting alone won't end, as the end of its line; "" for others. */
export function outageAdvice(err: unknown): string {
  const errno = errnoOf(err);
  const advice = errno === undefined ? undefined : ADVICE.get(errno);
  return advice === undefined ? "" : ` (${advice})`;
}
