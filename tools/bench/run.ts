// npm run bench -- [--events N] [--partitions P] [--seed S] [--batch B] [--pool C] [--db-latency-ms L]
//                  | [--steady R [--seconds S]]
//
// Drain: writes a seeded realistic stream into fresh topics, then measures on this machine
//   1. the Kafka read ceiling: the same topics consumed without processing;
//   2. the database ceiling: the final rows written by a minimal multi-row INSERT … ON DUPLICATE
//      KEY UPDATE loop in large transactions, without Kafka;
//   3. the service: a fresh group and database, from start until every offset is committed; then
//      the tables are checked against the model of the stream. --db-latency-ms L delays the
//      service's MySQL traffic by L ms each way (bench/latency-proxy.ts): a database on another host.
// Steady: produces R events/s and reports freshness (produce → row visible) p50/p99.
// The last line is one JSON object.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { arch, cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { Admin, Consumer, ProduceAcks, Producer } from "@platformatic/kafka";
import mysql from "mysql2/promise";
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from "../../bin/runtime.js";
import { loadConfig, serviceDeclaration } from "../../src/config/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import { TOPICS } from "../../src/domains/registry.ts";
import { emit } from "../../src/generate/emit.ts";
import { type Generated, generateEvents } from "../../src/generate/stream.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { compareTables } from "../../test/support/compare.ts";
import { adminConnection, groupCaughtUp, hexId, topicsReady } from "../../test/support/helpers.ts";
import { applyModel, emptyModel, modelRows, TABLES } from "../../test/support/model.ts";
import { loadStackConfig } from "../stack/config.ts";
import { stackUp } from "../stack/index.ts";
import { startLatencyProxy } from "./latency-proxy.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    partitions: { type: "string", default: "6" },
    seed: { type: "string", default: "1" },
    batch: { type: "string" },
    pool: { type: "string" },
    steady: { type: "string" },
    seconds: { type: "string", default: "60" },
    "db-latency-ms": { type: "string", default: "0" },
  },
});
const stack = loadStackConfig();
const BROKER = `127.0.0.1:${stack.kafkaPort}`;
const tag = randomBytes(4).toString("hex");
const prefix = `bench-${tag}.`;
const partitions = Number(args.partitions);
// Each way, on the service's MySQL connections only: a database on another host.
const dbLatencyMs = Number(args["db-latency-ms"]);
const METRICS_PORT = 19464;
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
async function createDatabase(name: string) {
  const conn = await adminConnection();
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await conn.end();
  const pool = mysql.createPool({
    host: "127.0.0.1",
    port: stack.mysqlPort,
    user: stack.mysqlAdminUser,
    password: stack.mysqlAdminPassword,
    database: name,
    connectionLimit: 2,
  });
  await migrate(pool);
  await pool.end();
}

async function dropDatabase(name: string) {
  const conn = await adminConnection();
  await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await conn.end();
}

const topicsOf = () => [...TOPICS.map((t) => `${prefix}${t}`), `${prefix}dlq`];

async function createTopics() {
  const a = new Admin({ clientId: "bench", bootstrapBrokers: [BROKER] });
  await a.createTopics({ topics: topicsOf(), partitions, replicas: 1 });
  await topicsReady(a, topicsOf(), partitions);
  await a.close();
}

async function deleteTopics() {
  const a = new Admin({ clientId: "bench", bootstrapBrokers: [BROKER] });
  await a.deleteTopics({ topics: topicsOf() }).catch(() => undefined);
  await a.close();
}

function producer() {
  return new Producer({
    clientId: "bench",
    bootstrapBrokers: [BROKER],
    acks: ProduceAcks.ALL,
    idempotent: true,
    compression: "lz4",
  });
}

/** Produces the stream and feeds the model as it goes, never holding the whole stream. */
async function produceStream(events: number, seed: number) {
  const p = producer();
  const model = emptyModel();
  let chunk: Generated[] = [];
  let sent = 0;
  const flush = async () => {
    await p.send({
      messages: chunk.map((g) => ({
        topic: `${prefix}${g.topic}`,
        key: Buffer.from(g.key),
        value: g.value as Buffer,
      })),
    });
    applyModel(chunk, model);
    sent += chunk.length;
    chunk = [];
  };
  for (const g of generateEvents({ seed, events })) {
    chunk.push(g);
    if (chunk.length === 2000) await flush();
  }
  if (chunk.length > 0) await flush();
  await p.close();
  return { model, sent };
}

/** The Kafka read ceiling: consume everything, do nothing with it. */
async function kafkaCeiling(total: number): Promise<number> {
  const c = new Consumer({ clientId: "bench-ceiling", bootstrapBrokers: [BROKER], groupId: `bench-ceiling-${tag}` });
  const started = performance.now();
  const stream = await c.consume({ topics: TOPICS.map((t) => `${prefix}${t}`), mode: "earliest", autocommit: false });
  let n = 0;
  await new Promise<void>((resolve) => {
    stream.on("data", () => {
      if (++n === total) resolve();
    });
  });
  const seconds = (performance.now() - started) / 1000;
  await stream.close();
  await c.close(true);
  return total / seconds;
}

/** The database ceiling: the final rows, multi-row upserts in large transactions, no Kafka. */
async function databaseCeiling(rows: Record<string, Record<string, unknown>[]>, database: string) {
  const conn = await mysql.createConnection({
    host: "127.0.0.1",
    port: stack.mysqlPort,
    user: stack.mysqlAdminUser,
    password: stack.mysqlAdminPassword,
    database,
    charset: "utf8mb4_unicode_ci",
  });
  await conn.query("SET time_zone = '+00:00'");
  let total = 0;
  const started = performance.now();
  await conn.query("START TRANSACTION");
  let inTx = 0;
  for (const table of TABLES) {
    const list = rows[table] ?? [];
    if (list.length === 0) continue;
    const columns = Object.keys(list[0] as object);
    const update = columns.map((c) => `\`${c}\` = VALUES(\`${c}\`)`).join(", ");
    for (let i = 0; i < list.length; i += 1000) {
      const part = list.slice(i, i + 1000).map((r) =>
        columns.map((c) => {
          const v = r[c];
          return v !== null && typeof v === "object" ? JSON.stringify(v) : v;
        }),
      );
      await conn.query(
        `INSERT INTO \`${table}\` (${columns.map((c) => `\`${c}\``).join(", ")}) VALUES ? ON DUPLICATE KEY UPDATE ${update}`,
        [part],
      );
      total += part.length;
      if (++inTx === 20) {
        await conn.query("COMMIT");
        await conn.query("START TRANSACTION");
        inTx = 0;
      }
    }
  }
  await conn.query("COMMIT");
  const seconds = (performance.now() - started) / 1000;
  await conn.end();
  return { rows: total, rowsPerSecond: total / seconds };
}

/** Machine-wide CPU seconds since boot: busy (all but idle and iowait), idle, iowait, steal. */
function machineCpu() {
  const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return {
    busy: (user + nice + system + irq + softirq) / 100,
    idle: idle / 100,
    iowait: iowait / 100,
    steal: steal / 100,
  };
}

function procStats(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // Fields 10, 14 and 15 of proc(5), counted from 1 with the pid and the name.
  const [minorFaults, utime, stime] = [stat[7], stat[11], stat[12]].map(Number) as [number, number, number];
  return {
    rssMb: kb("VmRSS") / 1024,
    hwmMb: kb("VmHWM") / 1024,
    cpuSeconds: (utime + stime) / 100, // clock ticks, 100/s on Linux
    systemSeconds: stime / 100,
    minorFaults,
  };
}

const offsetReaders = new Map<string, Consumer>();
/** Whether the group has committed the end of every partition; one reader per group, kept open. */
async function committedAll(groupId: string): Promise<boolean> {
  let c = offsetReaders.get(groupId);
  if (!c) {
    c = new Consumer({ clientId: "bench-offsets", bootstrapBrokers: [BROKER], groupId });
    offsetReaders.set(groupId, c);
  }
  return groupCaughtUp(
    c,
    TOPICS.map((t) => `${prefix}${t}`),
    partitions,
  );
}

/** Rows the service wrote (upserts, replaced children, updates, deletes), from its /metrics. */
async function rowsWritten(port: number): Promise<{ total: number; detail: string }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  const detail: string[] = [];
  for (const m of text.matchAll(/^analytics_rows_total\{([^}]*)\} (\d+)/gm)) {
    total += Number(m[2]);
    detail.push(`${(m[1] ?? "").replace(/[a-z]+="([^"]*)",?/g, "$1 ").trim()}: ${m[2]}`);
  }
  return { total, detail: detail.join(", ") };
}

function tuning(): Record<string, string> {
  const set = Object.values(serviceDeclaration).flatMap((v) => {
    const value = process.env[v.env];
    return value === undefined ? [] : [[v.env, value] as const];
  });
  return Object.fromEntries(set);
}

function startService(database: string, groupId: string, extra: Record<string, string> = {}) {
  // BENCH_NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the service.
  const nodeOptions = (process.env.BENCH_NODE_OPTIONS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...nodeOptions, "bin/analytics-service.js", "run"], {
    env: {
      PATH: process.env.PATH ?? "",
      // Tuning variables set for the benchmark (BATCH_LINGER_MS=…) reach the service.
      ...tuning(),
      ...SERVICE_ENV,
      KAFKA_BOOTSTRAP_SERVERS: BROKER,
      KAFKA_GROUP_ID: groupId,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_DLQ_TOPIC: `${prefix}dlq`,
      MYSQL_HOST: "127.0.0.1",
      MYSQL_PORT: String(stack.mysqlPort),
      MYSQL_USER: stack.mysqlAdminUser,
      MYSQL_PASSWORD: stack.mysqlAdminPassword,
      MYSQL_DATABASE: database,
      METRICS_PORT: String(METRICS_PORT),
      LOG_LEVEL: "error",
      ...(args.batch ? { BATCH_MAX_EVENTS: args.batch } : {}),
      ...(args.pool ? { MYSQL_POOL_SIZE: args.pool } : {}),
      // For bench/heap-sampling.ts, when it is preloaded through BENCH_NODE_OPTIONS.
      ...Object.fromEntries(
        ["HEAP_PROFILE_DIR", "HEAP_PROFILE_MS"].flatMap((v) => (process.env[v] ? [[v, process.env[v]]] : [])),
      ),
      ...extra,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return child;
}

async function drain() {
  const events = Number(args.events);
  const svcDb = `bench_${tag}_svc`;
  const ceilDb = `bench_${tag}_ceiling`;
  await createTopics();
  await createDatabase(svcDb);
  await createDatabase(ceilDb);
  try {
    log(`producing ${events} events into ${partitions} partitions per topic (seed ${args.seed})`);
    const { model, sent } = await produceStream(events, Number(args.seed));
    const expected = modelRows(model);
    const rows = Object.values(expected).reduce((n, r) => n + r.length, 0);
    log(`produced ${sent} messages; the final state holds ${rows} rows`);

    const kafka = await kafkaCeiling(sent);
    log(`Kafka read ceiling: ${Math.round(kafka)} events/s`);
    const db = await databaseCeiling(expected, ceilDb);
    log(`database ceiling: ${Math.round(db.rowsPerSecond)} rows/s (${db.rows} rows)`);

    const groupId = `bench-svc-${tag}`;
    const started = performance.now();
    const cpu0 = machineCpu();
    const proxy =
      dbLatencyMs > 0 ? await startLatencyProxy({ host: "127.0.0.1", port: stack.mysqlPort }, dbLatencyMs) : null;
    const child = startService(svcDb, groupId, proxy ? { MYSQL_PORT: String(proxy.port) } : {});
    const pid = child.pid as number;
    let peak = 0;
    let last = procStats(pid);
    while (!(await committedAll(groupId))) {
      last = procStats(pid);
      peak = Math.max(peak, last.rssMb);
      await new Promise((r) => setTimeout(r, 250));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu1 = machineCpu();
    last = procStats(pid);
    peak = Math.max(peak, last.hwmMb);
    const { total: written, detail } = await rowsWritten(METRICS_PORT);
    child.kill("SIGTERM");
    await new Promise((r) => child.on("exit", r));
    await proxy?.close();
    log(`service drained ${sent} events in ${seconds.toFixed(1)} s`);
    // Where the machine's cores went meanwhile: the service, everything else (the database, the
    // broker, this driver), idle, waiting on the disk, taken by the hypervisor.
    const busy = cpu1.busy - cpu0.busy;
    log(
      `CPU during the drain: service ${last.cpuSeconds.toFixed(1)} s (system ${last.systemSeconds.toFixed(1)} s, ` +
        `${last.minorFaults} minor page faults), everything else ${(busy - last.cpuSeconds).toFixed(1)} s, ` +
        `idle ${(cpu1.idle - cpu0.idle).toFixed(1)} s, iowait ${(cpu1.iowait - cpu0.iowait).toFixed(1)} s, steal ${(cpu1.steal - cpu0.steal).toFixed(1)} s`,
    );

    const conn = await adminConnection(svcDb);
    const check = await compareTables(conn, expected);
    await conn.end();
    log(check.report);
    if (!check.equal) throw new Error("the service's tables differ from the model");

    // Rows the service wrote per second (every upsert, child row, update, delete), against rows
    // per second of the bare loop writing the final state: both are what MySQL was asked to do.
    const rowsPerSecond = written / seconds;
    log(`the service wrote ${written} rows (${rows} in the final state): ${detail}`);
    return {
      events: sent,
      seconds: Number(seconds.toFixed(2)),
      events_per_s: Math.round(sent / seconds),
      rows_per_s: Math.round(rowsPerSecond),
      db_ceiling_rows_per_s: Math.round(db.rowsPerSecond),
      kafka_ceiling_events_per_s: Math.round(kafka),
      efficiency: Number((rowsPerSecond / db.rowsPerSecond).toFixed(3)),
      peak_rss_mb: Math.round(peak),
      cpu_s: Number(last.cpuSeconds.toFixed(1)),
    };
  } finally {
    await dropDatabase(svcDb);
    await dropDatabase(ceilDb);
    await deleteTopics();
  }
}

async function steady(rate: number, durationS: number) {
  const svcDb = `bench_${tag}_svc`;
  await createTopics();
  await createDatabase(svcDb);
  const groupId = `bench-steady-${tag}`;
  const child = startService(svcDb, groupId, { KAFKA_AUTO_OFFSET_RESET: "earliest" });
  const conn = await adminConnection(svcDb);
  const p = producer();
  try {
    const doc = fixture("user.created").value.data as Record<string, unknown>;
    const ids = Array.from({ length: 1000 }, (_, i) => hexId(i, "ee"));
    const send = async (events: ReturnType<typeof emit>[]) =>
      p.send({
        messages: events.map((e) => ({
          topic: `${prefix}${e.topic}`,
          key: Buffer.from(e.key),
          value: Buffer.from(JSON.stringify(e.value)),
        })),
      });
    await send(ids.map((id) => emit("user.created", id, doc as never)));
    while (!(await committedAll(groupId))) await new Promise((r) => setTimeout(r, 100));
    log(`steady: ${rate} events/s for ${durationS} s`);
    const pending = new Map<string, number>();
    const latencies: number[] = [];
    let stop = false;
    const watcher = (async () => {
      while (!stop || pending.size > 0) {
        if (pending.size > 0) {
          const [rows] = await conn.query("SELECT event_id FROM users WHERE event_id IN (?)", [[...pending.keys()]]);
          const now = performance.now();
          for (const r of rows as { event_id: string }[]) {
            const t0 = pending.get(r.event_id);
            if (t0 !== undefined) latencies.push(now - t0);
            pending.delete(r.event_id);
          }
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const tick = 20; // ms: rate/50 events per tick
    const started = performance.now();
    let produced = 0;
    while (performance.now() - started < durationS * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate) - produced;
      if (due > 0) {
        const events = Array.from({ length: due }, (_, i) =>
          emit("user.updated", ids[(produced + i) % ids.length] as string, { ...doc, version: 2 } as never),
        );
        const t0 = performance.now();
        await send(events);
        // One sampled event per batch: its latency runs from before the produce to the row.
        const sample = events[0];
        if (sample) pending.set(sample.value.event_id, t0);
        produced += due;
      }
      await new Promise((r) => setTimeout(r, tick));
    }
    stop = true;
    await watcher;
    latencies.sort((a, b) => a - b);
    const q = (p: number) =>
      Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1));
    return {
      rate,
      seconds: durationS,
      events: produced,
      samples: latencies.length,
      freshness_p50_ms: q(0.5),
      freshness_p99_ms: q(0.99),
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.on("exit", r));
    await p.close();
    await conn.end();
    await dropDatabase(svcDb);
    await deleteTopics();
  }
}

async function main() {
  const report = await stackUp(stack, loadConfig({}));
  log(report.kafka);
  log(report.database);
  log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"} (${arch()}), ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`,
  );
  const result = args.steady ? await steady(Number(args.steady), Number(args.seconds)) : await drain();
  for (const c of offsetReaders.values()) await c.close();
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
