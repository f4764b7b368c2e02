import { setTimeout as sleep } from "node:timers/promises";
import { deadlockCount } from "./database.ts";
import { GroupOffsets } from "./kafka.ts";
import { startLatencyProxy } from "./latency-proxy.ts";
import { type ServiceMetrics, serviceMetrics } from "./metrics.ts";
import { BROKER, log, METRICS_PORT, options, prefix, stack, tag } from "./options.ts";
import { cpuSeconds, databasePid, machineCpu, procStats } from "./procfs.ts";
import { startService, stopService } from "./service.ts";
import type { Sample } from "./timeline.ts";

// The service draining the backlog: started on a fresh database and group, timed until the group
// has committed the end of every partition. Meanwhile the driver only samples, once a second:
// the committed offsets, the service's /metrics, its memory from /proc (ten times a second only
// in the last second or so, on the offsets alone, so that the end is timed closely).

export interface DrainMeasurement {
  seconds: number;
  /** How many events the service had finished, about once a second. */
  samples: Sample[];
  /** Where the samples' counts come from. */
  source: "analytics_events_total" | "committed offsets";
  peakRssMb: number;
  service: { cpuSeconds: number; systemSeconds: number; minorFaults: number };
  /** mysqld's user + system CPU seconds during the drain; null when no local server was found. */
  databaseCpuSeconds: number | null;
  databasePid: number | null;
  /** InnoDB's deadlocks during the drain (server-wide), and the service's own count; null: unknown. */
  databaseDeadlocks: number | null;
  deadlockSource: string | null;
  metrics: ServiceMetrics | null;
  /** The driver during the drain (this process and `helpers`, the model's): CPU seconds, highest sampled RSS. */
  driver: { cpuSeconds: number; rssMb: number };
  machine: { busy: number; idle: number; iowait: number; steal: number };
}

export async function measureDrain(database: string, total: number, helpers: number[]): Promise<DrainMeasurement> {
  const groupId = `bench-svc-${tag}`;
  const offsets = new GroupOffsets(BROKER, prefix, options.partitions, groupId);
  const dbPid = databasePid(stack.mysqlPort);
  const deadlocks0 = await deadlockCount();
  const proxy =
    options.dbLatencyMs > 0
      ? await startLatencyProxy({ host: "127.0.0.1", port: stack.mysqlPort }, options.dbLatencyMs)
      : null;
  const machine0 = machineCpu();
  const db0 = dbPid === null ? null : cpuSeconds(dbPid);
  const driverPids = [process.pid, ...helpers];
  const driverCpu = () => driverPids.reduce((sum, p) => sum + (cpuSeconds(p) ?? 0), 0);
  const driverCpu0 = driverCpu();
  const started = performance.now();
  const child = startService(database, groupId, proxy ? { MYSQL_PORT: String(proxy.port) } : {});
  let exit: string | null = null;
  child.once("exit", (code, signal) => {
    exit = `the service exited (${signal ?? code}) before the drain was over`;
  });
  const close = async () => {
    await stopService(child);
    await proxy?.close();
    await offsets.close();
  };
  const pid = child.pid as number;
  const elapsed = () => (performance.now() - started) / 1000;
  let followed: Followed;
  try {
    followed = await followDrain({ pid, offsets, total, driverPids, elapsed, exited: () => exit });
  } catch (err) {
    await close();
    throw err;
  }
  const { samples, driverRss } = followed;
  let { peak, stats, metrics } = followed;
  const seconds = elapsed();
  const driverCpu1 = driverCpu();
  const machine1 = machineCpu();
  const db1 = dbPid === null ? null : cpuSeconds(dbPid);
  stats = procStats(pid);
  peak = Math.max(peak, stats.hwmMb);
  const final = (await serviceMetrics(METRICS_PORT)) ?? metrics;
  const deadlocks1 = await deadlockCount();
  await close();
  if (final && final.events !== total)
    log(`note: the service's analytics_events_total is ${final.events}, not ${total}`);
  // The service's own count (0 until its /metrics answer) when it ends at every event, else the committed offsets.
  const fromMetrics = final !== null && final.events === total;
  return {
    seconds,
    samples: samples.map((s) => ({ t: s.t, events: fromMetrics ? (s.processed ?? 0) : s.events })),
    source: fromMetrics ? "analytics_events_total" : "committed offsets",
    peakRssMb: peak,
    service: { cpuSeconds: stats.cpuSeconds, systemSeconds: stats.systemSeconds, minorFaults: stats.minorFaults },
    databaseCpuSeconds: db0 === null || db1 === null ? null : db1 - db0,
    databasePid: dbPid,
    databaseDeadlocks: deadlocks0 && deadlocks1 ? deadlocks1.count - deadlocks0.count : null,
    deadlockSource: deadlocks1?.source ?? null,
    metrics: final,
    driver: { cpuSeconds: driverCpu1 - driverCpu0, rssMb: driverRss },
    machine: {
      busy: machine1.busy - machine0.busy,
      idle: machine1.idle - machine0.idle,
      iowait: machine1.iowait - machine0.iowait,
      steal: machine1.steal - machine0.steal,
    },
  };
}

/** What the drain looked like while it ran: a sample a second, the highest RSS seen, the last metrics. */
interface Followed {
  samples: (Sample & { processed: number | null })[];
  peak: number;
  driverRss: number;
  stats: ReturnType<typeof procStats>;
  metrics: ServiceMetrics | null;
}

/** Samples the service once a second (ten times a second near the end) until its offsets reach the end. */
async function followDrain(d: {
  pid: number;
  offsets: GroupOffsets;
  total: number;
  driverPids: number[];
  elapsed: () => number;
  exited: () => string | null;
}): Promise<Followed> {
  const samples: Followed["samples"] = [];
  let peak = 0;
  let driverRss = 0;
  let stats = procStats(d.pid);
  let metrics: ServiceMetrics | null = null;
  let nextSample = 0;
  for (;;) {
    const exit = d.exited();
    if (exit) throw new Error(exit);
    const o = await d.offsets.read();
    const t = d.elapsed();
    if (o.done || t >= nextSample) {
      stats = procStats(d.pid);
      peak = Math.max(peak, stats.rssMb);
      driverRss = Math.max(
        driverRss,
        d.driverPids.reduce((sum, p) => sum + procStats(p).rssMb, 0),
      );
      metrics = (await serviceMetrics(METRICS_PORT)) ?? metrics;
      samples.push({ t, events: o.committed, processed: metrics?.events ?? null });
      nextSample = Math.floor(t) + 1;
    }
    if (o.done) return { samples, peak, driverRss, stats, metrics };
    await sleep(nearTheEnd(samples, d.total - o.committed) ? 100 : Math.max(10, (nextSample - d.elapsed()) * 1000));
  }
}

/** Under 1.5 s left at the last second's pace: then the offsets are looked at ten times a second. */
function nearTheEnd(samples: readonly Sample[], left: number): boolean {
  const [a, b] = samples.slice(-2);
  if (a === undefined || b === undefined) return false;
  const pace = (b.events - a.events) / (b.t - a.t);
  return pace > 0 && left / pace < 1.5;
}
