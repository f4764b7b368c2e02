import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { FrameReader, packChunk, unpackChunk } from "./chunks.ts";
import { parseMetrics, serviceMetrics } from "./metrics.ts";
import { rateByTenth, ratePerSecond, type Sample, throughputSvg, tickStep } from "./timeline.ts";

// What the benchmark reports besides events/s: the rate per tenth of the drain and the chart from
// once-a-second samples, the counters it sums from /metrics, the chunks the model's process reads.

test("events/s per tenth: interpolated between samples, the first tenth from the service's start", () => {
  // 2 s of start-up, then 1,000 events/s for 10 s.
  const samples: Sample[] = Array.from({ length: 12 }, (_, i) => ({ t: i + 1, events: Math.max(0, (i - 1) * 1000) }));
  const tenths = rateByTenth(samples, 10_000);
  assert.equal(tenths.length, 10);
  assert.equal(tenths[0], 333); // 1,000 events in 3 s: 2 of them starting up
  assert.deepEqual(tenths.slice(1), Array(9).fill(1000));
  assert.deepEqual(rateByTenth(samples, 20_000).slice(5), [null, null, null, null, null]);
});

test("events/s per second, and round ticks", () => {
  assert.deepEqual(
    ratePerSecond([
      { t: 1, events: 0 },
      { t: 2, events: 500 },
      { t: 2.5, events: 1000 },
    ]),
    [
      { t: 1, rate: 0 },
      { t: 2, rate: 500 },
      { t: 2.5, rate: 1000 },
    ],
  );
  assert.equal(tickStep(23_000, 6), 5000);
  assert.equal(tickStep(9, 8), 2);
  assert.equal(tickStep(0), 1);
});

test("the chart is one SVG with a point per sample and labelled axes", () => {
  const samples = Array.from({ length: 50 }, (_, i) => ({ t: i + 1, events: (i + 1) * 20_000 }));
  const svg = throughputSvg(samples, 20_000, "Draining <1,000,000> events", "npm run bench");
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.match(svg, /Draining &lt;1,000,000&gt; events/);
  assert.match(svg, /seconds since the service started/);
  assert.match(svg, /mean 20,000 events\/s/);
  const points = /<polyline points="([^"]+)"/.exec(svg)?.[1]?.split(" ") ?? [];
  assert.equal(points.length, 51);
  for (const p of points) assert.match(p, /^\d+(\.\d)?,\d+(\.\d)?$/);
});

test("the service's counters, summed over their labels", () => {
  const m = parseMetrics(
    [
      "# HELP analytics_events_total Events consumed",
      'analytics_events_total{event_type="user.created",outcome="applied"} 10',
      'analytics_events_total{event_type="other",outcome="rejected"} 2',
      'analytics_rows_total{table="users",operation="upsert"} 7',
      "analytics_deadlocks_total 3",
    ].join("\n"),
  );
  assert.deepEqual(m, { events: 12, rows: 7, rowsDetail: "users upsert: 7", deadlocks: 3 });
  assert.equal(parseMetrics("analytics_events_total 1").deadlocks, null);
});

test("chunks reach the model's process whole, with what the model reads, in whatever pieces", () => {
  const value = Buffer.from('{"a":"שלום"}');
  const bytes = Buffer.concat([
    packChunk([
      { topic: "user", key: "k", value },
      { topic: "user", key: "k", value: Buffer.from("{"), poison: "not_json" },
      { topic: "user", key: "k", value: null },
      { topic: "user", key: "k", value: Buffer.from("{}"), skip: "unknown_type" },
    ]),
    packChunk([{ topic: "post", key: "k", value: Buffer.from("{}") }]),
  ]);
  const reader = new FrameReader();
  const chunks: ReturnType<typeof unpackChunk>[] = [];
  for (let at = 0; at < bytes.length; at += 3) {
    reader.push(bytes.subarray(at, at + 3), (frame) => chunks.push(unpackChunk(frame)));
  }
  assert.ok(reader.idle);
  assert.deepEqual(
    chunks.map((c) => c.length),
    [4, 1],
  );
  const [out] = chunks as [ReturnType<typeof unpackChunk>];
  assert.deepEqual(out[0]?.value, value);
  assert.ok(out[1]?.poison !== undefined);
  assert.equal(out[2]?.value, null);
  assert.equal(out[3]?.value, null);
  assert.deepEqual(chunks[1]?.[0]?.value, Buffer.from("{}"));
});

test("the service's /metrics are read over HTTP, and a service that does not answer gives null", async () => {
  const server = createServer((_, res) => res.end('analytics_events_total{outcome="applied"} 5\n'));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  assert.equal((await serviceMetrics(port))?.events, 5);
  await new Promise((r) => server.close(r));
  assert.equal(await serviceMetrics(port), null);
});
