import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { adminConnection } from "../../test/support/helpers.ts";
import { dumpTables, RowDump } from "./check.ts";
import { createDatabase, databaseCeiling, dropDatabase } from "./database.ts";
import { createTopics, deleteTopics } from "./kafka.ts";
import { measureDrain } from "./measure.ts";
import { BROKER, log, options, prefix, stack, tag } from "./options.ts";
import { type ModelHandle, produceStream } from "./produce.ts";
import { rateByTenth, throughputSvg } from "./timeline.ts";

// A drain, in order: produce the stream (and its model) into fresh topics; the Kafka read ceiling;
// the service draining it (measure.ts); every table checked against the model, and dumped; the
// service's database dropped; the database ceiling written from the dump; the chart.

const perEventUs = (seconds: number | null, events: number) =>
  seconds === null ? "n/a" : Number(((seconds * 1e6) / events).toFixed(1));

export async function drain() {
  const { events, partitions, seed } = options;
  const svcDb = `bench_${tag}_svc`;
  const ceilDb = `bench_${tag}_ceiling`;
  mkdirSync(options.resultsDir, { recursive: true });
  const dumpPath = join(options.resultsDir, `bench-${tag}-rows.ndjson`);
  await createTopics(BROKER, prefix, partitions);
  await createDatabase(stack, svcDb);
  let model: ModelHandle | null = null;
  try {
    log(`producing ${events} events into ${partitions} partitions per topic (seed ${seed})`);
    const produced = await produceStream(
      { broker: BROKER, prefix, seed, events, check: options.check, ceiling: options.ceilings ? tag : null },
      (n, s) => log(`  produced ${n} in ${s.toFixed(1)} s`),
    );
    model = produced.model;
    logProduction(produced);

    const kafka = produced.kafkaCeiling;
    if (kafka !== null) log(`Kafka read ceiling: ${Math.round(kafka)} events/s`);

    const m = await measureDrain(svcDb, produced.sent, model ? [model.pid] : []);
    const sent = produced.sent;
    const tenths = logDrain(m, sent);

    await checkAndDump(model, svcDb, dumpPath);
    model = null;
    await dropDatabase(svcDb);

    const db = options.ceilings ? await ceiling(dumpPath, ceilDb) : null;

    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    const rate = sent / m.seconds;
    const chart = writeChart(m, sent, stamp);

    // Rows the service wrote per second (every upsert, child row, update, delete), against rows
    // per second of the bare loop writing the final state: both are what MySQL was asked to do.
    const written = m.metrics?.rows ?? 0;
    log(`the service wrote ${written} rows: ${m.metrics?.rowsDetail ?? "(no /metrics)"}`);
    const rowsPerSecond = written / m.seconds;
    const result = {
      events: sent,
      seconds: Number(m.seconds.toFixed(2)),
      events_per_s: Math.round(rate),
      events_per_s_by_tenth: tenths,
      rows_per_s: Math.round(rowsPerSecond),
      db_ceiling_rows_per_s: db ? Math.round(db.rowsPerSecond) : "n/a",
      kafka_ceiling_events_per_s: kafka === null ? "n/a" : Math.round(kafka),
      efficiency: db ? Number((rowsPerSecond / db.rowsPerSecond).toFixed(3)) : "n/a",
      peak_rss_mb: Math.round(m.peakRssMb),
      cpu_s: Number(m.service.cpuSeconds.toFixed(1)),
      service_cpu_us_per_event: perEventUs(m.service.cpuSeconds, sent),
      db_cpu_us_per_event: perEventUs(m.databaseCpuSeconds, sent),
      db_deadlocks: m.databaseDeadlocks ?? "n/a",
      service_deadlocks: m.metrics?.deadlocks ?? "n/a",
      production_events_per_s: Math.round(produced.sent / produced.seconds),
      production_peak_rss_mb: Math.round(produced.producerPeakRssMb),
      model_heap_mb: produced.model?.summary.heapMb ?? "n/a",
      driver_rss_mb_while_draining: Math.round(m.driver.rssMb),
      driver_cpu_s_while_draining: Number(m.driver.cpuSeconds.toFixed(2)),
      chart,
    };
    writeFileSync(join(options.resultsDir, `bench-${stamp}-${sent}.json`), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await model?.close();
    rmSync(dumpPath, { force: true });
    await dropDatabase(svcDb);
    await dropDatabase(ceilDb);
    await deleteTopics(BROKER, prefix);
  }
}

type Produced = Awaited<ReturnType<typeof produceStream>>;
type Drained = Awaited<ReturnType<typeof measureDrain>>;

function logProduction(produced: Produced): void {
  const { model } = produced;
  const productionRate = produced.sent / produced.seconds;
  log(
    `produced ${produced.sent} messages in ${produced.seconds.toFixed(1)} s: ${Math.round(productionRate)} events/s ` +
      `(10,000,000 would take about ${Math.round(1e7 / productionRate / 60)} min); CPU per event: producing process ` +
      `${perEventUs(produced.producerCpuSeconds, produced.sent)} µs` +
      (model ? `, model's process ${perEventUs(model.summary.cpuSeconds, produced.sent)} µs` : ""),
  );
  if (model) {
    const s = model.summary;
    log(
      `the final state holds ${s.rows} rows (${JSON.stringify(s.byTable)}); the model's process: ` +
        `heap ${s.heapMb} MB, RSS ${s.rssMb} MB; the producing process's peak RSS: ${Math.round(produced.producerPeakRssMb)} MB`,
    );
  } else log("--no-check: no model, no check");
}

/** Logs what the drain took; returns its events/s by tenth. */
function logDrain(m: Drained, sent: number): (number | null)[] {
  log(`service drained ${sent} events in ${m.seconds.toFixed(1)} s: ${Math.round(sent / m.seconds)} events/s`);
  log(
    `CPU during the drain: service ${m.service.cpuSeconds.toFixed(1)} s (system ${m.service.systemSeconds.toFixed(1)} s, ` +
      `${m.service.minorFaults} minor page faults), database ${m.databaseCpuSeconds?.toFixed(1) ?? "n/a"} s` +
      `${m.databasePid === null ? " (no local mysqld/mariadbd found)" : ` (pid ${m.databasePid})`}, ` +
      `everything else ${(m.machine.busy - m.service.cpuSeconds - (m.databaseCpuSeconds ?? 0)).toFixed(1)} s, ` +
      `idle ${m.machine.idle.toFixed(1)} s, iowait ${m.machine.iowait.toFixed(1)} s, steal ${m.machine.steal.toFixed(1)} s`,
  );
  log(
    `deadlocks during the drain: InnoDB ${m.databaseDeadlocks ?? "n/a"} (${m.deadlockSource ?? "no counter"}, server-wide), ` +
      `the service's analytics_deadlocks_total ${m.metrics?.deadlocks ?? "n/a"}`,
  );
  log(
    `the driver meanwhile (with the model's process): ${m.driver.cpuSeconds.toFixed(2)} CPU-s, ` +
      `RSS up to ${Math.round(m.driver.rssMb)} MB`,
  );
  const tenths = rateByTenth(m.samples, sent);
  log(`events/s by tenth of the drain (${m.source}): ${tenths.map((r) => r ?? "?").join(" ")}`);

  return tenths;
}

/**
 * Checks every table against the model, reading each once and dumping it on the way for the
 * database ceiling; without a model, only the dump. Closes the model.
 */
async function checkAndDump(model: ModelHandle | null, svcDb: string, dumpPath: string): Promise<void> {
  if (model) {
    const check = await model.check(svcDb, options.ceilings ? dumpPath : undefined);
    log(check.report);
    if (!check.equal) throw new Error("the service's tables differ from the model");
    log(`the model's heap after the check: ${check.heapMb} MB`);
    await model.close();
    model = null;
  } else if (options.ceilings) {
    const dump = new RowDump(dumpPath);
    const conn = await adminConnection(svcDb);
    await dumpTables(conn, dump);
    await conn.end();
    dump.close();
  }
}

/** The chart of events/s over the drain; returns its path. */
function writeChart(m: Drained, sent: number, stamp: string): string {
  const chart = options.svg ?? join(options.resultsDir, `bench-${stamp}-${sent}.svg`);
  mkdirSync(dirname(chart), { recursive: true });
  const rate = sent / m.seconds;
  writeFileSync(
    chart,
    throughputSvg(
      m.samples,
      rate,
      `Draining ${sent.toLocaleString("en-US")} events: ${Math.round(rate).toLocaleString("en-US")} events/s`,
      `npm run bench -- --events ${sent}; ${m.source} sampled once a second; ${new Date().toISOString().slice(0, 10)}`,
    ),
  );
  log(`chart: ${chart}`);

  return chart;
}

/** The database ceiling: the bare loop writing the final state, from the dump. */
async function ceiling(dumpPath: string, ceilDb: string): Promise<{ rows: number; rowsPerSecond: number }> {
  await createDatabase(stack, ceilDb);
  const db = await databaseCeiling(stack, dumpPath, ceilDb);
  log(`database ceiling: ${Math.round(db.rowsPerSecond)} rows/s (${db.rows} rows)`);
  return db;
}
