import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { readMigrations } from "../../src/db/migration-files.ts";
import { MIGRATE_PRIVILEGES, RUN_PRIVILEGES } from "../../src/db/rights.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  caughtUp,
  privatePort,
  produce,
  randomName,
  runCliSync,
  spawnService,
  stack,
  type TestDatabase,
  testDatabase,
  testEnv,
  testProducer,
  testTopics,
  testUser,
  unusedTopics,
  waitFor,
} from "../support/helpers.ts";

// Secrets from files (issue #20): MYSQL_PASSWORD_FILE and friends, as Docker and Kubernetes mount
// secrets; and MYSQL_MIGRATE_USER, which migrates on a connection of its own while the service's
// user keeps only SELECT, INSERT, UPDATE, DELETE. The passwords must never show: not in the log,
// /metrics, --help or an error.

const STACK_SCRIPT = new URL("../../scripts/stack.ts", import.meta.url).pathname;

/** A password that is easy to look for in output. */
const newPassword = () => `Pw-${randomBytes(9).toString("hex")}`;

/** A user with exactly `privileges` on the test's database, and a password easy to look for; dropped afterwards. */
const userWith = (t: TestContext, db: TestDatabase, privileges: readonly string[]) =>
  testUser(t, db, privileges, newPassword());

/** Files in a folder of the test's own, removed afterwards. */
function secretFiles(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), "analytics-secrets-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
}

test("a DML-only MYSQL_USER and a MYSQL_MIGRATE_USER, passwords from files, migrate and fill an empty database", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const service = await userWith(t, db, RUN_PRIVILEGES);
  const migrator = await userWith(t, db, MIGRATE_PRIVILEGES);
  const file = secretFiles(t);
  const metricsPort = await privatePort();
  const env = testEnv(db, topics, {
    MYSQL_USER: service.user,
    MYSQL_PASSWORD: "",
    MYSQL_PASSWORD_FILE: file("mysql-password", `${service.password}\n`),
    MYSQL_MIGRATE_USER: migrator.user,
    MYSQL_MIGRATE_PASSWORD_FILE: file("migrate-password", `${migrator.password}\n`),
    METRICS_PORT: String(metricsPort),
  });
  const running = spawnService(t, env);
  await produce(await testProducer(t), topics.prefix, [
    fixture("user.created"),
    fixture("supplier.created"),
    fixture("product.created"),
    fixture("order.created"),
    fixture("post.created"),
    fixture("product.deleted"),
  ]);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("all committed", () => caughtUp(env.KAFKA_GROUP_ID ?? "", sources), 60000);
  const count = async (table: string) =>
    Number(Object.values((await db.query(`SELECT COUNT(*) FROM ${table}`))[0] ?? {})[0]);
  assert.equal(await count("schema_migrations"), readMigrations().length, "migrated by MYSQL_MIGRATE_USER");
  assert.deepEqual(
    [await count("users"), await count("suppliers"), await count("orders"), await count("posts")],
    [1, 1, 1, 1],
  );
  assert.equal(await count("entity_tombstones"), 1, "the deleted product's tombstone");
  // The service's user may not CREATE: the views' definer says who migrated.
  const definers = await db.query<{ d: string }>(
    "SELECT DISTINCT DEFINER AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()",
  );
  assert.deepEqual(
    definers.map((r) => r.d),
    [`${migrator.user}@127.0.0.1`],
  );
  const connected = running
    .log()
    .split("\n")
    .find((l) => l.includes("connected to MySQL"));
  assert.ok(connected?.includes(`"migratedAs":"${migrator.user}"`), connected);

  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, /analytics_events_total/);
  const help = runCliSync(["--help"], env);
  assert.match(help.stdout, /MYSQL_PASSWORD_FILE: a file holding it\./);
  assert.match(help.stdout, /MYSQL_MIGRATE_PASSWORD_FILE: a file holding it\./);
  const migrate = runCliSync(["migrate"], env);
  assert.equal(migrate.stdout, `schema up to date at migration ${readMigrations().at(-1)?.version}\n`, migrate.stderr);
  assert.equal(await running.kill("SIGTERM"), 0);
  for (const [where, text] of Object.entries({
    log: running.log(),
    metrics,
    help: help.stdout,
    migrate: migrate.stdout,
  })) {
    for (const secret of [service.password, migrator.password])
      assert.ok(!text.includes(secret), `a password in the ${where}`);
  }
});

test("both forms, a missing file, a wrong password from a file: one line naming the variable, never the value", async (t) => {
  const db = await testDatabase(t);
  const migrator = await userWith(t, db, MIGRATE_PRIVILEGES);
  const file = secretFiles(t);
  const wrong = newPassword();
  const missing = join(tmpdir(), randomName("no-such-secret-"));
  const cases: [Record<string, string>, string][] = [
    [
      { MYSQL_PASSWORD: wrong, MYSQL_PASSWORD_FILE: file("both", wrong) },
      "MYSQL_PASSWORD: set either MYSQL_PASSWORD or MYSQL_PASSWORD_FILE, not both. MySQL password; unset, the local stack's (set your own anywhere else).",
    ],
    [
      { MYSQL_MIGRATE_USER: migrator.user, MYSQL_MIGRATE_PASSWORD_FILE: missing },
      `MYSQL_MIGRATE_PASSWORD_FILE: can't read ${missing}: no such file`,
    ],
    [
      { MYSQL_MIGRATE_USER: migrator.user, MYSQL_MIGRATE_PASSWORD_FILE: file("wrong", `${wrong}\n`) },
      `MySQL: user ${migrator.user} was refused at 127.0.0.1:${stack.mysqlPort}; check MYSQL_MIGRATE_USER and MYSQL_MIGRATE_PASSWORD`,
    ],
    [
      { STACK_MYSQL_ADMIN_PASSWORD: wrong, STACK_MYSQL_ADMIN_PASSWORD_FILE: file("admin", wrong) },
      "STACK_MYSQL_ADMIN_PASSWORD: set either STACK_MYSQL_ADMIN_PASSWORD or STACK_MYSQL_ADMIN_PASSWORD_FILE, not both. Password of that account.",
    ],
  ];
  for (const [extra, line] of cases) {
    const stackOnly = "STACK_MYSQL_ADMIN_PASSWORD" in extra;
    // The local stack's variables are read by the stack scripts, not by the service.
    const r = stackOnly
      ? spawnSync(process.execPath, [STACK_SCRIPT, "status"], {
          env: { PATH: process.env.PATH ?? "", ...extra },
          encoding: "utf8",
        })
      : runCliSync(["migrate"], testEnv(db, unusedTopics(), extra));
    assert.equal(r.status === 0, false, line);
    assert.ok(r.stderr.trim().endsWith(line), `${r.stderr} should end with ${line}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(wrong), "the value is never printed");
  }
});

test("a _FILE form of a variable that has none (MYSQL_DATABASE_FILE, ...) is warned of, not silently left for the default", (t) => {
  const file = secretFiles(t);
  const r = runCliSync(["migrate"], {
    KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1",
    MYSQL_HOST: "127.0.0.1",
    MYSQL_PORT: "1",
    MYSQL_DATABASE_FILE: file("database", "analytics_prod\n"),
    MYSQL_SSL_CA_FILE: file("ca", "not read"),
  });
  assert.equal(r.status, 1, r.stderr);
  const warnings = r.stderr.split("\n").filter((l) => l.includes("warning"));
  assert.deepEqual(warnings, [
    "analytics-service: warning: MYSQL_DATABASE_FILE is not a variable of the service, so it is ignored: only the passwords may come from a file (MYSQL_PASSWORD_FILE, ...); set MYSQL_DATABASE itself",
    "analytics-service: warning: MYSQL_SSL_CA_FILE is not a variable of the service, so it is ignored: only the passwords may come from a file (MYSQL_PASSWORD_FILE, ...); set MYSQL_SSL_CA to the file's path",
  ]);
});
