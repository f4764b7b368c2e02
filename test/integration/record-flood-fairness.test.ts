import assert from "node:assert/strict";
import { test } from "node:test";
import zlib from "node:zlib";
import { emit } from "../../src/generate/emit.ts";
import { MAX_MARKED_RECORDS } from "../../src/read/client-fixes/batch-markers.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { batchBytes } from "../../src/testing/record-batches.ts";
import { caughtUp, hexId, testConfig, testDatabase, testService, testTopics, waitFor } from "../support/helpers.ts";
import { produceRaw } from "../support/raw-produce.ts";

// One partition flooded with zstd batches of 100,000 tiny records each (no key, no value: 80 KB on
// the wire), another with one event behind it. A partition's first batch may take a response to
// twice MAX_RECORDS_PER_FETCH, but one such batch is four times it: the flooded partition's first
// batch spent the whole response at every fetch, and the other partition, listed after it, was
// not read until the whole flood was.

const BATCHES = 4;

/** A zstd batch of MAX_MARKED_RECORDS records without key or value. */
function floodBatch(timestamp: bigint): Buffer {
  const tiny = Array.from({ length: MAX_MARKED_RECORDS }, (_, i) => ({ offsetDelta: i, value: null }));
  const level = { params: { [zlib.constants.ZSTD_c_compressionLevel]: 19 } };
  return batchBytes(tiny, { codec: 4, compress: (b) => zlib.zstdCompressSync(b, level), timestamp });
}

test("a partition flooded with batches of 100,000 tiny records does not hold back another partition's event", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const timestamp = BigInt(Date.now());
  const batch = floodBatch(timestamp);
  for (let i = 0; i < BATCHES; i++) await produceRaw(`${topics.prefix}user`, 0, batch);
  const id = hexId(1, "f5");
  const e = emit("supplier.created", id, { ...(fixture("supplier.created").value.data as object), id } as never);
  const supplier = { offsetDelta: 0, key: Buffer.from(id), value: Buffer.from(JSON.stringify(e.value)) };
  await produceRaw(`${topics.prefix}supplier`, 0, batchBytes([supplier], { timestamp }));

  // How many flood records were done with before the supplier's event, counted by report.
  let flood = 0;
  let before: number | undefined;
  const config = testConfig(db, topics);
  await testService(t, config, {
    onBatch: (report) => {
      for (const event of report.events) if (event.topic.endsWith("user")) flood++;
      if (before === undefined && report.events.some((event) => event.topic.endsWith("supplier"))) before = flood;
    },
  });
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1), 180_000);
  assert.equal(flood, BATCHES * MAX_MARKED_RECORDS);
  assert.ok(before !== undefined, "the supplier event was reported");
  assert.ok(
    before <= 2 * MAX_MARKED_RECORDS,
    `${before} flood records were done with before the other partition's event`,
  );
});

// Two partitions flooded alike: both return records at every fetch, so the broker never changes
// their order, and the first one's batches spent every response's budget while the second's first
// batch waited behind all of them (400,000 records). src/read/client-fixes/fetch-rotation.ts makes the first sit out a fetch.
test("two partitions flooded with batches of 100,000 tiny records take turns", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const batch = floodBatch(BigInt(Date.now()));
  for (const topic of ["user", "post"]) {
    for (let i = 0; i < BATCHES; i++) await produceRaw(`${topics.prefix}${topic}`, 0, batch);
  }
  const done = { user: 0, post: 0 };
  let first: { user: number; post: number } | undefined;
  const config = testConfig(db, topics);
  await testService(t, config, {
    onBatch: (report) => {
      for (const event of report.events) done[event.topic.endsWith("user") ? "user" : "post"]++;
      if (first === undefined && done.user > 0 && done.post > 0) first = { ...done };
    },
  });
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1), 180_000);
  assert.deepEqual(done, { user: BATCHES * MAX_MARKED_RECORDS, post: BATCHES * MAX_MARKED_RECORDS });
  assert.ok(first !== undefined);
  const ahead = Math.max(first.user, first.post);
  assert.ok(ahead <= 2 * MAX_MARKED_RECORDS, `${ahead} records of one flood were done with before the other's first`);
});
