import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import type { Config } from "../../src/config/index.ts";
import { migrateDatabase } from "../../src/db/migrate.ts";
import { type RunningService, startService } from "../../src/service.ts";
import {
  capturingLogger,
  caughtUp,
  produce,
  randomName,
  type TestDatabase,
  type TestTopics,
  testConfig,
  testDatabase,
  testMariaServer,
  testPool,
  testProducer,
  testTopics,
  userCreated,
  waitFor,
} from "../support/helpers.ts";

// A database the service can reach but not write to, or whose tables were changed by hand: the
// service waits, with a line that says what to put right, and goes on by itself once it is; a
// table dropped by hand stops the start (and `migrate`) with a line naming it.

const user = (n: number) => userCreated(n, "5d");
const outageLines = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => String(l.msg).startsWith("MySQL unavailable")).map((l) => String(l.msg));

/** Waits until the group has committed every event of the source topics, which made one user. */
async function oneUserApplied(config: Config, topics: TestTopics, db: TestDatabase): Promise<void> {
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("the event applied", () => caughtUp(config.kafkaGroupId, sources), 30000);
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users"), [{ n: "1" }]);
}

test("a read-only server at the start (a failover under way): waited out with a line saying so, then the service runs", async (t) => {
  const server = await testMariaServer(t);
  const db = await testDatabase(t, server.port);
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  // read_only binds accounts without READ ONLY ADMIN: a user with the database's rights only.
  const name = randomName("u_");
  const password = randomBytes(12).toString("hex");
  await db.conn.query("CREATE USER ?@'127.0.0.1' IDENTIFIED BY ?", [name, password]);
  await db.conn.query(`GRANT ALL ON \`${db.name.replace(/_/g, "\\_")}\`.* TO ?@'127.0.0.1'`, [name]);
  const env = {
    MYSQL_PORT: String(server.port),
    MYSQL_USER: name,
    MYSQL_PASSWORD: password,
    RETRY_MAX_BACKOFF_MS: "300",
  };
  const config = testConfig(db, topics, env);
  await migrateDatabase(config);
  await db.conn.query("SET GLOBAL read_only = 1");

  const { log, lines } = capturingLogger();
  let service: RunningService | undefined;
  const starting = startService(config, log).then((s) => {
    service = s;
    return s;
  });
  t.after(() => service?.stop());
  await waitFor("the outage line", async () => outageLines(lines).length > 0, 30000);
  assert.match(
    outageLines(lines)[0] ?? "",
    /read-only.*the server takes no writes \(read_only: a replica, or a failover under way\): point MYSQL_HOST at the primary/,
  );
  await db.conn.query("SET GLOBAL read_only = 0");
  await starting;
  await produce(producer, topics.prefix, [user(1)]);
  await oneUserApplied(config, topics, db);
});

test("a table renamed away while the service runs: waited out with a line saying so; back, the events are applied", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, { RETRY_MAX_BACKOFF_MS: "300" });
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  await db.conn.query("RENAME TABLE users TO users_away");
  await produce(producer, topics.prefix, [user(2)]);
  await waitFor("the outage line", async () => outageLines(lines).length > 0, 30000);
  assert.match(
    outageLines(lines)[0] ?? "",
    /users' doesn't exist \(the analytics tables were changed by hand: put back what the migrations made\)/,
  );
  await db.conn.query("RENAME TABLE users_away TO users");
  await oneUserApplied(config, topics, db);
});

test("a table dropped by hand: migrate and the start say which, instead of 'up to date' and a stack", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const config = testConfig(db, topics);
  await migrateDatabase(config);
  await db.conn.query("DROP TABLE posts");
  const missing =
    /table posts is missing, though migration 5 is recorded as applied: it was dropped by hand; restore it from a backup, or drop the database, run `analytics-service migrate` and rewind the group to the earliest offsets$/;
  await assert.rejects(migrateDatabase(config), missing);
  await assert.rejects(startService(config, capturingLogger().log), missing);
});

test("a database holding another application's tables of the same names: migrate refuses in one line and creates nothing", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const config = testConfig(db, topics);
  await db.conn.query("CREATE TABLE users (login VARCHAR(40) PRIMARY KEY)");
  await db.conn.query("CREATE TABLE orders (n INT PRIMARY KEY)");
  await db.conn.query("CREATE TABLE invoices (n INT PRIMARY KEY)");
  const foreign = new RegExp(
    `database ${db.name} already holds orders, users but records no migration of this service: nothing was created\\. ` +
      "If they are this service's .*drop them and run migrate again; else MYSQL_DATABASE names another application's database",
  );
  // Twice: the first refusal must leave nothing (an empty schema_migrations) that changes the second.
  await assert.rejects(migrateDatabase(config), foreign);
  await assert.rejects(startService(config, capturingLogger().log), foreign);
  const tables = await db.query(
    "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
    [db.name],
  );
  assert.deepEqual(tables, [{ t: "invoices" }, { t: "orders" }, { t: "users" }]);
});

test("the pool's sessions wait 50 s for a table lock another session holds, not the server's day", async (t) => {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  const [rows] = await pool.query("SELECT @@SESSION.lock_wait_timeout AS s");
  assert.deepEqual(rows, [{ s: "50" }]);
});

test("tables converted by hand (key collations, utf8mb3, MyISAM): migrate and the start name each change and write nothing", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const config = testConfig(db, topics);
  await migrateDatabase(config);
  // What a DBA "tidying collations" does without an error: "A-1" and "a-1", or "A-1 " and "A-1",
  // become one key, and emoji no longer fit.
  await db.conn.query(
    "ALTER TABLE users MODIFY user_id VARCHAR(24) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL",
  );
  await db.conn.query(
    "ALTER TABLE orders MODIFY order_number VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
  );
  await db.conn.query("ALTER TABLE posts CONVERT TO CHARACTER SET utf8mb3, ENGINE = MyISAM");
  const changed =
    /the analytics tables were changed by hand \(posts is MyISAM, not InnoDB; key orders\.order_number compares as utf8mb4_bin, not exactly; posts\.post_id is utf8mb3, not utf8mb4; posts\.post_type is utf8mb3, not utf8mb4; and \d+ more\): nothing was written\. Put back what the migrations made/;
  await assert.rejects(migrateDatabase(config), changed);
  await assert.rejects(startService(config, capturingLogger().log), changed);

  await db.conn.query("ALTER TABLE posts CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, ENGINE = InnoDB");
  await db.conn.query(
    "ALTER TABLE posts MODIFY post_id VARCHAR(24) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL, MODIFY author_user_id VARCHAR(24) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL",
  );
  await db.conn.query(
    "ALTER TABLE orders MODIFY order_number VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL",
  );
  await assert.rejects(
    migrateDatabase(config),
    /the analytics tables were changed by hand \(key users\.user_id compares as utf8mb4_general_ci, not exactly\)/,
  );
  await db.conn.query(
    "ALTER TABLE users MODIFY user_id VARCHAR(24) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL",
  );
  assert.deepEqual(await migrateDatabase(config), { applied: [], current: 5 });
});
