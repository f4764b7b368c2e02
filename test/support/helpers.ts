import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { promisify } from "node:util";
import { Admin } from "@platformatic/kafka";
import mysql from "mysql2/promise";
import { SERVICE_NODE_FLAGS } from "../../bin/runtime.js";
import { type Config, loadConfig } from "../../src/config/index.ts";
import { createPool } from "../../src/db/pool.ts";
import { TOPICS } from "../../src/domains/registry.ts";
import { type EmittedEvent, emit } from "../../src/generate/emit.ts";
import { kafkaBaseOptions } from "../../src/kafka/client-options.ts";
import { explainKafkaFailure } from "../../src/kafka/kafka-errors.ts";

export { capturingLogger, hungServer, waitFor } from "../../src/testing/support.ts";
export * from "./kafka.ts";
export * from "./private-servers.ts";

import { createLogger } from "../../src/log.ts";
import { type RunningService, type ServiceHooks, startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { procStats } from "../../tools/bench/procfs.ts";
import { BROKER, randomName, stack, type TestTopics } from "./kafka.ts";

// Each test file gets its own database and its own topics (a random prefix) on the shared local
// stack, so tests never see the dev stack's data or each other's, and can run twice in a row.
// Everything is removed in t.after, pass or fail.

/** A 24-hex-digit id (an ObjectId's shape): `tag` followed by `n` in hex, so tests can tell their entities apart. */
export const hexId = (n: number, tag: string) => `${tag}${n.toString(16).padStart(24 - tag.length, "0")}`;

/** The fixture's user.created for user `hexId(n, tag)`. */
export const userCreated = (n: number, tag: string): EmittedEvent =>
  emit("user.created", hexId(n, tag), structuredClone(fixture("user.created").value.data) as never);

/** `count` user.updated events of users `tag`0…, each at `version` (its timestamp's second). */
export function userUpdates(count: number, tag: string, version: number): EmittedEvent[] {
  const doc = fixture("user.created").value.data as Record<string, unknown>;
  return Array.from({ length: count }, (_, i) =>
    emit("user.updated", hexId(i, tag), { ...doc, version } as never, {
      timestamp: `2026-07-01T00:00:0${version}+00:00`,
    }),
  );
}

/** An admin connection to the server or to one database: DATETIME(6) and BIGINT read as text. */
export function adminConnection(database?: string, port = stack.mysqlPort) {
  return mysql.createConnection({
    host: "127.0.0.1",
    port,
    user: stack.mysqlAdminUser,
    password: stack.mysqlAdminPassword,
    database,
    dateStrings: true,
    timezone: "Z",
    charset: "utf8mb4_unicode_ci",
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
}

/** Rows in `table`, read on `conn` (a session holding LOCK TABLES reads only the tables it locked). */
export async function rowCount(conn: mysql.Connection, table: string): Promise<number> {
  const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM \`${table}\``);
  return Number((rows as { n: number | string }[])[0]?.n);
}

/**
 * A user on 127.0.0.1 (the tests' TCP address), dropped after the test; with `privileges`, it has
 * exactly those on the test's database (null: none, the test grants what it needs).
 */
export async function testUser(
  t: TestContext,
  db: TestDatabase,
  privileges: readonly string[] | null,
  password = randomBytes(12).toString("hex"),
): Promise<{ user: string; password: string }> {
  const user = randomName("u_");
  await db.conn.query("CREATE USER ?@'127.0.0.1' IDENTIFIED BY ?", [user, password]);
  // On a connection of its own: the database's is closed by then (after-hooks run in order).
  t.after(async () => {
    const admin = await adminConnection();
    await admin.query("DROP USER IF EXISTS ?@'127.0.0.1'", [user]);
    await admin.end();
  });
  // `_` is a wildcard in a GRANT's database name: escaped, the grant covers this database only.
  if (privileges !== null) {
    await db.conn.query(`GRANT ${privileges.join(", ")} ON \`${db.name.replace(/_/g, "\\_")}\`.* TO ?@'127.0.0.1'`, [
      user,
    ]);
  }
  return { user, password };
}

export interface TestDatabase {
  name: string;
  /** An admin connection to it, for assertions; closed after the test. */
  conn: mysql.Connection;
  query<T = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<T[]>;
  /** A new admin connection to it (the first one dies with a server the test stopped); closed after the test. */
  connect(): Promise<mysql.Connection>;
}

export async function testDatabase(t: TestContext, port = stack.mysqlPort): Promise<TestDatabase> {
  const name = randomName("t_");
  const admin = await adminConnection(undefined, port);
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const connect = async () => {
    const c = await adminConnection(name, port);
    await c.query("SET time_zone = '+00:00'");
    return c;
  };
  const conn = await connect();
  // DROP DATABASE waits for the metadata lock of every transaction open on the database, a year by
  // default: a test that failed while a connection of its own held rows locked on purpose, rolled
  // back by a hook of the test's that runs after this one, hung the whole run. The drop waits
  // 10 s, and is tried again once the test's other hooks have run.
  const drop = async (last: boolean) => {
    try {
      await conn.query("SET SESSION lock_wait_timeout = 10");
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
    } catch (err) {
      if (!last && (err as { errno?: number }).errno === 1205) return t.after(() => drop(true));
    }
    await conn.end().catch(() => undefined);
  };
  t.after(() => drop(false));
  return {
    name,
    conn,
    async connect() {
      const c = await connect();
      t.after(() => c.end().catch(() => undefined));
      return c;
    },
    async query<T>(sql: string, values?: unknown[]) {
      const [rows] = await conn.query(sql, values);
      return rows as T[];
    },
  };
}

/** The server's connection ids of the transactions on `db` waiting for a row lock. */
export async function lockWaits(db: TestDatabase): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    "SELECT x.trx_mysql_thread_id AS id FROM information_schema.INNODB_TRX x JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id WHERE x.trx_state = 'LOCK WAIT' AND p.DB = ?",
    [db.name],
  );
  return rows.map((r) => Number(r.id));
}

/** How many sessions on `db` wait for a table lock (another session's LOCK TABLES). */
export async function tableLockWaits(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE '%lock%'",
    [db.name],
  );
  return Number(row?.n);
}

/** How many transactions are open on `db`, the asking connection's own left out. */
export async function openTransactions(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX x JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id WHERE p.DB = ? AND p.ID <> CONNECTION_ID()",
    [db.name],
  );
  return Number(row?.n);
}

/** The service's own pool (session settings included) on the test's database; ended after the test. */
export function testPool(t: TestContext, db: { name: string }, port = stack.mysqlPort): mysql.Pool {
  const pool = createPool({
    mysqlHost: "127.0.0.1",
    mysqlPort: port,
    mysqlUser: stack.mysqlAdminUser,
    mysqlPassword: stack.mysqlAdminPassword,
    mysqlDatabase: db.name,
    mysqlPoolSize: 2,
  });
  t.after(() => pool.end());
  return pool;
}

/** Environment pointing the service at the test's database and topics, with a fresh group. */
export function testEnv(db: { name: string }, topics: TestTopics, env: NodeJS.ProcessEnv = {}): Record<string, string> {
  return {
    KAFKA_BOOTSTRAP_SERVERS: BROKER,
    KAFKA_GROUP_ID: randomName("group-"),
    KAFKA_TOPIC_PREFIX: topics.prefix,
    KAFKA_DLQ_TOPIC: topics.dlq,
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    MYSQL_HOST: "127.0.0.1",
    MYSQL_PORT: String(stack.mysqlPort),
    MYSQL_USER: stack.mysqlAdminUser,
    MYSQL_PASSWORD: stack.mysqlAdminPassword,
    MYSQL_DATABASE: db.name,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    BATCH_LINGER_MS: "5",
    RETRY_MAX_BACKOFF_MS: "1000",
    // Off: many services run side by side in tests; the metrics test picks its own port.
    METRICS_PORT: "0",
    ...(env as Record<string, string>),
  };
}

export function testConfig(db: { name: string }, topics: TestTopics, env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig(testEnv(db, topics, env));
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Its log lines so far (info and above). */
  log(): string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** The command-line entry point, as users run it. */
export const CLI = new URL("../../bin/analytics-service.js", import.meta.url).pathname;
const execFileAsync = promisify(execFile);

/** Runs `analytics-service <args>` with only PATH and `env` in its environment; rejects on a non-zero exit. */
// With the launcher's flags the command runs in the process started (the launcher would
// otherwise start a second one with them), so a test's SIGKILL reaches the service itself.
export const runCli = (args: string[], env: Record<string, string>) =>
  execFileAsync(process.execPath, cliArgs(args), { env: cliEnv(env), timeout: 60000 });

/** `runCli`, waited for: its exit status, stdout and stderr, whatever the status. */
export const runCliSync = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, cliArgs(args), { env: cliEnv(env), encoding: "utf8", timeout: 60000 });

/** Node's arguments for `analytics-service <args>`, with the launcher's flags. */
export const cliArgs = (args: string[]) => [...SERVICE_NODE_FLAGS, CLI, ...args];
/** Only PATH and `env`: nothing of the test runner's environment leaks into the command. */
export const cliEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? "", ...env });

/** The CLI run with its standard output closed before its first write (`… | true`): its exit code and stderr. */
export async function runCliWithoutReader(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, cliArgs(args), { env: cliEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, stderr };
}

/** Topics that are never created, for commands that stop before they reach Kafka. */
export function unusedTopics(): TestTopics {
  const prefix = `${randomName("t")}.`;
  return { prefix, dlq: `${prefix}dlq`, all: [...TOPICS.map((x) => `${prefix}${x}`), `${prefix}dlq`] };
}

/** The service as a separate process (`analytics-service run`), so a test can SIGKILL it. */
/** `logLevel`: what the test reads from its log (info unless TEST_LOG_LEVEL says more). */
export function spawnService(t: TestContext, env: Record<string, string>, logLevel = "info"): ServiceProcess {
  const child = spawn(process.execPath, cliArgs(["run"]), {
    env: cliEnv({ ...env, LOG_LEVEL: logLevel === "info" ? (process.env.TEST_LOG_LEVEL ?? logLevel) : logLevel }),
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    // Keep the start (connection lines) and a bounded tail; read it all so the pipe never blocks.
    output = output.length < 1_000_000 ? output + chunk.toString() : output;
    if (process.env.TEST_LOG_LEVEL) process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  t.after(() => kill("SIGKILL"));
  return { child, exited, kill, log: () => output };
}

/** Asks the service's metrics server on `port` for `path`: its status and body. */
export function httpProbe(port: number) {
  return async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  };
}

/** Runs the service in this process; stopped after the test. */
export async function testService(t: TestContext, config: Config, hooks: ServiceHooks = {}): Promise<RunningService> {
  const service = await startService(config, createLogger(config.logLevel), hooks);
  t.after(() => service.stop());
  return service;
}

/** A logger whose lines the test can read, at `level`. */

/** The one line a client configured by `env` (over the tests' defaults) gets from the brokers' refusal. */
export async function kafkaRefusal(env: Record<string, string>): Promise<string> {
  const config = testConfig({ name: "unused" }, { prefix: "", dlq: "unused", all: [] }, env);
  const admin = new Admin({ ...kafkaBaseOptions(config, "probe"), retries: 0 });
  try {
    await admin.listTopics();
    return assert.fail("the broker answered");
  } catch (err) {
    return explainKafkaFailure(err, config);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * Samples the RSS of the process `pid` every `everyMs` until the test ends, and kills it once past
 * `killAboveMb`, before it takes the machine's memory. Returns the peak seen so far (MB).
 */
export function peakRss(t: TestContext, pid: number, killAboveMb: number, everyMs: number): () => number {
  let peak = 0;
  const sample = setInterval(() => {
    try {
      peak = Math.max(peak, procStats(pid).rssMb);
    } catch {
      return; // it has exited
    }
    if (peak > killAboveMb) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // it has exited meanwhile
      }
    }
  }, everyMs);
  t.after(() => clearInterval(sample));
  return () => peak;
}
