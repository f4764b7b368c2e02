import assert from "node:assert/strict";
import { test } from "node:test";
import type { Producer } from "@platformatic/kafka";
import type { EventReport } from "../../src/pipeline/batch-processor.ts";
import { normaliseRows, TABLE_KEYS } from "../support/compare.ts";
import { type Json, type Msg, type Parent, VALID } from "../support/fuzz/cases.ts";
import { buildCases, hash } from "../support/fuzz/hostile.ts";
import {
  caughtUp,
  privatePort,
  readTopic,
  testConfig,
  testDatabase,
  testProducer,
  testService,
  testTopics,
  topicSize,
  waitFor,
} from "../support/helpers.ts";
import { applyModel, modelRows } from "../support/model.ts";

// End to end, through the real broker, service and database: valid events for three entities of
// each kind mixed with hostile variants (test/support/fuzz/), spread over partitions. Every
// record must end as exactly one outcome, metrics and dead letters must agree with it, the valid
// entities' tables must equal the model of the valid events alone, and no row may be written by
// an event of another entity. FUZZ_SEED and FUZZ_HOSTILE run other seeds and sizes by hand.

const SEED = Number(process.env.FUZZ_SEED ?? 1);
const HOSTILE = Number(process.env.FUZZ_HOSTILE ?? 300);
const PARTITIONS = 3;

/** Each record's place: "topic/partition/offset" → its index among the cases. */
type Places = Map<string, number>;

async function produceCases(producer: Producer, prefix: string, msgs: Msg[], range: [number, number], places: Places) {
  const next = new Map<string, number>();
  for (const place of places.keys()) {
    const tp = place.slice(0, place.lastIndexOf("/"));
    next.set(tp, Math.max(next.get(tp) ?? 0, Number(place.slice(place.lastIndexOf("/") + 1)) + 1));
  }
  for (let i = range[0]; i < range[1]; i += 200) {
    const slice = msgs.slice(i, Math.min(range[1], i + 200));
    await producer.send({
      messages: slice.map((m, k) => {
        const partition = m.partition ?? (m.key === null ? (i + k) % PARTITIONS : hash(m.key) % PARTITIONS);
        const tp = `${prefix}${m.topic}/${partition}`;
        const offset = next.get(tp) ?? 0;
        next.set(tp, offset + 1);
        places.set(`${tp}/${offset}`, i + k);
        return {
          topic: `${prefix}${m.topic}`,
          partition,
          key: m.key === null ? undefined : Buffer.from(m.key),
          value: m.value === null ? (null as unknown as Buffer) : Buffer.from(m.value),
        };
      }),
    });
  }
}

const label = (r: EventReport) => (r.outcome.kind === "skipped" ? `skipped_${r.outcome.reason}` : r.outcome.kind);

/** Each record's one report; a record with none or several is a problem. */
function outcomes(msgs: Msg[], reports: EventReport[], places: Places, problems: string[]): Map<number, EventReport> {
  const seen = new Map<number, EventReport[]>();
  for (const r of reports) {
    const i = places.get(`${r.topic}/${r.partition}/${r.offset}`);
    if (i === undefined) problems.push(`a report for an unknown record ${r.topic}/${r.partition}/${r.offset}`);
    else seen.set(i, [...(seen.get(i) ?? []), r]);
  }
  const one = new Map<number, EventReport>();
  msgs.forEach((m, i) => {
    const got = seen.get(i) ?? [];
    if (got.length === 1) one.set(i, got[0] as EventReport);
    else problems.push(`record ${i} (${m.note}) has ${got.length} outcomes`);
    const kind = got[0]?.outcome.kind;
    if (m.valid && kind !== "applied" && kind !== "skipped") problems.push(`valid record ${i} (${m.note}): ${kind}`);
    if (m.mustNotApply && kind === "applied") problems.push(`record ${i} (${m.note}) must not apply, and was applied`);
  });
  return one;
}

/** analytics_events_total by outcome, against the reports. */
async function checkMetrics(port: number, reports: EventReport[], problems: string[]) {
  const counted = new Map<string, number>();
  for (const r of reports) counted.set(label(r), (counted.get(label(r)) ?? 0) + 1);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const metric = new Map<string, number>();
  for (const [, outcome, n] of text.matchAll(/^analytics_events_total\{.*outcome="([^"]+)".*\} (\d+)$/gm)) {
    metric.set(outcome as string, (metric.get(outcome as string) ?? 0) + Number(n));
  }
  for (const k of new Set([...counted.keys(), ...metric.keys()])) {
    if (counted.get(k) !== metric.get(k)) problems.push(`metric ${k}: ${metric.get(k)}, reports ${counted.get(k)}`);
  }
}

/** One letter per rejected record, naming it, with its value whole. */
async function checkLetters(
  dlq: string,
  msgs: Msg[],
  one: Map<number, EventReport>,
  places: Places,
  problems: string[],
) {
  const rejected = [...one.values()].filter((r) => r.outcome.kind === "rejected").length;
  const letters = rejected > 0 ? await readTopic(dlq, rejected, 60_000) : [];
  // Letters are acknowledged before their offsets are committed: the topic is complete.
  const size = await topicSize(dlq);
  if (size !== rejected) problems.push(`the dead-letter topic holds ${size} letters for ${rejected} rejected records`);
  const named = new Set<string>();
  for (const l of letters) {
    const h = (name: string) => l.headers.get(`dlq.source.${name}`);
    const place = `${h("topic")}/${h("partition")}/${h("offset")}`;
    if (named.has(place)) problems.push(`two letters for ${place}`);
    named.add(place);
    const i = places.get(place);
    if (i === undefined || one.get(i)?.outcome.kind !== "rejected")
      problems.push(`a letter for ${place}, not rejected`);
    else if (msgs[i]?.value !== null && l.value.toString() !== msgs[i]?.value) problems.push(`letter ${place}: value`);
  }
}

const parsed = (text: string | null): Json | null => {
  try {
    return text === null ? null : (JSON.parse(text) as Json);
  } catch {
    return null;
  }
};

/** Each table's parent kind and the column naming it. */
const PARENT: Record<string, [Parent, string]> = {
  users: ["users", "user_id"],
  suppliers: ["suppliers", "supplier_id"],
  products: ["products", "product_id"],
  product_variants: ["products", "product_id"],
  orders: ["orders", "order_id"],
  order_items: ["orders", "order_id"],
  posts: ["posts", "post_id"],
};

/**
 * The valid entities' rows equal the model of the valid events; every other parent row was last
 * written by an applied event of its own id; no child row outlives its parent. Returns the rows.
 */
async function checkTables(
  db: { query<T>(sql: string): Promise<T[]> },
  msgs: Msg[],
  one: Map<number, EventReport>,
  problems: string[],
): Promise<Record<string, Json[]>> {
  const model = modelRows(
    applyModel(
      msgs.filter((m) => m.valid).map((m) => ({ topic: m.topic, key: m.key ?? "", value: Buffer.from(m.value ?? "") })),
    ),
  );
  const appliedBy = new Map<string, string>(); // event_id → entity_id of applied records
  msgs.forEach((m, i) => {
    const v = parsed(m.value);
    if (one.get(i)?.outcome.kind === "applied" && v) appliedBy.set(String(v.event_id), String(v.entity_id));
  });
  const rows: Record<string, Json[]> = {};
  for (const table of Object.keys(TABLE_KEYS)) {
    const [parent, column] = PARENT[table] as [Parent, string];
    const all = await db.query<Json>(`SELECT * FROM \`${table}\``);
    rows[table] = all;
    const ofValid = (r: Json) => VALID[parent].includes(String(r[column]));
    const text = (rs: Json[]) => new Set(normaliseRows(table, rs.filter(ofValid)).map((r) => JSON.stringify(r)));
    const [stored, wanted] = [text(all), text((model[table as keyof typeof model] ?? []) as Json[])];
    for (const r of wanted) if (!stored.has(r)) problems.push(`${table}: missing ${r.slice(0, 300)}`);
    for (const r of stored) if (!wanted.has(r)) problems.push(`${table}: unexpected ${r.slice(0, 300)}`);
    if (table !== parent) continue;
    for (const r of all.filter((r) => !ofValid(r))) {
      if (appliedBy.get(String(r.event_id)) !== String(r[column])) {
        problems.push(`${table} row ${String(r[column])} was last written by ${String(r.event_id)}, not its own event`);
      }
    }
  }
  for (const child of ["product_variants", "order_items"]) {
    const [parent, column] = PARENT[child] as [Parent, string];
    const ids = new Set((rows[parent] ?? []).map((r) => String(r[column])));
    for (const r of rows[child] ?? [])
      if (!ids.has(String(r[column]))) problems.push(`${child} ${String(r.id)}: no parent`);
  }
  return rows;
}

/** The other entities' products hold the variants of the document that last wrote them; orders at least its items. */
function checkOthersChildren(msgs: Msg[], rows: Record<string, Json[]>, problems: string[]) {
  const documents = new Map<string, Json>();
  for (const m of msgs) {
    const v = parsed(m.value);
    if (v && !m.valid) documents.set(String(v.event_id), v);
  }
  const families = [
    ["products", "product_variants", "product_id", "variant_key"],
    ["orders", "order_items", "order_id", "item_id"],
  ] as const;
  for (const [parent, child, column, key] of families) {
    for (const row of rows[parent] ?? []) {
      if (VALID[parent].includes(String(row[column]))) continue;
      const v = documents.get(String(row.event_id));
      const data = v?.data as Json | undefined;
      if (!data || String(v?.event_type).endsWith("cancelled")) continue;
      const want = (
        parent === "products"
          ? Object.keys((data.variants as Json) ?? {})
          : ((data.items as Json[]) ?? []).map((i) => String(i.item_id))
      ).sort();
      const have = (rows[child] ?? [])
        .filter((c) => c[column] === row[column])
        .map((c) => String(c[key]))
        .sort();
      const ok = parent === "products" ? want.join("\n") === have.join("\n") : want.every((w) => have.includes(w));
      if (!ok)
        problems.push(`${child} of ${String(row[column])}: ${JSON.stringify(want)}, stored ${JSON.stringify(have)}`);
    }
  }
}

/** A tombstone is left only by a delete of its own entity; a valid entity's only by a valid event. */
async function checkTombstones(db: { query<T>(sql: string): Promise<T[]> }, msgs: Msg[], problems: string[]) {
  const events = new Map<string, { entity: string; valid: boolean }>();
  for (const m of msgs) {
    const v = parsed(m.value);
    if (v) events.set(String(v.event_id), { entity: String(v.entity_id), valid: m.valid });
  }
  for (const tb of await db.query<Json>("SELECT entity_type, entity_id, event_id FROM entity_tombstones")) {
    const by = events.get(String(tb.event_id));
    const ofValid = VALID[tb.entity_type as Parent]?.includes(String(tb.entity_id));
    if (by?.entity !== String(tb.entity_id) || (ofValid && !by.valid)) {
      problems.push(`tombstone of ${String(tb.entity_type)} ${String(tb.entity_id)} left by ${String(tb.event_id)}`);
    }
  }
}

test(`hostile events mixed with valid ones: one outcome each, no row of another entity changed (seed ${SEED}, ${HOSTILE} hostile)`, async (t) => {
  const msgs = buildCases(SEED, HOSTILE);
  const db = await testDatabase(t);
  const topics = await testTopics(t, PARTITIONS);
  const port = await privatePort();
  const config = testConfig(db, topics, { METRICS_PORT: String(port) });
  const reports: EventReport[] = [];
  const service = await testService(t, config, { onBatch: (r) => reports.push(...r.events) });
  let stopped = false;
  service.done.finally(() => {
    stopped = true;
  });
  const producer = await testProducer(t);
  const places: Places = new Map();
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const done = async () => stopped || (await caughtUp(config.kafkaGroupId, sources, PARTITIONS));
  // The valid orders first: order numbers are first come, first served, and a hostile event may
  // take a free one before its owner (by rule), on another partition.
  const split = msgs.findIndex((m) => !(m.valid && m.topic === "order"));
  await produceCases(producer, topics.prefix, msgs, [0, split], places);
  await waitFor("the valid orders committed", done, 60_000);
  await produceCases(producer, topics.prefix, msgs, [split, msgs.length], places);
  await waitFor("every record committed", done, 120_000);

  const problems: string[] = stopped ? ["the service stopped"] : [];
  const one = outcomes(msgs, reports, places, problems);
  await checkMetrics(port, reports, problems);
  await checkLetters(topics.dlq, msgs, one, places, problems);
  const rows = await checkTables(db, msgs, one, problems);
  checkOthersChildren(msgs, rows, problems);
  await checkTombstones(db, msgs, problems);
  assert.deepEqual(problems, []);
  assert.ok(
    [...one.values()].some((r) => r.outcome.kind === "rejected") && reports.length === msgs.length,
    "hostile records were rejected, and every record reported",
  );
});
