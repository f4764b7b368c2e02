import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, isRetryable, MigrationError } from "../errors.ts";
import { LOCK_STATEMENT, migrate, sentSoFar } from "./migrate.ts";
import type { Migration } from "./migration-files.ts";
import type { Pool } from "./pool.ts";
import { deniedError, MIGRATE_PRIVILEGES, RUN_PRIVILEGES } from "./rights.ts";

// migrate() against a recording double of the pool: which statements a schema that is current,
// missing or half-applied leads to, and the one line a refused user gets. The real servers'
// behaviour is in test/integration/privileges.test.ts.

const m = (version: number, name: string, sql: string): Migration => ({ version, name, sql, checksum: `c${version}` });
const MIGRATIONS = [
  m(1, "001_a.sql", "CREATE TABLE a (id INT PRIMARY KEY);\nCREATE TABLE b (id INT PRIMARY KEY);\n"),
  m(2, "002_b.sql", "CREATE TABLE c (id INT PRIMARY KEY);\n"),
];

type Answer = (sql: string) => unknown[] | Error;
const sqlError = (errno: number, sqlMessage: string) => Object.assign(new Error(sqlMessage), { errno, sqlMessage });

/** A pool whose one connection records each statement and answers it with `answer`. */
function fakePool(answer: Answer, lockGot: number | null = 1) {
  const statements: string[] = [];
  let released = 0;
  // As mysql2's: a connection that lost its server refuses every later command.
  let closed = false;
  const conn = {
    async query(sql: string) {
      if (closed) throw new Error("Can't add new command when connection is in closed state");
      statements.push(sql.replace(/\s+/g, " ").trim());
      if (/\bGET_LOCK\(/.test(sql)) return [[{ got: lockGot }], []];
      if (/^SELECT RELEASE_LOCK/.test(sql)) return [[{}], []];
      if (/^SELECT CURRENT_USER/.test(sql)) return [[{ account: "svc@localhost", db: "analytics" }], []];
      const rows = answer(sql);
      if (rows instanceof Error) {
        closed ||= (rows as { fatal?: boolean }).fatal === true;
        throw rows;
      }
      return [rows, []];
    },
    release() {
      released++;
    },
  };
  const pool = {
    getConnection: async () => {
      closed = false; // a new connection
      return conn;
    },
  } as unknown as Pool;
  return { pool, statements, released: () => released };
}

const recorded = (version: number) => ({ version, name: MIGRATIONS[version - 1]?.name, checksum: `c${version}` });

const TABLES_READ = "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()";
/** The two reads of the tables' engines and columns (schema-drift.ts checkTableDefinitions): nothing changed by hand. */
const DEFINITIONS_READ =
  /^SELECT TABLE_NAME AS t, (?:ENGINE AS engine|COLUMN_NAME AS c, .*) FROM information_schema\.(?:TABLES|COLUMNS) /;

test("nothing pending: schema_migrations and the tables read, no lock, nothing created", async () => {
  const tables = ["a", "b", "c", "schema_migrations"].map((name) => ({ name }));
  const f = fakePool((sql) =>
    sql.startsWith("SELECT version")
      ? [recorded(1), recorded(2)]
      : sql === TABLES_READ
        ? tables
        : DEFINITIONS_READ.test(sql)
          ? []
          : new Error(sql),
  );
  assert.deepEqual(await migrate(f.pool, MIGRATIONS), { applied: [], current: 2 });
  assert.deepEqual(f.statements.slice(0, 2), ["SELECT version, name, checksum FROM schema_migrations", TABLES_READ]);
  assert.equal(f.statements.length, 4);
  for (const read of f.statements.slice(2)) assert.match(read, DEFINITIONS_READ);
  assert.equal(f.released(), 1);
});

/** The server's answer to a table not listed: `refusal` (its errno and message) for the table named. */
const probed = (errno: number, message: (table: string) => string) => (sql: string) => {
  const table = /^SELECT 1 FROM `(\w+)` LIMIT 0$/.exec(sql)?.[1];
  return table === undefined ? new Error(sql) : sqlError(errno, message(table));
};

test("nothing pending but a table the migrations made is gone: one line naming it, not 'up to date'", async () => {
  const gone = probed(1146, (table) => `Table 'analytics.${table}' doesn't exist`);
  const f = fakePool((sql) =>
    sql.startsWith("SELECT version") ? [recorded(1), recorded(2)] : sql === TABLES_READ ? [{ name: "a" }] : gone(sql),
  );
  await assert.rejects(
    migrate(f.pool, MIGRATIONS),
    (err: unknown) =>
      err instanceof MigrationError &&
      err.message.startsWith(
        "tables b, c are missing, though migration 2 is recorded as applied: they were dropped by hand",
      ),
  );
});

test("nothing pending and tables not listed because the account may not use them: a grant to make, not 'dropped by hand'", async () => {
  // information_schema lists an account only the tables it has a right on: granted table by
  // table, it sees some. The server refuses the others (1142), whether or not they exist.
  const refused = probed(
    1142,
    (table) => `SELECT command denied to user 'svc'@'localhost' for table \`analytics\`.\`${table}\``,
  );
  const f = fakePool((sql) =>
    sql.startsWith("SELECT version")
      ? [recorded(1), recorded(2)]
      : sql === TABLES_READ
        ? [{ name: "a" }]
        : refused(sql),
  );
  await assert.rejects(migrate(f.pool, MIGRATIONS), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.doesNotMatch(err.message, /dropped by hand|drop the database/);
    assert.equal(
      err.message,
      "user 'svc'@'localhost' may not use tables b, c of database analytics, so it can't tell whether they are there: " +
        "grant its rights on `analytics`.* as a whole, not table by table (SELECT, INSERT, UPDATE, DELETE for MYSQL_USER; " +
        "docs/operations.md#database-rights), then run it again",
    );
    return true;
  });
});

test("one pending: read, lock, read again, create the bookkeeping table, apply, record, unlock", async () => {
  const f = fakePool((sql) => (sql.startsWith("SELECT version") ? [recorded(1)] : []));
  assert.deepEqual(await migrate(f.pool, MIGRATIONS), { applied: ["002_b.sql"], current: 2 });
  const expected = [
    /^SELECT version, name, checksum FROM schema_migrations$/,
    /^\/\*M!\d+ SET STATEMENT max_statement_time = 0 FOR \*\/ SELECT \/\*\+ MAX_EXECUTION_TIME\(\d+\) \*\/ GET_LOCK\(/,
    /^SELECT version, name, checksum FROM schema_migrations$/,
    /^CREATE TABLE IF NOT EXISTS schema_migrations /,
    /^CREATE TABLE c /,
    /^INSERT INTO schema_migrations /,
    /^SELECT RELEASE_LOCK\(/,
  ];
  assert.equal(f.statements.length, expected.length, f.statements.join("\n"));
  for (const [i, re] of expected.entries()) assert.match(f.statements[i] ?? "", re);
});

// MySQL 8.0's max_execution_time times out every top-level SELECT, `SELECT GET_LOCK(…)` included,
// and ignores MariaDB's /*M! prefix; a MAX_EXECUTION_TIME hint of 0 leaves the variable in force
// (MySQL 8.0 manual, "Optimizer Hints": Statement Execution Time Optimizer Hints). Only a hint of
// more than the lock's wait, right after SELECT, keeps a DBA's limit from cutting the wait short.
// MariaDB's side is test/integration/migration-lock.test.ts.
test("the lock's wait outlasts MySQL's max_execution_time too: a MAX_EXECUTION_TIME hint longer than GET_LOCK's timeout", () => {
  const m =
    /^\/\*M!\d+ SET STATEMENT max_statement_time = 0 FOR \*\/ SELECT \/\*\+ MAX_EXECUTION_TIME\((\d+)\) \*\/ GET_LOCK\(\?, (\d+)\) AS got$/.exec(
      LOCK_STATEMENT,
    );
  assert.ok(m, LOCK_STATEMENT);
  const [hintMs, waitS] = [Number(m[1]), Number(m[2])];
  assert.equal(waitS, 120);
  assert.ok(hintMs > waitS * 1000, `hint ${hintMs} ms must outlast the ${waitS} s wait`);
});

test("a wait for the lock cut short (GET_LOCK gives NULL to a KILL QUERY) is an outage to wait out, not a lock held 120 s", async () => {
  const f = fakePool((sql) => (sql.startsWith("SELECT version") ? [recorded(1)] : []), null);
  await assert.rejects(migrate(f.pool, MIGRATIONS), (err: unknown) => {
    assert.ok(isRetryable(err), String(err));
    assert.equal((err as Error).message, "MySQL: the wait for the migration lock was interrupted");
    return true;
  });
  assert.equal(f.statements.filter((s) => s.startsWith("CREATE TABLE c")).length, 0, "nothing applied");
  assert.equal(f.released(), 1);
  // A timeout (0) says another instance held it: still migrating (large tables take minutes), so
  // an outage too, which `run` waits out rather than stopping every instance started meanwhile.
  const timedOut = fakePool((sql) => (sql.startsWith("SELECT version") ? [recorded(1)] : []), 0);
  await assert.rejects(migrate(timedOut.pool, MIGRATIONS), (err: unknown) => {
    assert.ok(isRetryable(err), String(err));
    assert.match(
      (err as Error).message,
      /^MySQL: another instance has held the migration lock for 120 s: it is applying migrations/,
    );
    return true;
  });
  assert.equal(timedOut.statements.filter((s) => s.startsWith("CREATE TABLE c")).length, 0, "nothing applied");
});

test("a schema_migrations of another tool: one MigrationError line naming the database, nothing locked or created", async () => {
  const f = fakePool((sql) =>
    sql.startsWith("SELECT version") ? sqlError(1054, "Unknown column 'name' in 'SELECT'") : [],
  );
  await assert.rejects(migrate(f.pool, MIGRATIONS), (err: unknown) => {
    assert.ok(err instanceof MigrationError);
    assert.equal(isRetryable(err), false, "not waited out as an outage");
    assert.match(
      err.message,
      /^database analytics holds a schema_migrations table that is not this service's \(MySQL: Unknown column 'name' in 'SELECT'\): .*point MYSQL_DATABASE at the service's own database, or at an empty one$/,
    );
    return true;
  });
  assert.deepEqual(f.statements, [
    "SELECT version, name, checksum FROM schema_migrations",
    "SELECT CURRENT_USER() AS account, DATABASE() AS db",
  ]);
  assert.equal(f.released(), 1);
});

test("schema_migrations missing and CREATE refused: one MigrationError line naming user, right and grant", async () => {
  const f = fakePool((sql) => {
    if (sql.startsWith("SELECT version")) return sqlError(1146, "Table 'analytics.schema_migrations' doesn't exist");
    return sqlError(1142, "CREATE command denied to user 'svc'@'localhost' for table `analytics`.`schema_migrations`");
  });
  await assert.rejects(migrate(f.pool, MIGRATIONS), (err: unknown) => {
    assert.ok(err instanceof MigrationError);
    assert.equal(err.expected, true);
    assert.equal(err.message.includes("\n"), false);
    assert.equal(
      err.message,
      "user 'svc'@'localhost' may not CREATE on database analytics and migrations 001_a.sql, 002_b.sql are pending: " +
        "run `analytics-service migrate` as a user with SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, " +
        "REFERENCES, CREATE VIEW rights on analytics, named by MYSQL_MIGRATE_USER and MYSQL_MIGRATE_PASSWORD " +
        "(the service itself needs only SELECT, INSERT, UPDATE, DELETE " +
        "once the schema is current)",
    );
    return true;
  });
  assert.ok(f.statements.includes("SELECT RELEASE_LOCK(?)"), "the lock is given back");
  assert.equal(f.released(), 1);
});

test("a refusal in the middle of a migration says which statements of it stay applied", async () => {
  const f = fakePool((sql) => {
    if (sql.startsWith("SELECT version")) return [];
    if (sql.startsWith("CREATE TABLE b"))
      return sqlError(1142, "REFERENCES command denied to user 'svc'@'%' for table 'a'");
    return [];
  });
  await assert.rejects(migrate(f.pool, MIGRATIONS), (err: unknown) => {
    assert.ok(err instanceof MigrationError);
    assert.match(err.message, /^user 'svc'@'localhost' may not REFERENCES on database analytics /);
    assert.match(err.message, /\(001_a\.sql stopped after 1 of its 2 statements, which stay applied\)$/);
    return true;
  });
});

/** What mysql2 throws when the server goes before its answer comes: an outage, retried. */
const connectionLost = () =>
  Object.assign(new Error("Connection lost: The server closed the connection."), { fatal: true });

/** Migrations 1 and 2 recorded; the first statement starting `prefix` loses the connection, later ones get `again`. */
function lostOnceThen(prefix: string, again: Error) {
  let sent = 0;
  return fakePool((sql) => {
    if (sql.startsWith("SELECT version")) return [recorded(1), recorded(2)];
    if (!sql.startsWith(prefix)) return [];
    return sent++ === 0 ? connectionLost() : again;
  });
}

test("a connection lost part way through a migration: the retry runs it again, and the tables it sent are its own", async () => {
  const tables = new Set<string>();
  let lost = false;
  const f = fakePool((sql) => {
    if (sql.startsWith("SELECT version")) return [];
    const made = /^CREATE TABLE (?!IF NOT EXISTS)(\w+)/.exec(sql)?.[1];
    if (made === undefined) return [];
    if (tables.has(made)) return sqlError(1050, `Table '${made}' already exists`);
    tables.add(made);
    if (made !== "b" || lost) return [];
    // The server created b, and the connection went before its answer came: an outage, retried.
    lost = true;
    return connectionLost();
  });
  const sent = sentSoFar();
  await assert.rejects(migrate(f.pool, MIGRATIONS, sent), /Connection lost/);
  assert.deepEqual(await migrate(f.pool, MIGRATIONS, sent), { applied: ["001_a.sql", "002_b.sql"], current: 2 });
  assert.deepEqual([...tables].sort(), ["a", "b", "c"]);
  // A table of the name that no attempt of this run sent is still refused.
  await assert.rejects(
    migrate(f.pool, MIGRATIONS, sentSoFar()),
    /stopped at statement 1 of 2 \(MySQL: Table 'a' already exists\)/,
  );
});

test("a connection lost during ALTER TABLE … ADD UNIQUE KEY: the retry's duplicate entry is the rows, not the key added", async () => {
  const unique = [
    ...MIGRATIONS,
    m(3, "003_uq.sql", "ALTER TABLE a ADD UNIQUE KEY uq_a_v (v);\nINSERT INTO c VALUES (1);\n"),
  ];
  // Cut off while it waited (a metadata lock, a long rebuild): rolled back, no key added.
  const f = lostOnceThen("ALTER TABLE a", sqlError(1062, "Duplicate entry 'x' for key 'uq_a_v'"));
  const sent = sentSoFar();
  await assert.rejects(migrate(f.pool, unique, sent), /Connection lost/);
  await assert.rejects(migrate(f.pool, unique, sent), /stopped at statement 1 of 2 \(MySQL: Duplicate entry 'x'/);
  assert.equal(f.statements.filter((s) => s.startsWith("INSERT INTO schema_migrations")).length, 0, "not recorded");
  // An INSERT's duplicate entry is still its own row: taken as done.
  const rows = lostOnceThen("INSERT INTO c", sqlError(1062, "Duplicate entry '1' for key 'PRIMARY'"));
  const again = sentSoFar();
  await assert.rejects(migrate(rows.pool, unique, again), /Connection lost/);
  assert.deepEqual(await migrate(rows.pool, unique, again), { applied: ["003_uq.sql"], current: 3 });
});

test("deniedError: a refusal of the whole database names no right; the lists are the documented grants", () => {
  const err = deniedError(
    sqlError(1044, "Access denied for user 'svc'@'%' to database 'analytics'"),
    { account: "'svc'@'%'", database: "analytics" },
    [],
  );
  assert.match(err.message, /^user 'svc'@'%' was refused on database analytics and the schema can't be read: run /);
  assert.deepEqual(RUN_PRIVILEGES, ["SELECT", "INSERT", "UPDATE", "DELETE"]);
  assert.deepEqual(MIGRATE_PRIVILEGES.slice(0, 4), RUN_PRIVILEGES);
});

test("a migration the server refuses part way says where it stopped and what its applied statements created", async () => {
  const failingAt = (table: string) =>
    fakePool((sql) => {
      if (sql.startsWith("SELECT version")) return [];
      if (sql.startsWith(`CREATE TABLE ${table}`)) return sqlError(1050, `Table '${table}' already exists`);
      return [];
    });
  await assert.rejects(migrate(failingAt("b").pool, MIGRATIONS), {
    name: "MigrationError",
    message:
      "migration 001_a.sql stopped at statement 2 of 2 (MySQL: Table 'b' already exists); its first 1 statement(s) stay applied and it is not recorded: drop a (or restore the database), fix the cause, then run migrate again",
  });
  await assert.rejects(migrate(failingAt("a").pool, MIGRATIONS), {
    message:
      "migration 001_a.sql stopped at statement 1 of 2 (MySQL: Table 'a' already exists); nothing of it was applied: fix the cause, then run migrate again",
  });
});

test("other errors pass through unchanged", async () => {
  const boom = sqlError(1064, "You have an error in your SQL syntax");
  const f = fakePool((sql) => (sql.startsWith("SELECT version") ? [] : boom));
  await assert.rejects(migrate(f.pool, MIGRATIONS), (err: unknown) => err === boom);
});

test("migrations applied before the refusal are recorded and no longer named as pending", async () => {
  const f = fakePool((sql) => {
    if (sql.startsWith("SELECT version")) return [];
    if (sql.startsWith("CREATE TABLE c"))
      return sqlError(1142, "CREATE command denied to user 'svc'@'localhost' for table 'c'");
    return [];
  });
  await assert.rejects(migrate(f.pool, MIGRATIONS), (err: unknown) => {
    assert.ok(err instanceof MigrationError);
    assert.match(err.message, / and migration 002_b\.sql is pending: run /);
    assert.doesNotMatch(err.message, /stopped after/);
    return true;
  });
  assert.equal(f.statements.filter((s) => s.startsWith("INSERT INTO schema_migrations")).length, 1);
});

test("migrations a newer release applied: a release rolled back runs on its schema; one unknown below the last is refused", async () => {
  const tables = ["a", "b", "c", "schema_migrations"].map((name) => ({ name }));
  const newer = { version: 3, name: "003_newer.sql", checksum: "c3" };
  const f = fakePool((sql) =>
    sql.startsWith("SELECT version")
      ? [recorded(1), recorded(2), newer]
      : sql === TABLES_READ
        ? tables
        : DEFINITIONS_READ.test(sql)
          ? []
          : new Error(sql),
  );
  assert.deepEqual(await migrate(f.pool, MIGRATIONS), { applied: [], current: 2, ahead: ["003_newer.sql"] });
  assert.deepEqual(f.statements.slice(0, 2), ["SELECT version, name, checksum FROM schema_migrations", TABLES_READ]);

  // Not recorded by a newer release of this line (a file deleted, another branch): refused as before.
  const gap = fakePool((sql) =>
    sql.startsWith("SELECT version") ? [recorded(2), { version: 1, name: "001_other.sql", checksum: "x" }] : [],
  );
  await assert.rejects(
    migrate(gap.pool, [MIGRATIONS[1] as Migration]),
    /^MigrationError: migration 001_other\.sql is recorded in schema_migrations but its file is missing/,
  );
});

test("a foreign key that can't be added back over rows whose parent an older release deleted meanwhile says which rows to delete", async () => {
  // As 004: the key dropped, the tables changed, the key added back; an older instance deleted a
  // product in between, and its variants stayed.
  const fkAgain = m(
    1,
    "001_fk.sql",
    "ALTER TABLE product_variants DROP FOREIGN KEY fk_variants_product;\nALTER TABLE product_variants ADD CONSTRAINT fk_variants_product FOREIGN KEY (product_id) REFERENCES products (product_id) ON DELETE CASCADE;\n",
  );
  const f = fakePool((sql) =>
    sql.startsWith("SELECT version")
      ? []
      : sql.includes("ADD CONSTRAINT")
        ? sqlError(
            1452,
            "Cannot add or update a child row: a foreign key constraint fails (`analytics`.`#sql-alter-edd-573`, CONSTRAINT `fk_variants_product` FOREIGN KEY (`product_id`) REFERENCES `products` (`product_id`) ON DELETE CASCADE)",
          )
        : [],
  );
  await assert.rejects(migrate(f.pool, [fkAgain]), (err: unknown) => {
    assert.ok(err instanceof MigrationError);
    assert.match(
      err.message,
      /^migration 001_fk\.sql stopped at statement 2 of 2 \(MySQL: Cannot add or update a child row/,
    );
    assert.match(
      err.message,
      /rows of product_variants refer to products rows that are gone, deleted while the foreign key was off \(by an instance of an older release still running: stop those first\)/,
    );
    assert.match(
      err.message,
      /\(DELETE c FROM product_variants c LEFT JOIN products p ON p\.product_id = c\.product_id WHERE p\.product_id IS NULL\), then run migrate again$/,
    );
    assert.doesNotMatch(err.message, /undo them|restore the database/);
    return true;
  });
});
