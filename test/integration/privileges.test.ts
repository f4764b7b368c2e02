import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { type TestContext, test } from "node:test";
import { migrate } from "../../src/db/migrate.ts";
import { readMigrations } from "../../src/db/migration-files.ts";
import { checkRunRights, MIGRATE_PRIVILEGES, RUN_PRIVILEGES } from "../../src/db/rights.ts";
import { TABLES, TOPICS } from "../../src/domains/registry.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { TOMBSTONES_TABLE } from "../../src/write/statements.ts";
import {
  adminConnection,
  CLI,
  caughtUp,
  produce,
  randomName,
  type TestDatabase,
  type TestTopics,
  testConfig,
  testDatabase,
  testEnv,
  testPool,
  testProducer,
  testService,
  testTopics,
  testUser,
  waitFor,
} from "../support/helpers.ts";

// The rights each command needs (issue #18): `run` only reads and writes rows once the schema is
// current; `migrate` needs MIGRATE_PRIVILEGES, and a user without them is told so in one line
// naming the account, the right refused and the grant to use. On the real server, with users of
// random names that are dropped afterwards.

/** A user with exactly `privileges` on the test's database, as the service's variables. */
async function userWith(t: TestContext, db: TestDatabase, privileges: readonly string[]) {
  const { user, password } = await testUser(t, db, privileges);
  return { MYSQL_USER: user, MYSQL_PASSWORD: password };
}

/** Topics that are never created: the commands below stop before they reach Kafka. */
const unusedTopics = (): TestTopics => {
  const prefix = `${randomName("t")}.`;
  return { prefix, dlq: `${prefix}dlq`, all: [...TOPICS.map((x) => `${prefix}${x}`), `${prefix}dlq`] };
};

const cli = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 60000,
  });

const tables = async (db: TestDatabase) =>
  (
    await db.query<{ t: string }>(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
    )
  )
    .map((r) => r.t)
    .sort();

test("a user with only SELECT, INSERT, UPDATE, DELETE runs the service on a migrated database", async (t) => {
  const db = await testDatabase(t);
  await migrate(testPool(t, db));
  const schema = await tables(db);
  const topics = await testTopics(t);
  const config = testConfig(db, topics, await userWith(t, db, RUN_PRIVILEGES));
  await testService(t, config);
  const producer = await testProducer(t);
  // Upserts, children replaced, a soft delete, a hard delete with its tombstone, a cancel.
  await produce(producer, topics.prefix, [
    fixture("user.created"),
    fixture("supplier.created"),
    fixture("product.created"),
    fixture("order.created"),
    fixture("order.cancelled"),
    fixture("post.created"),
    fixture("post.deleted"),
    fixture("product.deleted"),
  ]);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("all committed", () => caughtUp(config.kafkaGroupId, sources));
  // COUNT(*) comes back as text (the pool keeps big numbers exact).
  const one = async (sql: string) => String(Object.values((await db.query(sql))[0] ?? {})[0]);
  assert.equal(await one("SELECT COUNT(*) FROM users"), "1");
  assert.equal(await one("SELECT COUNT(*) FROM suppliers"), "1");
  assert.equal(await one("SELECT status FROM orders"), "cancelled");
  assert.notEqual(await one("SELECT COUNT(*) FROM order_items"), "0");
  assert.equal(await one("SELECT COUNT(*) FROM posts WHERE deleted_at IS NOT NULL"), "1");
  assert.equal(await one("SELECT COUNT(*) FROM products"), "0");
  assert.equal(await one("SELECT entity_type FROM entity_tombstones"), "products");
  assert.deepEqual(await tables(db), schema, "nothing created");
});

test("on a migrated database, a user without one of the rights `run` needs is stopped at start in one line naming it and the grant", async (t) => {
  const db = await testDatabase(t);
  await migrate(testPool(t, db));
  // Without SELECT the schema can't be read: migrate's own line says so (the test below).
  for (const missing of ["INSERT", "UPDATE", "DELETE"]) {
    const user = await userWith(
      t,
      db,
      RUN_PRIVILEGES.filter((p) => p !== missing),
    );
    const r = cli(["run"], testEnv(db, unusedTopics(), user));
    assert.equal(r.status, 1, `${missing}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${missing}: ${r.stderr}`);
    assert.match(
      lines[0] ?? "",
      new RegExp(
        `^analytics-service: MySQL: ${missing} command denied to user '${user.MYSQL_USER}'@'127.0.0.1' for table .+; ` +
          `grant SELECT, INSERT, UPDATE, DELETE on \`${db.name}\`\\.\\* to '${user.MYSQL_USER}'@'127\\.0\\.0\\.1' \\(MYSQL_USER\\), then start the service again$`,
      ),
      missing,
    );
  }
});

test("a user granted table by table, missing some tables: one line asking for the grant, not 'dropped by hand, drop the database'", async (t) => {
  const db = await testDatabase(t);
  await migrate(testPool(t, db));
  // information_schema lists an account only the tables it has a right on.
  const { user, password } = await testUser(t, db, null);
  for (const table of ["schema_migrations", "users"]) {
    await db.conn.query(`GRANT ${RUN_PRIVILEGES.join(", ")} ON \`${db.name}\`.\`${table}\` TO ?@'127.0.0.1'`, [user]);
  }
  const env = testEnv(db, unusedTopics(), { MYSQL_USER: user, MYSQL_PASSWORD: password });
  for (const command of ["migrate", "run", "report"]) {
    const r = cli([command], env);
    assert.equal(r.status, 1, `${command}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${command}: ${r.stderr}`);
    assert.doesNotMatch(lines[0] ?? "", /dropped by hand|drop the database/, command);
    assert.match(
      lines[0] ?? "",
      new RegExp(
        `^analytics-service: user '${user}'@'127\\.0\\.0\\.1' may not use tables suppliers, products, .* of database ${db.name}, ` +
          `so it can't tell whether they are there: grant its rights on \`${db.name}\`\\.\\* as a whole, not table by table`,
      ),
      command,
    );
  }
  assert.ok((await tables(db)).includes("suppliers"), "the tables were there all along");
});

test("on an unmigrated database the same user gets one line naming the user, the right and the grant", async (t) => {
  const db = await testDatabase(t);
  const user = await userWith(t, db, RUN_PRIVILEGES);
  const env = testEnv(db, unusedTopics(), user);
  for (const command of ["run", "migrate"]) {
    const r = cli([command], env);
    assert.equal(r.status, 1, `${command}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${command}: ${r.stderr}`);
    assert.equal(
      lines[0],
      `analytics-service: user '${user.MYSQL_USER}'@'127.0.0.1' may not CREATE on database ${db.name} and ` +
        `migrations ${readMigrations()
          .map((m) => m.name)
          .join(", ")} are pending: run \`analytics-service migrate\` as a user with ` +
        `${MIGRATE_PRIVILEGES.join(", ")} rights on ${db.name}, named by MYSQL_MIGRATE_USER and MYSQL_MIGRATE_PASSWORD ` +
        `(the service itself needs only ` +
        `${RUN_PRIVILEGES.join(", ")} once the schema is current)`,
      command,
    );
  }
  assert.deepEqual(await tables(db), [], "nothing created");
});

test("a user with exactly the migrate rights applies every migration", async (t) => {
  const db = await testDatabase(t);
  const env = testEnv(db, unusedTopics(), await userWith(t, db, MIGRATE_PRIVILEGES));
  const r = cli(["migrate"], env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^applied 001_tables\.sql, /);
  assert.equal((await db.query("SELECT * FROM schema_migrations")).length, readMigrations().length);
});

test("without one of the rights the migrations use, migrate names it and the migrations left pending", async (t) => {
  // MariaDB checks these; MySQL 8.0 also checks REFERENCES (the foreign keys of 001 and 004).
  for (const [missing, stops] of [
    ["CREATE", "001_tables.sql"],
    ["CREATE VIEW", "003_report_views.sql"],
    ["DROP", "003_report_views.sql"],
    ["ALTER", "004_exact_keys.sql"],
  ] as const) {
    const db = await testDatabase(t);
    const user = await userWith(
      t,
      db,
      MIGRATE_PRIVILEGES.filter((p) => p !== missing),
    );
    const r = cli(["migrate"], testEnv(db, unusedTopics(), user));
    assert.equal(r.status, 1, `${missing}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^analytics-service: user '${user.MYSQL_USER}'@'127\\.0\\.0\\.1' may not ${missing} on database `),
    );
    // Applied migrations are recorded one by one: the one refused and those after it wait.
    const waiting = readMigrations()
      .map((m) => m.name)
      .filter((name) => name >= stops);
    const phrase =
      waiting.length === 1 ? `migration ${waiting[0]} is pending` : `migrations ${waiting.join(", ")} are pending`;
    assert.ok(r.stderr.includes(` and ${phrase}: `), r.stderr);
    const recorded = (await tables(db)).includes("schema_migrations")
      ? await db.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY version")
      : [];
    assert.deepEqual(
      recorded.map((x) => x.name),
      readMigrations()
        .map((m) => m.name)
        .filter((name) => name < stops),
    );
  }
});

test("the start's rights check passes under sql_safe_updates, and passes over a table someone holds locked instead of waiting", async (t) => {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  await migrate(pool);
  const tables = [...TABLES, { name: TOMBSTONES_TABLE, key: "entity_id" }];
  // Both of the pool's connections in safe-update mode, as a DBA's global setting would make them.
  const held = await Promise.all([pool.getConnection(), pool.getConnection()]);
  for (const c of held) await c.query("SET SESSION sql_safe_updates = 1");
  for (const c of held) c.release();
  await checkRunRights(pool, tables);
  const locker = await adminConnection(db.name);
  t.after(() => locker.end());
  await locker.query("LOCK TABLES users WRITE");
  await checkRunRights(pool, tables);
  await locker.query("UNLOCK TABLES");
});

test("a user whose password expired: migrate says so in one line naming the variable, not only the server's 'You must SET PASSWORD'", async (t) => {
  const db = await testDatabase(t);
  const user = await userWith(t, db, MIGRATE_PRIVILEGES);
  await db.conn.query("ALTER USER ?@'127.0.0.1' PASSWORD EXPIRE", [user.MYSQL_USER]);
  const r = cli(["migrate"], testEnv(db, unusedTopics(), user));
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0] ?? "",
    /^analytics-service: MySQL: .* \(the password of the service's MySQL account has expired: set a new one .* MYSQL_PASSWORD .*PASSWORD EXPIRE NEVER\)$/,
  );
});
