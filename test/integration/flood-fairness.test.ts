import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import zlib from "node:zlib";
import { type EventType, emit } from "../../src/generate/emit.ts";
import type { EventReport } from "../../src/pipeline/batch-processor.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { batchBytes } from "../../src/testing/record-batches.ts";
import {
  caughtUp,
  hexId,
  type TestDatabase,
  type TestTopics,
  testConfig,
  testDatabase,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";
import { produceRaw } from "../support/raw-produce.ts";

// One partition flooded with compressed events of 900 KB (a few KB each on the wire, so that one
// fetch response holds more of them than a response is parsed to), another with a single event
// behind it. The broker lists a response's partitions in the same order at every fetch: when the
// flood spent each response's budget, and the reader paused in the middle of the response, the
// other partition waited until the whole flood was applied.

const FLOOD = 150;
/** At most this many flood events may be applied before the other partition's one. */
const FAIR = 30;

const record = (type: EventType, id: string, data: object) => {
  const e = emit(type, id, { ...(fixture(type).value.data as object), ...data, id } as never);
  return { offsetDelta: 0, key: Buffer.from(id), value: Buffer.from(JSON.stringify(e.value)) };
};

/**
 * Starts the service on the backlog waiting in Kafka (the flood on user, one event on supplier
 * after it) and returns how many flood events were applied before the supplier's, every event
 * having been applied.
 */
async function floodEventsBefore(t: TestContext, db: TestDatabase, topics: TestTopics, flood: number) {
  const reports: EventReport[][] = [];
  const config = testConfig(db, topics);
  await testService(t, config, { onBatch: (report) => reports.push(report.events) });
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1), 120_000);
  const applied = reports.flat();
  assert.equal(applied.length, flood + 1);
  assert.ok(
    applied.every((e) => e.outcome.kind === "applied"),
    "every event applied",
  );
  // Counted up to the end of the report that holds it: reports of batches written side by side.
  const through = reports.findIndex((events) => events.some((e) => e.topic.endsWith("supplier")));
  return reports.slice(0, through + 1).flat().length - 1;
}

test("a partition flooded with compressed 900 KB events does not hold back another partition's event", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const timestamp = BigInt(Date.now());
  const padding = "x".repeat(900 * 1024);
  for (let i = 0; i < FLOOD; i++) {
    const flood = record("user.created", hexId(i, "f1"), { padding });
    const zstd = { codec: 4, compress: (b: Buffer) => zlib.zstdCompressSync(b), timestamp };
    await produceRaw(`${topics.prefix}user`, 0, batchBytes([flood], zstd));
  }
  const supplier = record("supplier.created", hexId(1, "f2"), {});
  await produceRaw(`${topics.prefix}supplier`, 0, batchBytes([supplier], { timestamp }));

  // The whole backlog waits in Kafka before the service starts.
  const before = await floodEventsBefore(t, db, topics, FLOOD);
  assert.ok(before <= FAIR, `${before} flood events were applied before the other partition's event`);
});

// The same with headers: 3,000 records of 1,000 empty headers each, 100 to a zstd batch (a few KB
// on the wire, so that one response holds many). A partition's first batch made headers up to
// twice the fetch's budget: the flooded partition's spent it all at every fetch, and the other
// partition's event, listed after it, waited behind the whole flood.
test("a partition flooded with records of 1,000 headers does not hold back another partition's event", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const timestamp = BigInt(Date.now());
  const flood = 3000;
  const zstd = { codec: 4, compress: (b: Buffer) => zlib.zstdCompressSync(b), timestamp };
  for (let i = 0; i < flood; i += 100) {
    const records = Array.from({ length: 100 }, (_, j) => ({
      ...record("user.created", hexId(i + j, "f3"), {}),
      offsetDelta: j,
      emptyHeaders: 1000,
    }));
    await produceRaw(`${topics.prefix}user`, 0, batchBytes(records, zstd));
  }
  const supplier = record("supplier.created", hexId(1, "f4"), {});
  await produceRaw(`${topics.prefix}supplier`, 0, batchBytes([supplier], { timestamp }));

  const before = await floodEventsBefore(t, db, topics, flood);
  assert.ok(before <= 200, `${before} flood events were applied before the other partition's event`);
});
