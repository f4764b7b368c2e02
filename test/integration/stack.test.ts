import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { Consumer, Producer } from "@platformatic/kafka";
import type { RowDataPacket } from "mysql2/promise";
import { loadConfig } from "../../src/config/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import { readMigrations } from "../../src/db/migration-files.ts";
import { createPool } from "../../src/db/pool.ts";
import { MIGRATE_PRIVILEGES } from "../../src/db/rights.ts";
import { ensureServiceAccount, SERVICE_HOSTS } from "../../tools/stack/database.ts";
import { portTakenAtStart } from "../../tools/stack/kafka.ts";
import { lastLines } from "../../tools/stack/process.ts";
import { adminConnection, BROKER, randomName, stack, testTopics, waitFor } from "../support/helpers.ts";

// The local stack as a user meets it: each mistake is one line naming the cause and what to do;
// the broker it runs is a real Kafka any client can use.

const STACK = new URL("../../scripts/stack.ts", import.meta.url).pathname;
const stackCli = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [STACK, ...args], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60000 });

async function holdPort(t: TestContext): Promise<number> {
  const server: Server = createServer((socket) => socket.end("not kafka\n"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as { port: number }).port;
}

function tempDir(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), "analytics-stack-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("a Kafka port held by another program: one line naming the port and the variable", async (t) => {
  const port = await holdPort(t);
  const r = stackCli(["up"], { STACK_DIR: tempDir(t), STACK_KAFKA_PORT: String(port) });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`^stack: port ${port} is held by a program that does not answer as Kafka: .*STACK_KAFKA_PORT`),
  );
});

// A broker that lost its port in the seconds between the check and its bind: the log's last
// lines were stack frames naming no cause, as CI printed once.
const BIND_FAILURE = [
  "[2026-12-01 12:00:21,699] ERROR Encountered fatal fault: caught exception (org.apache.kafka.server.fault.ProcessTerminatingFaultHandler)",
  "java.lang.RuntimeException: Unable to start acceptor for CONTROLLER",
  "Caused by: org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:41235: Address already in use.",
  "Caused by: java.net.BindException: Address already in use",
  "\tat java.base/sun.nio.ch.Net.bind0(Native Method) ~[?:?]",
  "\tat kafka.network.SocketServer.enableRequestProcessing(SocketServer.scala:201) ~[kafka_2.13-4.1.1.jar:?]",
  "\t... 6 more",
].join("\n");

test("a port taken while the broker starts is named; log tails leave out stack frames", (t) => {
  assert.equal(portTakenAtStart(BIND_FAILURE), 41235);
  assert.equal(portTakenAtStart("[2026-12-01] INFO [KafkaRaftServer nodeId=1] Kafka Server started"), null);
  const file = join(tempDir(t), "server.log");
  writeFileSync(file, `${BIND_FAILURE}\n`);
  assert.deepEqual(lastLines(file, 2).split("\n"), [
    "Caused by: org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:41235: Address already in use.",
    "Caused by: java.net.BindException: Address already in use",
  ]);
});

test("Java missing: one line saying what to install", (t) => {
  const r = stackCli(["up"], { STACK_DIR: tempDir(t), STACK_KAFKA_PORT: "1", PATH: "/nonexistent" });
  // Node itself is found through process.execPath; java and mvn are looked up on PATH.
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^stack: java is not installed or not on PATH: install a Java runtime/);
});

test("the database refusing the admin account: one line naming the address and the variables", (t) => {
  const r = stackCli(["up"], {
    STACK_DIR: tempDir(t),
    STACK_MYSQL_ADMIN_USER: "nobody_here",
    STACK_MYSQL_ADMIN_PASSWORD: "x",
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^stack: .*127\.0\.0\.1:\d+.*STACK_MYSQL_ADMIN/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test("status reports Kafka and the database", () => {
  const r = stackCli(["status"], {});
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^kafka {4}up {2}127\.0\.0\.1:\d+/m);
  assert.match(r.stdout, /^database up {2}127\.0\.0\.1:\d+/m);
});

test("the local broker is a plain Kafka: produce and consume a message", async (t) => {
  const topics = await testTopics(t, 1);
  const producer = new Producer({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => producer.close());
  await producer.send({ messages: [{ topic: topics.dlq, key: Buffer.from("k"), value: Buffer.from("hello") }] });
  const consumer = new Consumer({ clientId: "tests", bootstrapBrokers: [BROKER], groupId: randomName("g-") });
  t.after(() => consumer.close(true));
  const stream = await consumer.consume({ topics: [topics.dlq], mode: "earliest", autocommit: false });
  t.after(() => stream.close());
  const got: string[] = [];
  stream.on("data", (m) => got.push(`${m.key.toString()}=${m.value.toString()}`));
  await waitFor("the message", async () => got.length === 1);
  assert.deepEqual(got, ["k=hello"]);
});

// The service account the stack makes: the rights `run` and `migrate` use on its database, from
// loopback only; an account an older version made (ALL PRIVILEGES, also from '%') is brought down
// to that. Random names (with `_`, a GRANT wildcard) on the shared server, removed afterwards.
async function scratchAccount(t: TestContext) {
  const user = randomName("svc_");
  const database = randomName("t_");
  const password = randomBytes(12).toString("hex");
  const admin = await adminConnection();
  t.after(async () => {
    for (const host of [...SERVICE_HOSTS, "%"]) await admin.query("DROP USER IF EXISTS ?@?", [user, host]);
    for (const name of [database, `${database}_other`]) await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.end();
  });
  const service = loadConfig({ MYSQL_USER: user, MYSQL_PASSWORD: password, MYSQL_DATABASE: database });
  const grants = async (host: string) => {
    const [rows] = await admin.query<RowDataPacket[]>("SHOW GRANTS FOR ?@?", [user, host]);
    return rows.map((r) => String(Object.values(r)[0]));
  };
  const exists = async (host: string) => {
    const [rows] = await admin.query<RowDataPacket[]>("SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?", [
      user,
      host,
    ]);
    return rows.length > 0;
  };
  return { user, database, password, admin, service, grants, exists };
}

/** The privileges of the account's one grant on `database`, and that grant's count. */
function databaseGrant(lines: string[], database: string) {
  const on = lines.filter((l) => !/^GRANT USAGE ON \*\.\* /.test(l));
  const escaped = database.replace(/_/g, "\\_");
  const m = new RegExp(`^GRANT (.+) ON \`${escaped.replace(/\\/g, "\\\\")}\`\\.\\* TO `).exec(on[0] ?? "");
  return { count: on.length, privileges: (m?.[1] ?? "").split(", ").sort() };
}

test("the stack's service user: only the rights run and migrate use, from loopback, stale '%' account dropped", async (t) => {
  const a = await scratchAccount(t);
  // As an older version left it.
  await a.admin.query(`CREATE DATABASE \`${a.database}\``);
  for (const host of ["%", "localhost"]) {
    await a.admin.query("CREATE USER ?@? IDENTIFIED BY ?", [a.user, host, a.password]);
    await a.admin.query(`GRANT ALL PRIVILEGES ON \`${a.database}\`.* TO ?@?`, [a.user, host]);
  }

  const account = (host: string) => `'${a.user}'@'${host}'`;
  assert.deepEqual(await ensureServiceAccount(stack, a.service), [
    ...SERVICE_HOSTS.map((host) => `granted ${account(host)}`),
    `dropped ${account("%")}`,
  ]);
  // A second `stack up` changes nothing: a service running as the user never sees a right missing.
  assert.deepEqual(await ensureServiceAccount(stack, a.service), []);

  for (const host of SERVICE_HOSTS) {
    const grant = databaseGrant(await a.grants(host), a.database);
    assert.deepEqual(grant, { count: 1, privileges: [...MIGRATE_PRIVILEGES].sort() }, host);
  }
  assert.equal(await a.exists("%"), false, "the '%' account is gone");

  // The account migrates and writes through TCP from this machine, and may do nothing else.
  const pool = createPool({
    mysqlHost: "127.0.0.1",
    mysqlPort: stack.mysqlPort,
    mysqlUser: a.user,
    mysqlPassword: a.password,
    mysqlDatabase: a.database,
    mysqlPoolSize: 1,
  });
  t.after(() => pool.end());
  const result = await migrate(pool);
  assert.equal(result.applied.length, readMigrations().length);
  await pool.query("INSERT INTO entity_tombstones VALUES ('products', ?, UTC_TIMESTAMP(6), 'e')", ["a".repeat(24)]);
  await assert.rejects(pool.query(`CREATE DATABASE \`${a.database}x\``), /denied/);
  await assert.rejects(pool.query("SELECT * FROM mysql.user"), /denied/);
});

test("a '%' account with rights of its own keeps them and its login; only its grant on the database goes", async (t) => {
  const a = await scratchAccount(t);
  const other = `${a.database}_other`; // dropped with the account
  await a.admin.query(`CREATE DATABASE \`${other}\``);
  await a.admin.query("CREATE USER ?@'%' IDENTIFIED BY ?", [a.user, a.password]);
  await a.admin.query(`GRANT ALL PRIVILEGES ON \`${a.database}\`.* TO ?@'%'`, [a.user]);
  await a.admin.query(`GRANT SELECT ON \`${other}\`.* TO ?@'%'`, [a.user]);

  assert.deepEqual((await ensureServiceAccount(stack, a.service)).at(-1), `revoked '${a.user}'@'%'`);

  assert.equal(await a.exists("%"), true);
  const left = (await a.grants("%")).filter((l) => !/^GRANT USAGE ON \*\.\* /.test(l));
  assert.equal(left.length, 1, left.join("\n"));
  assert.match(left[0] ?? "", new RegExp(`^GRANT SELECT ON \`${other}\`\\.\\* TO `));
});
