import assert from "node:assert/strict";
import { test } from "node:test";
import { migrate } from "../../src/db/migrate.ts";
import type { Migration } from "../../src/db/migration-files.ts";
import { testDatabase } from "../support/helpers.ts";

// The migration lock's wait against a real server: what ends it early and what it then says.

/** src/db/migrate.ts's lock: server-wide, so other tests' migrations wait the few seconds it is held. */
const LOCK = "mysql_analytics_service_migrations";

const ONE: Migration[] = [
  { version: 1, name: "001_t.sql", sql: "CREATE TABLE t (id INT PRIMARY KEY);\n", checksum: "c1" },
];

test("a limit on statements' time (max_statement_time) does not cut the wait for the migration lock short", async (t) => {
  const db = await testDatabase(t);
  const holder = await db.connect();
  const [got] = await holder.query("SELECT GET_LOCK(?, 60) AS got", [LOCK]);
  assert.equal((got as { got: number }[])[0]?.got, 1);
  const limited = await db.connect();
  // As a DBA's global setting or an account's MAX_STATEMENT_TIME would: 1 s for every statement.
  await limited.query("SET SESSION max_statement_time = 1");
  const released = new Promise((resolve) => setTimeout(resolve, 2500)).then(() =>
    holder.query("SELECT RELEASE_LOCK(?)", [LOCK]),
  );
  try {
    // Another instance migrating for longer than the limit: waited for, then nothing is pending.
    assert.deepEqual(await migrate(limited, ONE), { applied: ["001_t.sql"], current: 1 });
  } finally {
    await released;
  }
  assert.deepEqual(await db.query("SELECT version FROM schema_migrations"), [{ version: 1 }]);
});
