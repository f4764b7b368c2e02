import assert from "node:assert/strict";
import { test } from "node:test";
import zlib from "node:zlib";
import { compressionsAlgorithmsByBitmask } from "@platformatic/kafka";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { batchBytes, recordBytes, withWrongContentChecksum } from "../../src/testing/record-batches.ts";
import {
  adminConnection,
  caughtUp,
  hexId,
  readTopic,
  testConfig,
  testDatabase,
  testService,
  testTopics,
  topicSize,
  waitFor,
} from "../support/helpers.ts";
import { produceRaw } from "../support/raw-produce.ts";

// Record batches the broker accepts and the Kafka client used to read otherwise than Kafka does
// (src/read/client-fixes/batch-framing.ts): each ends as dead letters or as Kafka reads it, the events
// after it are applied, and the group's committed offset never passes the end of the log.

const userEvent = (n: number) => {
  const id = hexId(n, "d1");
  const e = emit("user.created", id, { ...(fixture("user.created").value.data as object), id } as never);
  return { id, key: Buffer.from(id), value: Buffer.from(JSON.stringify(e.value)) };
};

test("an LZ4 checksum Kafka ignores, a decompression bomb, a negative key length and a header bomb: read as Kafka reads them, or dead letters, and the partition moves on", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const config = testConfig(db, topics);
  const topic = `${topics.prefix}user`;
  const now = BigInt(Date.now());
  const [inLz4, phantom, after, crowded] = [userEvent(1), userEvent(2), userEvent(3), userEvent(4)];

  // 1. LZ4 saying it ends with a content checksum, a wrong one: Kafka never checks it, and reads the event.
  const lz4 = (compressionsAlgorithmsByBitmask as unknown as Record<number, { compressSync(b: Buffer): Buffer }>)[3];
  const frame = withWrongContentChecksum(lz4?.compressSync(recordBytes({ offsetDelta: 0, ...inLz4 })) as Buffer);
  await produceRaw(
    topic,
    0,
    batchBytes([{ offsetDelta: 0, ...inLz4 }], { codec: 3, compress: () => frame, timestamp: now }),
  );
  // 2. 40 MiB of spaces in a few kilobytes of zstd.
  const bomb = [{ offsetDelta: 0, key: null, value: Buffer.alloc(40 * 1024 * 1024, 0x20) }];
  await produceRaw(topic, 0, batchBytes(bomb, { codec: 4, compress: (b) => zlib.zstdCompressSync(b), timestamp: now }));
  // 3. A key of length -2, which Kafka reads as null: the value holds a whole record, at offset
  // delta 7, which the client used to read out of it and commit, past the end of the log.
  const hidden = recordBytes({ offsetDelta: 7, ...phantom });
  await produceRaw(
    topic,
    0,
    batchBytes(
      [
        { offsetDelta: 0, keyLength: -2, value: hidden },
        { offsetDelta: 1, value: null },
      ],
      { timestamp: now },
    ),
  );
  // 4. 4,000,000 empty headers in a few KB of gzip: the client made every one (the heap ran out).
  // They are left unread, and the event is applied.
  await produceRaw(
    topic,
    0,
    batchBytes([{ offsetDelta: 0, ...crowded, emptyHeaders: 4_000_000 }], {
      codec: 1,
      compress: (b) => zlib.gzipSync(b),
      timestamp: now,
    }),
  );
  // 5. An event as any producer sends it.
  await produceRaw(topic, 0, batchBytes([{ offsetDelta: 0, ...after }], { timestamp: now }));

  await testService(t, config);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor(
    "every offset committed, and none past the end",
    () => caughtUp(config.kafkaGroupId, sources, 1),
    60_000,
  );

  const conn = await adminConnection(db.name);
  t.after(() => conn.end());
  const [rows] = await conn.query("SELECT user_id FROM users ORDER BY user_id");
  assert.deepEqual(
    (rows as { user_id: string }[]).map((r) => r.user_id),
    [inLz4.id, after.id, crowded.id].sort(),
  );
  const letters = await readTopic(topics.dlq, 2);
  assert.deepEqual(
    letters.map((l) => [l.headers.get(DLQ_HEADERS.code), l.headers.get(DLQ_HEADERS.offset)]),
    [
      ["unreadable_batch", "1"],
      ["not_json", "2"],
    ],
  );
  assert.equal(
    letters[0]?.headers.get(DLQ_HEADERS.reason),
    "the record batch at offsets 1–1 can't be read: zstd batch decompresses to more than 33554432 bytes",
  );
  // The marker's header, whose name makes any record a marker, is the service's own: not sent on.
  assert.deepEqual(
    letters[0]?.entries.filter(([name]) => !name.startsWith("dlq.")),
    [],
  );
  // Kafka's reading: the key null, the value the hidden record's bytes, kept in the letter.
  assert.deepEqual(letters[1]?.value, hidden);
});

test("zstd data of two frames or behind a skippable frame, snappy xerial streams one after another, which Kafka reads whole: every event applied, the partition moves on", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const config = testConfig(db, topics);
  const topic = `${topics.prefix}user`;
  const timestamp = BigInt(Date.now());
  const events = [10, 11, 12, 13, 14, 15, 20, 21, 22].map(userEvent);
  const records = (from: number, to: number) =>
    events.slice(from, to).map((e, i) => ({ offsetDelta: i, key: e.key, value: e.value }));
  const frame = (rs: ReturnType<typeof records>) => zlib.zstdCompressSync(Buffer.concat(rs.map(recordBytes)));
  // Node's decoder read the first frame only: the client then read past it, and every fetch of
  // the partition failed, said as Kafka being down.
  const split = records(0, 4);
  const two = Buffer.concat([frame(split.slice(0, 2)), frame(split.slice(2))]);
  await produceRaw(topic, 0, batchBytes(split, { codec: 4, compress: () => two, timestamp }));
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 0, 0, 0, 0]);
  const behind = records(4, 5);
  await produceRaw(
    topic,
    0,
    batchBytes(behind, { codec: 4, compress: (b) => Buffer.concat([skippable, zlib.zstdCompressSync(b)]), timestamp }),
  );
  await produceRaw(topic, 0, batchBytes(records(5, 6), { timestamp }));
  // The client's snappy decoder read the second xerial stream's header as a chunk's length and
  // refused the batch: its events, which Kafka delivers, became dead letters without their values.
  const snappy = (compressionsAlgorithmsByBitmask as unknown as Record<number, { compressSync(b: Buffer): Buffer }>)[2];
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  const xerial = (rs: ReturnType<typeof records>) => {
    const chunk = snappy?.compressSync(Buffer.concat(rs.map(recordBytes))) as Buffer;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(chunk.length);
    return Buffer.concat([header, length, chunk]);
  };
  const streamed = records(6, 9);
  const data = Buffer.concat([xerial(streamed.slice(0, 1)), xerial(streamed.slice(1))]);
  await produceRaw(topic, 0, batchBytes(streamed, { codec: 2, compress: () => data, timestamp }));

  await testService(t, config);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1), 60_000);
  const conn = await adminConnection(db.name);
  t.after(() => conn.end());
  const [rows] = await conn.query("SELECT user_id FROM users ORDER BY user_id");
  assert.deepEqual(
    (rows as { user_id: string }[]).map((r) => r.user_id),
    events.map((e) => e.id).sort(),
  );
  assert.equal(await topicSize(topics.dlq), 0, "nothing dead-lettered");
});
