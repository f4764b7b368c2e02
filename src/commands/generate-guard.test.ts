import assert from "node:assert/strict";
import { test } from "node:test";
import { IS_CONTROL } from "@platformatic/kafka";
import {
  type FetchedBatch,
  foreignTopicLine,
  GENERATED_HEADER,
  lastRecord,
  MAX_FETCHES,
  SearchExhausted,
} from "./generate-guard.ts";

// The search for a partition's last record, against a log as the broker serves it: a fetch from an
// offset returns the batches from the one holding it, as many as fit.

const GENERATED: [Buffer, Buffer][] = [[Buffer.from(GENERATED_HEADER), Buffer.from("true")]];

/** A batch at `first` of records at the given offset deltas (compaction leaves gaps), the last delta `lastDelta`. */
const batch = (first: number, deltas: number[], generated: boolean, lastDelta = deltas.at(-1) ?? 0): FetchedBatch => ({
  firstOffset: BigInt(first),
  lastOffsetDelta: lastDelta,
  attributes: 0,
  records: deltas.map((offsetDelta) => ({ offsetDelta, headers: generated ? GENERATED : [] })),
});
const marker = (at: number): FetchedBatch => ({ ...batch(at, [0], false), attributes: IS_CONTROL });

/** A log of `batches`; each fetch returns at most `perFetch` of them, and is counted in `fetches`. */
function served(batches: FetchedBatch[], perFetch = 100) {
  const fetches: bigint[] = [];
  const fetchAt = async (offset: bigint) => {
    fetches.push(offset);
    return batches.filter((b) => b.firstOffset + BigInt(b.lastOffsetDelta) >= offset).slice(0, perFetch);
  };
  return { fetchAt, fetches };
}

test("one fetch at end - 1 finds the last record, and whether generate wrote it", async () => {
  for (const generated of [true, false]) {
    const log = served([batch(0, [0, 1, 2], !generated), batch(3, [0, 1, 2], generated)]);
    assert.deepEqual(await lastRecord(log.fetchAt, 0n, 6n), { offset: 5n, generated });
    assert.deepEqual(log.fetches, [5n]);
  }
});

test("only the header's value true marks a record generate wrote: false, or another value, is another producer's", async () => {
  for (const value of ["false", "", "TRUE", "true "]) {
    const record = { offsetDelta: 0, headers: [[Buffer.from(GENERATED_HEADER), Buffer.from(value)]] as const };
    const log = served([{ ...batch(0, [0], false), records: [record] }]);
    assert.deepEqual(await lastRecord(log.fetchAt, 0n, 1n), { offset: 0n, generated: false }, value);
  }
});

test("an empty partition, or one whose records were all deleted, has none, and costs no fetch when empty", async () => {
  const empty = served([]);
  assert.equal(await lastRecord(empty.fetchAt, 7n, 7n), undefined);
  assert.deepEqual(empty.fetches, []);
  // Compacted away down to the log start: only an emptied batch is left.
  const gone = served([batch(0, [], false, 9)]);
  assert.equal(await lastRecord(gone.fetchAt, 0n, 10n), undefined);
  // Records below the log start (deleted within their batch) don't count.
  const deleted = served([batch(0, [0, 1, 2, 3], false)]);
  assert.equal(await lastRecord(deleted.fetchAt, 3n, 3n), undefined);
  assert.deepEqual(await lastRecord(deleted.fetchAt, 2n, 4n), { offset: 3n, generated: false });
});

test("transaction markers and compacted gaps at the end: it looks back to the last record", async () => {
  // A foreign transaction: its record at 40, then its marker; then 300 offsets of emptied batches.
  const batches = [batch(0, [0], true), batch(40, [0], false), marker(41), batch(42, [], false, 299)];
  const log = served(batches);
  assert.deepEqual(await lastRecord(log.fetchAt, 0n, 342n), { offset: 40n, generated: false });
  assert.deepEqual(log.fetches, [341n, 325n, 69n, 0n], "windows of 1, 16, 256 offsets, then to the log start");
});

test("a response cut short by the byte limit is read on, so a record further in the window is not missed", async () => {
  // Markers from 1 to 200, the last record at 201, a marker after it; one batch a fetch.
  const markers = Array.from({ length: 200 }, (_, i) => marker(i + 1));
  const log = served([batch(0, [0], true), ...markers, batch(201, [0], false), marker(202)], 50);
  assert.deepEqual(await lastRecord(log.fetchAt, 0n, 203n), { offset: 201n, generated: false });
});

test("past MAX_FETCHES fetches it gives up rather than call the partition empty", async () => {
  const markers = Array.from({ length: 5000 }, (_, i) => marker(i + 1));
  const log = served([batch(0, [0], false), ...markers], 1);
  await assert.rejects(lastRecord(log.fetchAt, 0n, 5001n), SearchExhausted);
  assert.equal(log.fetches.length, MAX_FETCHES);
});

test("a response cut short within a window is read on even when it held a record: a later one is the last", async () => {
  // Generated records at 0 to 5, then another producer's at 6 to 10 and its marker at 11; a fetch
  // holds 3 batches (large records against the byte limit), so the one from 0 ends at 2.
  const generated = Array.from({ length: 6 }, (_, i) => batch(i, [0], true));
  const foreign = Array.from({ length: 5 }, (_, i) => batch(6 + i, [0], false));
  const log = served([...generated, ...foreign, marker(11)], 3);
  assert.deepEqual(await lastRecord(log.fetchAt, 0n, 12n), { offset: 10n, generated: false });
  // And the other way: the last record generated, others' records before it in the window.
  const mixed = served(
    [...foreign.map((b) => ({ ...b, firstOffset: b.firstOffset - 6n })), batch(5, [0], true), marker(6)],
    2,
  );
  assert.deepEqual(await lastRecord(mixed.fetchAt, 0n, 7n), { offset: 5n, generated: true });
});

test("the refusal names the record found, or says that none could be found near the end", () => {
  const config = { kafkaTopicPrefix: "prod.", kafkaBrokers: ["k:9092"] };
  assert.match(
    foreignTopicLine(config, { topic: "prod.user", partition: 2, offset: 41n }),
    /^generate: prod\.user on k:9092 holds records generate did not write \(partition 2, offset 41, without the analytics\.generated header\).* set KAFKA_TOPIC_PREFIX \(now prod\.\) to a prefix of test topics, or pass --into-nonempty-topics/,
  );
  const line = foreignTopicLine(config, { topic: "prod.user", partition: 2, offset: 41n, undetermined: true });
  assert.match(
    line,
    /may hold records generate did not write \(partition 2: no record among 64 reads back from offset 41/,
  );
  assert.doesNotMatch(line, /without the analytics\.generated header/);
});
