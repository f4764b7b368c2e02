import type { Pool } from "mysql2/promise";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { getOrCreate } from "../collections.ts";
import type { Logger } from "../log.ts";
import type { BatchReport } from "../pipeline.ts";

// What operators watch. Labels are bounded: event types and tables come from the code, outcomes
// and reasons from closed lists; only unknown enum values come from the data, and each is logged
// once and counted (SPEC §9) — a flood of new values would show here first.

const outcomeLabel = (o: BatchReport["events"][number]["outcome"]) =>
  o.kind === "skipped" ? `skipped_${o.reason}` : o.kind;

export class Metrics {
  readonly registry = new Registry();
  readonly #log: Logger;
  readonly #warnedEnums = new Set<string>();
  /** DATETIME(6) text compares in time order, so the newest is kept as text and parsed on scrape. */
  #newestEventTs = "";

  readonly events = new Counter({
    name: "analytics_events_total",
    help: "Events consumed, by event type and outcome (applied, skipped_*, rejected).",
    labelNames: ["event_type", "outcome"] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: "analytics_batch_events",
    help: "Events per processed batch.",
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: "analytics_batch_duration_seconds",
    help: "Time to apply, dead-letter and commit one batch.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly rows = new Counter({
    name: "analytics_rows_total",
    help: "Rows written, by table and operation (upsert, replace, update, delete).",
    labelNames: ["table", "operation"] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: "analytics_dead_letters_total",
    help: "Events sent to the dead-letter topic, by reason.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly unknownEnums = new Counter({
    name: "analytics_unknown_enum_values_total",
    help: "Values outside SPEC §4's enumerations, applied as is.",
    labelNames: ["field", "value"] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: "analytics_retries_total",
    help: "Retries while a dependency was unavailable.",
    labelNames: ["dependency"] as const,
    registers: [this.registry],
  });
  readonly outage = new Gauge({
    name: "analytics_outage",
    help: "1 while the dependency is unavailable and the service waits for it.",
    labelNames: ["dependency"] as const,
    registers: [this.registry],
  });
  readonly lag = new Gauge({
    name: "analytics_consumer_lag",
    help: "Messages between the committed offset and the end of the partition.",
    labelNames: ["topic", "partition"] as const,
    registers: [this.registry],
  });

  constructor(log: Logger, pool: Pool) {
    this.#log = log;
    collectDefaultMetrics({ register: this.registry });
    this.outage.set({ dependency: "MySQL" }, 0);
    this.outage.set({ dependency: "Kafka" }, 0);
    const metrics = this;
    new Gauge({
      name: "analytics_freshness_seconds",
      help: "Now minus the timestamp of the newest event applied (0 before the first).",
      registers: [this.registry],
      collect() {
        const newest = metrics.#newestEventTs;
        this.set(newest === "" ? 0 : Math.max(0, (Date.now() - Date.parse(`${newest.replace(" ", "T")}Z`)) / 1000));
      },
    });
    new Gauge({
      name: "analytics_mysql_pool_connections",
      help: "MySQL pool connections by state (in_use, idle).",
      labelNames: ["state"] as const,
      registers: [this.registry],
      collect() {
        // mysql2 keeps its queues private; the lengths are the only view of pool usage it has.
        const inner = (
          pool as unknown as { pool?: { _allConnections?: { length: number }; _freeConnections?: { length: number } } }
        ).pool;
        const all = inner?._allConnections?.length ?? 0;
        const idle = inner?._freeConnections?.length ?? 0;
        this.set({ state: "in_use" }, all - idle);
        this.set({ state: "idle" }, idle);
      },
    });
  }

  observeBatch(report: BatchReport): void {
    this.batchSize.observe(report.events.length);
    this.batchSeconds.observe(report.seconds);
    // One increment per label set and batch, not per event: prom-client hashes the labels on
    // every call, which was 3 % of what the main thread allocated while draining.
    const byLabels = new Map<string, { labels: { event_type: string; outcome: string }; n: number }>();
    for (const e of report.events) {
      const type = e.eventType ?? "unparsed";
      const outcome = outcomeLabel(e.outcome);
      getOrCreate(byLabels, `${type}\u0000${outcome}`, () => ({ labels: { event_type: type, outcome }, n: 0 })).n++;
      if (e.outcome.kind === "rejected") this.deadLetters.inc({ reason: e.outcome.error.reason });
      if (e.outcome.kind === "applied" && e.eventTs !== undefined && e.eventTs > this.#newestEventTs) {
        this.#newestEventTs = e.eventTs;
      }
      for (const u of e.unknownEnums) {
        this.unknownEnums.inc({ field: u.field, value: u.value });
        const key = `${u.field}\u0000${u.value}`;
        if (!this.#warnedEnums.has(key)) {
          this.#warnedEnums.add(key);
          this.#log.warn(
            { field: u.field, value: u.value },
            `new ${u.field} value "${u.value}" applied as is (not in SPEC §4)`,
          );
        }
      }
    }
    for (const { labels, n } of byLabels.values()) this.events.inc(labels, n);
    for (const [key, n] of report.rows) {
      const [table = "", operation = ""] = key.split(":");
      this.rows.inc({ table, operation }, n);
    }
  }

  observeLag(lag: Map<string, bigint[]>): void {
    for (const [topic, partitions] of lag) {
      partitions.forEach((n, partition) => {
        if (n >= 0n) this.lag.set({ topic, partition: String(partition) }, Number(n));
      });
    }
  }
}
