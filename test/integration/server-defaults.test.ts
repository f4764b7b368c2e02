import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { migrateDatabase } from "../../src/db/migrate.ts";
import { createPool } from "../../src/db/pool.ts";
import { randomName, testConfig, testDatabase, testMariaServer, unusedTopics } from "../support/helpers.ts";

// A server configured otherwise than the service expects (a DBA's my.cnf): the sessions the
// service opens pin what it relies on, so the server's global defaults change nothing it writes.

test("a server with autocommit off and init_connect saying SET NAMES utf8: migrate records every migration it applies, and emoji are stored as sent", async (t) => {
  const server = await testMariaServer(t);
  const db = await testDatabase(t, server.port);
  // On a server of the test's own: both settings are global, and every session opened after takes
  // them (db.conn, opened before, keeps its own); init_connect runs for accounts without SUPER.
  await db.conn.query("SET GLOBAL autocommit = 0");
  await db.conn.query("SET GLOBAL init_connect = 'SET NAMES utf8'");
  const name = randomName("u_");
  const password = randomBytes(12).toString("hex");
  await db.conn.query("CREATE USER ?@'127.0.0.1' IDENTIFIED BY ?", [name, password]);
  await db.conn.query(`GRANT ALL ON \`${db.name.replace(/_/g, "\\_")}\`.* TO ?@'127.0.0.1'`, [name]);
  const config = testConfig(db, unusedTopics(), {
    MYSQL_PORT: String(server.port),
    MYSQL_USER: name,
    MYSQL_PASSWORD: password,
  });

  // Without autocommit pinned, the last migration's record was rolled back with its session, and
  // every start after refused on "Table 'service_database' already exists".
  const first = await migrateDatabase(config);
  assert.equal(first.applied.length, 5);
  const versions = await db.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
  assert.deepEqual(
    versions.map((r) => r.version),
    [1, 2, 3, 4, 5],
  );
  assert.equal((await db.query("SELECT database_id FROM service_database")).length, 1);
  assert.deepEqual(await migrateDatabase(config), { applied: [], current: 5 });

  // Without the character set pinned, the session was utf8mb3 and an emoji was stored as six bytes
  // of surrogate halves, without an error.
  const pool = createPool(config);
  t.after(() => pool.end());
  const [session] = await pool.query("SELECT @@character_set_client AS client, @@character_set_results AS results");
  assert.deepEqual(session, [{ client: "utf8mb4", results: "utf8mb4" }]);
  // As the writes send it: the value in the statement's text.
  await pool.query(
    "INSERT INTO users (user_id, email, display_name, created_at, updated_at) VALUES ('5d0000000000000000000001', 'a@b.c', 'smile 😀 ✓', '2026-01-01', '2026-01-01')",
  );
  const [row] = await db.query<{ hex: string }>("SELECT HEX(display_name) AS hex FROM users");
  assert.equal(row?.hex, Buffer.from("smile 😀 ✓").toString("hex").toUpperCase());
  const [read] = await pool.query("SELECT display_name FROM users");
  assert.deepEqual(read, [{ display_name: "smile 😀 ✓" }]);
});
