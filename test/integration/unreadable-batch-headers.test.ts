import assert from "node:assert/strict";
import { test } from "node:test";
import zlib from "node:zlib";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { emit } from "../../src/generate/emit.ts";
import { MAX_HEADERS_PER_RECORD } from "../../src/kafka/records.ts";
import type { EventReport } from "../../src/pipeline/batch-processor.ts";
import { MAX_HEADERS_PER_FETCH } from "../../src/read/client-fixes/fetch-budget.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { batchBytes } from "../../src/testing/record-batches.ts";
import {
  caughtUp,
  hexId,
  readTopic,
  testConfig,
  testDatabase,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";
import { produceRaw } from "../support/raw-produce.ts";

// A batch that can't be read is read as one marker record per record, each carrying its reason in
// a header (src/read/client-fixes/batch-framing.ts). The markers' headers were read like any record's,
// within what was left of the fetch's header budget (src/read/client-fixes/record-headers.ts): past it, a
// marker's header was left unread, and the record it stood for, with no key and no value, was
// skipped as a null value instead of dead-lettered.

const userEvent = (n: number, offsetDelta: number) => {
  const id = hexId(n, "d7");
  const e = emit("user.created", id, { ...(fixture("user.created").value.data as object), id } as never);
  return { offsetDelta, key: Buffer.from(id), value: Buffer.from(JSON.stringify(e.value)) };
};

test("an unreadable batch read after the fetch's headers are spent: every record it holds is dead-lettered, none skipped", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const topic = `${topics.prefix}user`;
  const timestamp = BigInt(Date.now());
  // A first batch of valid events whose headers leave room for 5 more in the fetch.
  const full = MAX_HEADERS_PER_FETCH / MAX_HEADERS_PER_RECORD - 1;
  const valid = Array.from({ length: full }, (_, i) => ({ ...userEvent(i, i), emptyHeaders: MAX_HEADERS_PER_RECORD }));
  valid.push({ ...userEvent(full, full), emptyHeaders: MAX_HEADERS_PER_RECORD - 5 });
  await produceRaw(topic, 0, batchBytes(valid, { timestamp }));
  // Then, in the same fetch, 10 records decompressing past 32 MiB: a batch that can't be read.
  const bomb = Array.from({ length: 10 }, (_, i) => ({
    offsetDelta: i,
    key: null,
    value: Buffer.alloc(4 << 20, 0x20),
  }));
  await produceRaw(topic, 0, batchBytes(bomb, { codec: 4, compress: (b) => zlib.zstdCompressSync(b), timestamp }));

  const reports: EventReport[] = [];
  const config = testConfig(db, topics);
  await testService(t, config, { onBatch: (report) => reports.push(...report.events) });
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1), 60_000);

  const outcomes = (from: number) => reports.filter((e) => e.offset >= BigInt(from)).map((e) => e.outcome.kind);
  assert.equal(reports.length, valid.length + bomb.length);
  assert.deepEqual(outcomes(valid.length), Array(bomb.length).fill("rejected"));
  const letters = await readTopic(topics.dlq, bomb.length);
  assert.ok(letters.every((l) => l.headers.get(DLQ_HEADERS.code) === "unreadable_batch"));
});
