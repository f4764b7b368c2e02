import type { Pool } from "mysql2/promise";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { getOrCreate } from "../collections.ts";
import { ROUTES } from "../domains/registry.ts";
import { BadEventReasons, visibleName } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { BatchReport } from "../pipeline/pipeline.ts";
import { BoundedLabels, OTHER } from "./bounded.ts";

// What operators watch. Labels are bounded: tables come from the code, outcomes and reasons from
// closed lists, topics from the configuration. Unknown event types and unknown enum values come
// from the data: each field keeps its first few distinct values as labels and counts the rest
// as `other`, and each new one is warned about once, bounded by the label budget (docs/guarantees.md).

/** Distinct values from the data a field keeps as labels before the rest count as `other`. */
export const LABELS_PER_FIELD = 20;

const outcomeLabel = (o: BatchReport["events"][number]["outcome"]) =>
  o.kind === "skipped" ? `skipped_${o.reason}` : o.kind;

export class Metrics {
  readonly registry = new Registry();
  readonly #labels = new BoundedLabels(LABELS_PER_FIELD);
  /**
   * The warnings here are each logged once: per new value of a field, per field past its budget,
   * per topic. That bounds them by construction (fields × (LABELS_PER_FIELD + 1) + topics in a
   * process's life), so none goes through a rate limiter: a flood of one kind would hide the first
   * warning of another for good.
   */
  readonly #log: Logger;
  readonly #mismatchedTopics = new Set<string>();
  /** The partitions each topic had a lag figure for: its series, removed when the topic goes. */
  readonly #lagPartitions = new Map<string, number>();
  /** Each topic's id as last reported: a topic created again under its name has a new one. */
  readonly #lagIds = new Map<string, string>();
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
    help: "Time to apply and dead-letter one batch (its offsets are committed after, off the write path).",
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
    help: "Values outside the enumerations of docs/events.md#enumerations, applied as is.",
    labelNames: ["field", "value"] as const,
    registers: [this.registry],
  });
  readonly keyMismatches = new Counter({
    name: "analytics_key_mismatches_total",
    help: "Events whose Kafka key is not their entity_id (applied by entity_id), by topic.",
    labelNames: ["topic"] as const,
    registers: [this.registry],
  });
  readonly deadlocks = new Counter({
    name: "analytics_deadlocks_total",
    help: "Transactions InnoDB rolled back as deadlock victims and the service ran again (not outages).",
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

  /** Whether the instance is a member of its consumer group: false until the group's consumer says. */
  #member: () => boolean = () => false;

  /** `member` answers, at each scrape, whether the consumer has joined its group. */
  watchMembership(member: () => boolean): void {
    this.#member = member;
  }

  constructor(log: Logger, pool: Pool) {
    this.#log = log;
    collectDefaultMetrics({ register: this.registry });
    this.outage.set({ dependency: "MySQL" }, 0);
    this.outage.set({ dependency: "Kafka" }, 0);
    // Every reason from the start, at 0: a series born with its first burst has no earlier sample,
    // so increase() and rate() (the dashboard's dead-letter panels) would not see that burst.
    for (const reason of Object.values(BadEventReasons)) this.deadLetters.inc({ reason }, 0);
    const metrics = this;
    new Gauge({
      name: "analytics_freshness_seconds",
      help: "Now minus the timestamp of the newest event applied, that timestamp taken no later than when it was applied (0 before the first).",
      registers: [this.registry],
      collect() {
        const newest = metrics.#newestEventTs;
        this.set(newest === "" ? 0 : Math.max(0, (Date.now() - Date.parse(`${newest.replace(" ", "T")}Z`)) / 1000));
      },
    });
    new Gauge({
      name: "analytics_group_member",
      help: "1 once the instance has joined its consumer group (KAFKA_GROUP_ID); 0 while it starts or waits for the source topics.",
      registers: [this.registry],
      collect() {
        this.set(metrics.#member() ? 1 : 0);
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
    // One increment per label set and batch, not per event: prom-client hashes the labels (and
    // allocates) on every call.
    const byLabels = new Map<string, { labels: { event_type: string; outcome: string }; n: number }>();
    // An event stamped in the future (within MAX_CLOCK_SKEW_MS) counts as applied now: it must
    // not hold freshness at 0 and hide a pipeline that stalls after it.
    const appliedBy = utcDatetime6(new Date());
    for (const e of report.events) {
      const type = this.#eventTypeLabel(e.eventType);
      const outcome = outcomeLabel(e.outcome);
      getOrCreate(byLabels, `${type}\u0000${outcome}`, () => ({ labels: { event_type: type, outcome }, n: 0 })).n++;
      if (e.outcome.kind === "rejected") this.deadLetters.inc({ reason: e.outcome.error.reason });
      if (e.outcome.kind === "applied" && e.eventTs !== undefined && e.eventTs > this.#newestEventTs) {
        this.#newestEventTs = e.eventTs < appliedBy ? e.eventTs : appliedBy;
      }
      // Only what was written: a rejected or skipped event's values reached no table, and must not
      // use up the field's labels or be announced as applied.
      if (e.outcome.kind === "applied") for (const u of e.unknownEnums) this.#unknownEnum(u.field, u.value);
      if (e.keyMismatch) this.#keyMismatch(e.topic);
    }
    for (const { labels, n } of byLabels.values()) this.events.inc(labels, n);
    for (const [key, n] of report.rows) {
      const [table = "", operation = ""] = key.split(":");
      this.rows.inc({ table, operation }, n);
    }
  }

  #eventTypeLabel(eventType: string | undefined): string {
    if (eventType === undefined) return "unparsed";
    // Known types are a closed list; unknown ones come from the data and are bounded, and said
    // as one line (a terminal showing the scrape must not run their escapes), with nothing
    // invisible (a known type with a zero-width space after it must not read as the known one).
    return ROUTES.has(eventType) ? eventType : this.#labels.label("event_type", visibleName(eventType)).label;
  }

  #unknownEnum(field: string, raw: string): void {
    // From the data: a label and a log field that read as written (no escapes, no bidi overrides,
    // nothing invisible: "electronics" and a zero-width space must not read as a known value).
    const value = visibleName(raw);
    const { label, first } = this.#labels.label(field, value);
    this.unknownEnums.inc({ field, value: label });
    if (!first) return;
    if (label === OTHER) {
      this.#log.warn(
        { field },
        `more than ${LABELS_PER_FIELD} new ${field} values: further ones are counted as "other" and not named`,
      );
    } else {
      this.#log.warn({ field, value }, `new ${field} value "${value}" applied as is (not in docs/events.md)`);
    }
  }

  #keyMismatch(topic: string): void {
    this.keyMismatches.inc({ topic });
    if (this.#mismatchedTopics.has(topic)) return;
    this.#mismatchedTopics.add(topic);
    this.#log.warn(
      { topic },
      `an event on ${topic} has a Kafka key other than its entity_id: applied by entity_id; counted in analytics_key_mismatches_total, warned once per topic`,
    );
  }

  /** `ids`: each topic's id, from the metadata the lag was read with (read/lag.ts). */
  observeLag(
    lag: ReadonlyMap<string, readonly (bigint | undefined)[]>,
    ids: ReadonlyMap<string, string> = new Map(),
  ): void {
    // A topic no longer asked about (deleted) keeps no figure either.
    for (const [topic, count] of this.#lagPartitions) {
      if (lag.has(topic)) continue;
      this.#removeLag(topic, 0, count);
      this.#lagPartitions.delete(topic);
      this.#lagIds.delete(topic);
    }
    for (const [topic, partitions] of lag) {
      // A topic deleted and created again with fewer partitions between two reports: the old
      // partitions past the new count are no one's, and their last figures would stay for good.
      // A smaller count under the same id is a stale answer (Kafka never takes partitions away).
      const id = ids.get(topic);
      const was = this.#lagIds.get(topic);
      if (id !== undefined) this.#lagIds.set(topic, id);
      const known = this.#lagPartitions.get(topic) ?? 0;
      const recreated = id !== undefined && was !== undefined && id !== was;
      if (recreated) this.#removeLag(topic, partitions.length, known);
      this.#lagPartitions.set(topic, recreated ? partitions.length : Math.max(partitions.length, known));
      partitions.forEach((n, partition) => {
        const labels = { topic, partition: String(partition) };
        // -1: the partition is not this instance's (any more): its old figure must not linger,
        // or lag summed over instances would count it twice. Undefined: its leader did not answer
        // this turn (read/lag.ts), and its last figure stays (docs/operations.md).
        if (n === undefined) return;
        if (n >= 0n) this.lag.set(labels, Number(n));
        else this.lag.remove(labels);
      });
    }
  }

  #removeLag(topic: string, from: number, to: number): void {
    for (let partition = from; partition < to; partition++) this.lag.remove({ topic, partition: String(partition) });
  }
}

/** `date` as DATETIME(6) UTC text, comparable with event timestamps. */
function utcDatetime6(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}
