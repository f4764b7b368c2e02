import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { serviceDeclaration } from "../../src/config/index.ts";
import { BadEventReasons } from "../../src/errors.ts";
import { BROKER, CLI, rowCount, stack, testDatabase, waitFor } from "../support/helpers.ts";

// The CLI as a user meets it: help, one clear line for each mistake, a clean exit on signals.

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: "utf8",
    timeout: 30000,
  });

/** The stack's MySQL as its admin account, on database `name`. */
const adminEnv = (name: string) => ({
  MYSQL_HOST: "127.0.0.1",
  MYSQL_PORT: String(stack.mysqlPort),
  MYSQL_USER: stack.mysqlAdminUser,
  MYSQL_PASSWORD: stack.mysqlAdminPassword,
  MYSQL_DATABASE: name,
});

test("--help lists every configuration variable with its default", () => {
  const r = run(["--help"]);
  assert.equal(r.status, 0);
  for (const v of Object.values(serviceDeclaration)) assert.match(r.stdout, new RegExp(`^  ${v.env} `, "m"));
  assert.match(r.stdout, /KAFKA_GROUP_ID\s+mysql-analytics-service/);
  assert.doesNotMatch(r.stdout, /analytics123/, "a secret's default is not printed");
});

test("a bad variable stops the service with one line naming it", () => {
  const r = run(["run"], { MYSQL_HOST: "127.0.0.1", MYSQL_PORT: "eighty" });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? "", /^analytics-service: MYSQL_PORT/);
});

test("an unknown command says so, with --help too", () => {
  for (const args of [["frobnicate"], ["frobnicate", "--help"], ["-h", "frobnicate"]]) {
    const r = run(args);
    assert.equal(r.status, 2, args.join(" "));
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /unknown command "frobnicate"/);
  }
});

test("a value with a line break or a terminal escape is quoted on the error's one line, escaped", () => {
  for (const [args, env, message] of [
    [["bo\ngus"], {}, /^analytics-service: unknown command "bo\\u000agus"; try --help\n$/],
    [["repair", "users", "abc\ndef"], {}, /^analytics-service: repair: "abc\\u000adef" /],
    [
      ["migrate"],
      { LOG_LEVEL: "info\nsecond line\u001b[2J" },
      /^analytics-service: LOG_LEVEL: .*info\\u000asecond line\\u001b\[2J/,
    ],
  ] as const) {
    const r = run([...args], { MYSQL_HOST: "127.0.0.1", MYSQL_PORT: "1", ...env });
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});

test("wrong MySQL credentials: one line naming the user and the variables to check", () => {
  const r = run(["migrate"], {
    MYSQL_HOST: "127.0.0.1",
    MYSQL_PORT: String(stack.mysqlPort),
    MYSQL_USER: "nobody_here",
    MYSQL_PASSWORD: "wrong-secret-value",
  });
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? "", /user nobody_here was refused .*check MYSQL_USER and MYSQL_PASSWORD/);
  assert.doesNotMatch(r.stderr, /wrong-secret-value/);
});

test("run: an unknown user with an empty password, or a database name the server refuses, stops with one line, not a wait", () => {
  const mysql = { MYSQL_HOST: "127.0.0.1", MYSQL_PORT: String(stack.mysqlPort), KAFKA_BOOTSTRAP_SERVERS: BROKER };
  for (const [env, message] of [
    // With an empty password MySQL answers ER_ACCESS_DENIED_NO_PASSWORD_ERROR, not ER_ACCESS_DENIED_ERROR.
    [
      { MYSQL_USER: "nobody_here", MYSQL_PASSWORD: "" },
      /user nobody_here was refused .*check MYSQL_USER and MYSQL_PASSWORD; an account without a password may instead require a client certificate \(REQUIRE X509\): set MYSQL_SSL_CERT and MYSQL_SSL_KEY$/,
    ],
    [
      { MYSQL_DATABASE: "x".repeat(65) },
      /"x{65}" is not a name the server takes for a database; check MYSQL_DATABASE$/,
    ],
  ] as const) {
    const r = run(["run"], { ...mysql, ...env, RETRY_MAX_BACKOFF_MS: "200" });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? "", message);
  }
});

test("migrate applies the schema once, then reports it up to date", async (t) => {
  const db = await testDatabase(t);
  const env = adminEnv(db.name);
  const first = run(["migrate"], env);
  assert.equal(first.status, 0, first.stderr);
  assert.match(
    first.stdout,
    /^applied 001_tables\.sql, 002_tombstones\.sql(, \d{3}_[\w-]+\.sql)*; schema at migration \d+/,
  );
  const second = run(["migrate"], env);
  assert.match(second.stdout, /^schema up to date at migration \d+/);
});

test("migrate whose output fails (a full disk) does the work, says so in one line, and exits 1", async (t) => {
  const db = await testDatabase(t);
  const env = adminEnv(db.name);
  // Its one line, written last, fails: the error is reported after the command has returned.
  const full = openSync("/dev/full", "w");
  t.after(() => closeSync(full));
  for (const round of ["first", "again"]) {
    const r = spawnSync(process.execPath, [CLI, "migrate"], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", full, "pipe"],
      encoding: "utf8",
      timeout: 30000,
    });
    assert.equal(
      r.stderr,
      "analytics-service: writing to standard output failed: ENOSPC: no space left on device, write\n",
    );
    assert.equal(r.status, 1, `${round}: exit 0 told a script the report was written`);
  }
  assert.ok((await rowCount(db.conn, "schema_migrations")) > 0, "the work was done");
});

test("a database whose schema_migrations is another tool's (MYSQL_DATABASE set wrong): one line, exit 1, for run too, nothing changed", async (t) => {
  const db = await testDatabase(t);
  // golang-migrate's table; Rails' and dbmate's have the version column alone.
  await db.query("CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty TINYINT(1) NOT NULL)");
  await db.query("INSERT INTO schema_migrations VALUES (20240101000000, 0)");
  await db.query("CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100))");
  const env = {
    ...adminEnv(db.name),
    KAFKA_BOOTSTRAP_SERVERS: BROKER,
    METRICS_PORT: "0",
    LOG_LEVEL: "error",
  };
  const line = new RegExp(
    `^analytics-service: database ${db.name} holds a schema_migrations table that is not this service's \\(MySQL: Unknown column 'name' in [^)]*\\): another tool's migrations [^\\n]*: point MYSQL_DATABASE at the service's own database, or at an empty one\\n$`,
  );
  for (const args of [["migrate"], ["report"], ["run"]]) {
    // Taken for tables changed by hand, `run` waited it out for ever (here: the spawn's timeout).
    const r = run(args, env);
    assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, line, args[0]);
  }
  const tables = await db.query<{ name: string }>(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
    [db.name],
  );
  assert.deepEqual(
    tables.map((r) => r.name),
    ["schema_migrations", "users"],
    "nothing created",
  );
});

test("an unreachable database is waited for, logged once, and SIGTERM still exits 0", async () => {
  const child = spawn(process.execPath, [CLI, "run"], {
    env: {
      PATH: process.env.PATH,
      MYSQL_HOST: "127.0.0.1",
      MYSQL_PORT: "1",
      KAFKA_BOOTSTRAP_SERVERS: BROKER,
      RETRY_MAX_BACKOFF_MS: "200",
      LOG_LEVEL: "debug",
    },
  });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  // Several retries (logged at debug only), and still one warning for the outage.
  await waitFor("three retries", async () => out.includes("MySQL retry 3 "), 15000);
  child.kill("SIGTERM");
  assert.equal(await exited, 0);
  const warnings = out.split("\n").filter((l) => l.includes("MySQL unavailable"));
  assert.equal(warnings.length, 1, out);
  assert.match(warnings[0] ?? "", /nothing is listening at 127\.0\.0\.1:1; start MySQL or set MYSQL_HOST\/MYSQL_PORT/);
});

test("--help names every code dlq replay --reason takes", () => {
  const r = run(["--help"]);
  const help = r.stdout.replace(/\s+/g, " ");
  for (const code of Object.values(BadEventReasons)) assert.match(help, new RegExp(`\\b${code}\\b`), code);
});

test("--help documents repair", () => {
  const r = run(["--help"]);
  assert.match(r.stdout, /^ {2}repair <table> <id> \[--dry-run\] \[--force\]$/m);
  assert.match(r.stdout, /users, suppliers, products, orders, posts/);
});

test("run and migrate take no options: one given is refused in one line, exit status 2, before any connection", () => {
  const env = { MYSQL_HOST: "127.0.0.1", MYSQL_PORT: "1" };
  for (const [args, message] of [
    [["migrate", "--dry-run"], /^analytics-service: migrate: unknown option --dry-run; try --help\n$/],
    [["--dry-run"], /^analytics-service: run: unknown option --dry-run; try --help\n$/],
    [["run", "extra"], /^analytics-service: run: unexpected argument "extra"; try --help\n$/],
  ] as const) {
    const r = run([...args], env);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr, message);
  }
});

test("repair: a bad command line is one line and exit status 2, before any connection", () => {
  // MYSQL_PORT 1: nothing listens there, so a command that tried to connect would say so instead.
  const env = { MYSQL_HOST: "127.0.0.1", MYSQL_PORT: "1" };
  for (const [args, message] of [
    [
      ["repair", "orderz", "65a1f0c2e4b0a1b2c3d4e5f6"],
      /^analytics-service: repair: unknown table "orderz"; one of users, /,
    ],
    [
      ["repair", "orders", "ORD-20260211-A7K2"],
      /^analytics-service: repair: "ORD-20260211-A7K2" is not an id: order_id is 24 /,
    ],
    [
      ["repair", "orders"],
      /^analytics-service: repair: name the row: repair <table> <id> \[--dry-run\] \[--force\]\n$/,
    ],
    [["repair", "orders", "65a1f0c2e4b0a1b2c3d4e5f6", "--yes"], /^analytics-service: repair: unknown option --yes; /],
  ] as const) {
    const r = run([...args], env);
    assert.equal(r.status, 2, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});

test("repair: nothing to repair, no schema yet, another application's database or a table dropped is one line and exit status 1", async (t) => {
  const db = await testDatabase(t);
  const env = adminEnv(db.name);
  const unmigrated = run(["repair", "users", "65a1f0c2e4b0a1b2c3d4e5f6"], env);
  assert.equal(unmigrated.status, 1);
  assert.equal(
    unmigrated.stderr,
    `analytics-service: repair: database ${db.name} at 127.0.0.1:${stack.mysqlPort} holds none of the service's tables (MySQL: Table '${db.name}.users' doesn't exist); nothing was changed: point MYSQL_DATABASE at the database the service writes, or run \`analytics-service migrate\` there first\n`,
  );
  // Another application's database (MYSQL_DATABASE set wrong) with a users table of its own:
  // "the analytics tables were changed by hand: put back what the migrations made" sent the
  // operator to alter that application's table.
  await db.query("CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100))");
  const foreign = run(["repair", "users", "65a1f0c2e4b0a1b2c3d4e5f6"], env);
  assert.equal(foreign.status, 1);
  assert.equal(
    foreign.stderr,
    `analytics-service: repair: database ${db.name} at 127.0.0.1:${stack.mysqlPort} holds none of the service's tables (MySQL: Unknown column 'user_id' in 'SELECT'); nothing was changed: point MYSQL_DATABASE at the database the service writes, or run \`analytics-service migrate\` there first\n`,
  );
  await db.query("DROP TABLE users");
  // A table of the service's dropped by hand, in its database: migrate names it.
  assert.equal(run(["migrate"], env).status, 0);
  await db.query("DROP TABLE suppliers");
  const dropped = run(["repair", "suppliers", "65a1f0c2e4b0a1b2c3d4e5f6"], env);
  assert.equal(dropped.status, 1);
  assert.equal(
    dropped.stderr,
    `analytics-service: repair: Table '${db.name}.suppliers' doesn't exist: run \`analytics-service migrate\`, which applies what is pending or names the tables dropped by hand\n`,
  );
  const nothing = run(["repair", "posts", "65a1f0c2e4b0a1b2c3d4e5fa", "--dry-run"], env);
  assert.equal(nothing.status, 1);
  assert.equal(
    nothing.stderr,
    "analytics-service: repair: posts 65a1f0c2e4b0a1b2c3d4e5fa: nothing to repair: no row and posts have no tombstones\n",
  );
  assert.equal(nothing.stdout, "");
});

test("a METRICS_PORT the process may not bind (below 1024, not root) is one line, exit status 1", (t) => {
  // As an unprivileged user, as the image runs: root may bind any port.
  const asRoot = process.getuid?.() === 0;
  // Under coverage, Node gives children its NODE_V8_COVERAGE, a folder that user may not write.
  const coverage = mkdtempSync(join(tmpdir(), "cli-coverage-"));
  chmodSync(coverage, 0o777);
  t.after(() => rmSync(coverage, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [CLI, "run"], {
    env: {
      PATH: process.env.PATH ?? "",
      METRICS_PORT: "80",
      MYSQL_HOST: "127.0.0.1",
      MYSQL_PORT: "1",
      KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1",
      ...(process.env.NODE_V8_COVERAGE ? { NODE_V8_COVERAGE: coverage } : {}),
    },
    ...(asRoot ? { uid: 65534, gid: 65534, cwd: "/tmp" } : {}),
    encoding: "utf8",
    timeout: 30000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(
    r.stderr,
    "analytics-service: METRICS_PORT 80 needs privileges this process lacks (ports below 1024 usually do); set METRICS_PORT to 1024 or above (9464 is the usual one)\n",
  );
});
