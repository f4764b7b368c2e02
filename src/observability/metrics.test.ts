import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pool } from "mysql2/promise";
import { BadEventError } from "../errors.ts";
import type { BatchReport, EventReport } from "../pipeline/pipeline.ts";
import { capturingLogger, waitFor } from "../testing/support.ts";
import { LABELS_PER_FIELD, Metrics } from "./metrics.ts";

// docs/events.md#bad-input: skips are counted by reason, unknown enum values counted per field and value and
// warned about once per value.

const event = (over: Partial<EventReport>): EventReport => ({
  topic: "user",
  partition: 0,
  offset: 0n,
  eventType: "user.updated",
  eventTs: "2026-01-01 00:00:00.000000",
  outcome: { kind: "applied" },
  unknownEnums: [],
  ...over,
});
const report = (events: EventReport[]): BatchReport => ({
  events,
  rows: new Map([["users:upsert", 1]]),
  seconds: 0.01,
});

test("unknown enum values of events that were not applied are neither counted nor announced", async () => {
  const { log, lines } = capturingLogger("info");
  const metrics = new Metrics(log, {} as Pool);
  const category = (value: string) => [{ field: "products.category", value }];
  const bad = new BadEventError("bad_field", "data.created_at is not an ISO-8601 datetime DATETIME can hold");
  metrics.observeBatch(
    report([
      event({ eventType: "product.created", outcome: { kind: "rejected", error: bad }, unknownEnums: category("r") }),
      event({
        eventType: "product.updated",
        outcome: { kind: "skipped", reason: "stale" },
        unknownEnums: category("s"),
      }),
      event({ eventType: "product.created", unknownEnums: category("applied") }),
    ]),
  );
  const text = await metrics.registry.metrics();
  const series = text.split("\n").filter((l) => l.startsWith("analytics_unknown_enum_values_total{"));
  assert.deepEqual(series, ['analytics_unknown_enum_values_total{field="products.category",value="applied"} 1']);
  assert.deepEqual(
    lines.filter((l) => String(l.msg).startsWith("new products.category")).map((l) => l.msg),
    ['new products.category value "applied" applied as is (not in docs/events.md)'],
  );
});

test("outcomes are counted by event type and reason; unknown enum values are warned about once", async () => {
  const { log, lines } = capturingLogger("info");
  const metrics = new Metrics(log, {} as Pool);
  const story = [{ field: "post_type", value: "story" }];
  const batch = [
    event({ eventType: "user.merged", outcome: { kind: "skipped", reason: "unknown_type" } }),
    event({ eventType: undefined, eventTs: undefined, outcome: { kind: "skipped", reason: "null_value" } }),
    event({ eventType: "user.deleted", outcome: { kind: "skipped", reason: "no_row" } }),
    event({ eventType: "user.updated", outcome: { kind: "skipped", reason: "stale" } }),
    event({ eventType: "user.updated", outcome: { kind: "skipped", reason: "stale" } }),
    event({
      eventType: undefined,
      outcome: { kind: "rejected", error: new BadEventError("not_json", "value is not valid JSON") },
    }),
    event({ eventType: "post.created", unknownEnums: story }),
  ];
  metrics.observeBatch(report(batch));
  metrics.observeBatch(report([event({ eventType: "post.created", unknownEnums: story })]));
  const text = await metrics.registry.metrics();
  for (const series of [
    'analytics_events_total{event_type="user.merged",outcome="skipped_unknown_type"} 1',
    'analytics_events_total{event_type="unparsed",outcome="skipped_null_value"} 1',
    'analytics_events_total{event_type="user.deleted",outcome="skipped_no_row"} 1',
    'analytics_events_total{event_type="user.updated",outcome="skipped_stale"} 2',
    'analytics_events_total{event_type="unparsed",outcome="rejected"} 1',
    'analytics_events_total{event_type="post.created",outcome="applied"} 2',
    'analytics_dead_letters_total{reason="not_json"} 1',
    'analytics_unknown_enum_values_total{field="post_type",value="story"} 2',
    'analytics_rows_total{table="users",operation="upsert"} 2',
  ]) {
    assert.ok(text.includes(series), `missing: ${series}`);
  }
  const warnings = lines.filter((l) => String(l.msg).includes('new post_type value "story"'));
  assert.equal(warnings.length, 1, "one warning per new value, however often it is seen");
});

test("values from the data make a bounded number of series and warnings, whatever their count", async () => {
  const { log, lines } = capturingLogger("info");
  const metrics = new Metrics(log, {} as Pool);
  const events: EventReport[] = [];
  for (let i = 0; i < 20_000; i++) {
    events.push(event({ eventType: "product.created", unknownEnums: [{ field: "category", value: `c${i}` }] }));
    events.push(event({ eventType: `user.v${i}`, outcome: { kind: "skipped", reason: "unknown_type" } }));
  }
  metrics.observeBatch(report(events));
  const text = await metrics.registry.metrics();
  const series = (name: string) => text.split("\n").filter((l) => l.startsWith(`${name}{`));
  assert.equal(series("analytics_unknown_enum_values_total").length, LABELS_PER_FIELD + 1);
  assert.ok(
    text.includes(`analytics_unknown_enum_values_total{field="category",value="other"} ${20_000 - LABELS_PER_FIELD}`),
  );
  const skipped = series("analytics_events_total").filter((l) => l.includes("skipped_unknown_type"));
  assert.equal(skipped.length, LABELS_PER_FIELD + 1);
  assert.ok(text.includes(`{event_type="other",outcome="skipped_unknown_type"} ${20_000 - LABELS_PER_FIELD}`));
  assert.equal(lines.length, LABELS_PER_FIELD + 1, "one per named value, one for the rest");
});

test("a flood of new values does not hide the first key mismatch of a topic", async () => {
  const { log, lines } = capturingLogger("info");
  const metrics = new Metrics(log, {} as Pool);
  const events = Array.from({ length: 50 }, (_, i) =>
    event({ eventType: "product.created", unknownEnums: [{ field: "category", value: `c${i}` }] }),
  );
  metrics.observeBatch(report([...events, event({ keyMismatch: true })]));
  assert.equal(lines.filter((l) => String(l.msg).includes("Kafka key other than its entity_id")).length, 1);
});

test("a key other than entity_id is counted per topic and warned about once per topic", async () => {
  const { log, lines } = capturingLogger("info");
  const metrics = new Metrics(log, {} as Pool);
  metrics.observeBatch(
    report([event({ keyMismatch: true }), event({ keyMismatch: true }), event({ topic: "order", keyMismatch: true })]),
  );
  const text = await metrics.registry.metrics();
  assert.ok(text.includes('analytics_key_mismatches_total{topic="user"} 2'));
  assert.ok(text.includes('analytics_key_mismatches_total{topic="order"} 1'));
  assert.equal(lines.filter((l) => String(l.msg).includes("Kafka key other than its entity_id")).length, 2);
});

test("an event stamped in the future does not hold freshness at 0", async () => {
  const metrics = new Metrics(capturingLogger("info").log, {} as Pool);
  metrics.observeBatch(report([event({ eventTs: "9999-12-31 23:59:59.999999" })]));
  const applied = Date.now();
  const freshness = async () => {
    const text = await metrics.registry.metrics();
    return Number(/^analytics_freshness_seconds (\S+)$/m.exec(text)?.[1]);
  };
  // Freshness counts from when the event was applied, so it grows while nothing newer comes.
  await waitFor("freshness above 0", async () => (await freshness()) > 0 || undefined, 5000);
  assert.ok((await freshness()) <= (Date.now() - applied) / 1000 + 0.01);
});

test("lag is reported for the partitions this instance holds; one it gave up drops out", async () => {
  const metrics = new Metrics(capturingLogger("info").log, {} as Pool);
  metrics.observeLag(new Map([["user", [5n, 7n]]]));
  metrics.observeLag(new Map([["user", [6n, -1n]]]));
  const text = await metrics.registry.metrics();
  assert.ok(text.includes('analytics_consumer_lag{topic="user",partition="0"} 6'));
  assert.ok(!text.includes('partition="1"'), "the partition given up in a rebalance is gone");
});

test("lag: a partition whose leader did not answer keeps its last figure; one given up meanwhile still drops out", async () => {
  const metrics = new Metrics(capturingLogger("info").log, {} as Pool);
  metrics.observeLag(new Map([["user", [5n, 7n, 2n]]]));
  metrics.observeLag(new Map([["user", [6n, undefined, -1n]]]));
  const text = await metrics.registry.metrics();
  assert.ok(text.includes('analytics_consumer_lag{topic="user",partition="0"} 6'));
  assert.ok(text.includes('analytics_consumer_lag{topic="user",partition="1"} 7'), text);
  assert.ok(!text.includes('partition="2"'), "a partition no longer this instance's is gone, answered or not");
});

test("lag: a topic no longer asked about (deleted) drops out, the others stay", async () => {
  const metrics = new Metrics(capturingLogger("info").log, {} as Pool);
  metrics.observeLag(
    new Map([
      ["user", [5n]],
      ["post", [1n, 2n, 3n]],
    ]),
  );
  metrics.observeLag(new Map([["user", [4n]]]));
  const text = await metrics.registry.metrics();
  assert.ok(text.includes('analytics_consumer_lag{topic="user",partition="0"} 4'));
  assert.ok(!text.includes('topic="post"'), text);
});

test("lag: a topic created again with fewer partitions between two reports keeps no series of the old ones", async () => {
  const metrics = new Metrics(capturingLogger("info").log, {} as Pool);
  const lagSeries = async () =>
    (await metrics.registry.metrics()).split("\n").filter((l) => l.startsWith("analytics_consumer_lag{"));
  metrics.observeLag(new Map([["user", Array.from({ length: 50 }, () => 3n)]]), new Map([["user", "id-1"]]));
  // A stale answer (same id, fewer partitions) keeps the others' figures.
  metrics.observeLag(new Map([["user", [1n]]]), new Map([["user", "id-1"]]));
  assert.equal((await lagSeries()).length, 50);
  metrics.observeLag(new Map([["user", [0n, 1n]]]), new Map([["user", "id-2"]]));
  assert.deepEqual(await lagSeries(), [
    'analytics_consumer_lag{topic="user",partition="0"} 0',
    'analytics_consumer_lag{topic="user",partition="1"} 1',
  ]);
});

test("values from the data reach /metrics and the log as one line that reads as written: no terminal escapes, no bidi overrides", async () => {
  const { log, lines } = capturingLogger("info");
  const metrics = new Metrics(log, {} as Pool);
  // ESC [2J clears a terminal that shows `curl /metrics`; OSC 8 makes a hyperlink; U+009B is the
  // 8-bit CSI; U+202E shows what follows reversed.
  const hostile = "x\u001b[2J\u001b]8;;http://evil\u0007y\u001b]8;;\u0007\u009b31m\u202Egnp.exe";
  metrics.observeBatch(
    report([
      event({ eventType: hostile, outcome: { kind: "skipped", reason: "unknown_type" } }),
      event({ eventType: "product.created", unknownEnums: [{ field: "products.category", value: hostile }] }),
    ]),
  );
  const unsafe = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
  const text = await metrics.registry.metrics();
  const series = text.split("\n").filter((l) => /^analytics_(events|unknown_enum_values)_total\{/.test(l));
  assert.equal(series.length, 3);
  for (const line of series) assert.doesNotMatch(line, unsafe, line);
  const warned = lines.filter((l) => String(l.msg).startsWith("new products.category"));
  assert.equal(warned.length, 1);
  assert.doesNotMatch(String(warned[0]?.msg), unsafe);
  assert.doesNotMatch(String(warned[0]?.value), unsafe);
});

test("a value from the data with a character that shows as nothing does not read as a known one", async () => {
  const { log, lines } = capturingLogger("info");
  const metrics = new Metrics(log, {} as Pool);
  metrics.observeBatch(
    report([
      // Would read as supplier.deleted events skipped, and as a category that is in the list.
      event({ eventType: "supplier.deleted\u200b", outcome: { kind: "skipped", reason: "unknown_type" } }),
      // A left-to-right mark shows as nothing too.
      event({ eventType: "supplier.deleted\u200e", outcome: { kind: "skipped", reason: "unknown_type" } }),
      event({
        eventType: "product.created",
        unknownEnums: [{ field: "products.category", value: "electronics\u2060" }],
      }),
    ]),
  );
  const text = await metrics.registry.metrics();
  assert.match(
    text,
    /^analytics_events_total\{event_type="supplier\.deleted\\\\u200b",outcome="skipped_unknown_type"\} 1$/m,
  );
  assert.match(
    text,
    /^analytics_events_total\{event_type="supplier\.deleted\\\\u200e",outcome="skipped_unknown_type"\} 1$/m,
  );
  assert.match(
    text,
    /^analytics_unknown_enum_values_total\{field="products\.category",value="electronics\\\\u2060"\} 1$/m,
  );
  const warned = lines.find((l) => String(l.msg).startsWith("new products.category"));
  assert.equal(warned?.value, "electronics\\u2060");
  assert.equal(warned?.msg, 'new products.category value "electronics\\u2060" applied as is (not in docs/events.md)');
});

test("every dead-letter reason is exported at 0 from the start, so a reason's first burst is seen by increase()", async () => {
  const metrics = new Metrics(capturingLogger("info").log, {} as Pool);
  const text = await metrics.registry.metrics();
  for (const reason of ["not_json", "bad_field", "rejected_by_database", "unexpected_error"]) {
    assert.match(text, new RegExp(`^analytics_dead_letters_total\\{reason="${reason}"\\} 0$`, "m"), reason);
  }
});
