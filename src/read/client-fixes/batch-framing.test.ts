import assert from "node:assert/strict";
import { test } from "node:test";
import zlib from "node:zlib";
import { compressionsAlgorithmsByBitmask, Reader, readRecordsBatch, readRecordsBatches } from "@platformatic/kafka";
import { decode } from "../../decode/decode.ts";
import { MAX_HEADERS_PER_RECORD } from "../../kafka/records.ts";
import { batchBytes, recordBytes, withWrongContentChecksum } from "../../testing/record-batches.ts";
import { installBatchFraming, MAX_DECOMPRESSED_BATCH_BYTES } from "./batch-framing.ts";
import { checkRecordOffsets, MAX_MARKED_RECORDS, unreadableBatchReason } from "./batch-markers.ts";
import { readLz4Frame, SNAPPY_CHUNK_BYTES, snappyBound } from "./decompression.ts";
import { counted, MAX_DECOMPRESSED_PER_FETCH, MAX_HEADERS_PER_FETCH, MAX_RECORDS_PER_FETCH } from "./fetch-budget.ts";
import { unreadHeaderCount } from "./record-headers.ts";

installBatchFraming();

const read = (bytes: Buffer) => readRecordsBatch(Reader.from(bytes));
const codec = (bitmask: number) =>
  (compressionsAlgorithmsByBitmask as unknown as Record<number, { compressSync(b: Buffer): Buffer }>)[bitmask] as {
    compressSync(b: Buffer): Buffer;
  };
/** A record's headers as the consumer lists them (its headerEntries), null read as undefined. */
const headersOf = (r: { headers: [Buffer | null, Buffer | null][] }) =>
  r.headers.map(([k, v]) => [k ?? undefined, v ?? undefined] as [Buffer | undefined, Buffer | undefined]);
const event = Buffer.from('{"event_type":"user.created"}');

test("a key of negative length other than -1 is null, as Kafka reads it: no record is read out of the value", () => {
  // Kafka reads: key null, value = these bytes. The client used to step back 2 bytes and read a
  // record hidden in the value, at an offset of the producer's choosing (delta 7, past the batch).
  const hidden = recordBytes({ offsetDelta: 7, key: Buffer.from("k"), value: event });
  const batch = read(
    batchBytes([
      { offsetDelta: 0, keyLength: -2, value: hidden },
      { offsetDelta: 1, value: null },
    ]),
  );
  assert.equal(batch.records.length, 2);
  assert.deepEqual(
    batch.records.map((r) => [r.offsetDelta, r.key, r.value]),
    [
      [0, null, hidden],
      [1, null, null],
    ],
  );
});

test("records outside their batch's offsets are replaced by markers, the last at the batch's end", () => {
  const batch = {
    firstOffset: 40n,
    lastOffsetDelta: 1,
    records: [{ offsetDelta: 0 }, { offsetDelta: 7 }] as { offsetDelta: number; headers?: unknown }[],
  };
  checkRecordOffsets(batch);
  assert.deepEqual(
    batch.records.map((r) => r.offsetDelta),
    [0, 1],
  );
  const reason = unreadableBatchReason(batch.records[1]?.headers as [Buffer, Buffer][]);
  assert.equal(reason, "the record batch at offsets 40–41 can't be read: its records lie outside its offsets");
  const sound = { firstOffset: 0n, lastOffsetDelta: 5, records: [{ offsetDelta: 0 }, { offsetDelta: 3 }] };
  checkRecordOffsets(sound);
  assert.deepEqual(
    sound.records.map((r) => r.offsetDelta),
    [0, 3],
    "a compacted batch's gaps are fine",
  );
  for (const records of [[{ offsetDelta: 1 }, { offsetDelta: 1 }], [{ offsetDelta: -1 }]]) {
    const b = { firstOffset: 0n, lastOffsetDelta: 5, records: records as { offsetDelta: number; headers?: unknown }[] };
    checkRecordOffsets(b);
    assert.ok(unreadableBatchReason(b.records[0]?.headers as [Buffer, Buffer][]));
  }
});

test("a compressed batch that decompresses past the bound is read as one marker per record, for every codec", () => {
  const big = Buffer.alloc(MAX_DECOMPRESSED_BATCH_BYTES + 1024, 0x20);
  for (const [bitmask, name] of [
    [1, "gzip"],
    [2, "snappy"],
    [3, "LZ4"],
    [4, "zstd"],
  ] as const) {
    const bytes = batchBytes(
      [
        { offsetDelta: 0, value: event },
        { offsetDelta: 1, value: big },
      ],
      { codec: bitmask, compress: (b) => codec(bitmask).compressSync(b), firstOffset: 500n },
    );
    assert.ok(bytes.length < 4 * 1024 * 1024, `${name}: ${bytes.length} bytes compressed`);
    const batch = read(bytes);
    assert.deepEqual(
      batch.records.map((r) => [r.offsetDelta, r.key, r.value]),
      [
        [0, null, null],
        [1, null, null],
      ],
      name,
    );
    assert.equal(
      unreadableBatchReason(headersOf(batch.records[1] as never)),
      `the record batch at offsets 500–501 can't be read: ${name} batch decompresses to more than ${MAX_DECOMPRESSED_BATCH_BYTES} bytes`,
    );
  }
});

test("a compressed batch within the bound reads as it was written", () => {
  for (const bitmask of [1, 2, 3, 4]) {
    const records = [
      { offsetDelta: 0, key: Buffer.from("a"), value: event },
      { offsetDelta: 1, key: null, value: Buffer.alloc(100_000, 0x41) },
    ];
    const batch = read(batchBytes(records, { codec: bitmask, compress: (b) => codec(bitmask).compressSync(b) }));
    assert.deepEqual(
      batch.records.map((r) => [r.offsetDelta, r.key, r.value]),
      records.map((r) => [r.offsetDelta, r.key, r.value]),
    );
  }
});

test("an LZ4 frame with a wrong content checksum reads as Kafka reads it; bytes after a gzip stream make markers", () => {
  const records = [
    { offsetDelta: 0, value: event },
    { offsetDelta: 1, value: event },
    { offsetDelta: 2, value: event },
  ];
  const lz4 = withWrongContentChecksum(codec(3).compressSync(Buffer.concat(records.map(recordBytes))));
  const read3 = read(batchBytes(records, { codec: 3, compress: () => lz4 }));
  assert.deepEqual(
    read3.records.map((r) => [r.offsetDelta, r.value]),
    records.map((r) => [r.offsetDelta, r.value]),
  );
  const gzipped = Buffer.concat([zlib.gzipSync(Buffer.concat(records.map(recordBytes))), Buffer.from("trailing")]);
  const batch = read(batchBytes(records, { codec: 1, compress: () => gzipped, firstOffset: 7n }));
  assert.deepEqual(
    batch.records.map((r) => [r.offsetDelta, r.value]),
    [
      [0, null],
      [1, null],
      [2, null],
    ],
  );
  const reason = unreadableBatchReason(headersOf(batch.records[0] as never)) ?? "";
  assert.match(reason, /^the record batch at offsets 7–9 can't be read: gzip data does not decompress/);
});

test("thousands of LZ4 frames with wrong checksums leave the decoder whole for the next batch", () => {
  const records = [{ offsetDelta: 0, value: event }];
  const frame = codec(3).compressSync(Buffer.concat(records.map(recordBytes)));
  const bad = batchBytes(records, { codec: 3, compress: () => withWrongContentChecksum(frame) });
  for (let i = 0; i < 3000; i++) read(bad);
  assert.deepEqual(read(batchBytes(records, { codec: 3, compress: () => frame })).records[0]?.value, event);
});

test("an LZ4 frame's blocks are walked only until they pass the bound: blocks of a byte each are markers at once", () => {
  // The broker takes a record written a byte an LZ4 block (5 bytes each on the wire): one batch
  // of 4 MiB held the event loop 0.8 to 1.4 s while its 800,000 blocks were walked, only to be
  // refused for its bound, which the 513th block of 64 KiB at most had passed.
  const inBlocks = (b: Buffer, count = Number.POSITIVE_INFINITY) => {
    const parts = [Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82])]; // 64 KiB blocks, no checksums
    for (let at = 0; at < b.length && parts.length <= count; at++) {
      parts.push(Buffer.from([1, 0, 0, 0x80, b[at] as number])); // a block of one byte, as it is
    }
    if (parts.length <= count) parts.push(Buffer.alloc(4)); // the end mark
    return Buffer.concat(parts);
  };
  const blocks = MAX_DECOMPRESSED_BATCH_BYTES / (64 * 1024);
  const within = [{ offsetDelta: 0, value: Buffer.alloc(blocks - 10, 0x61) }];
  assert.ok(recordBytes(within[0] as never).length <= blocks);
  const read512 = read(batchBytes(within, { codec: 3, compress: (b) => inBlocks(b) }));
  assert.deepEqual(read512.records[0]?.value, within[0]?.value, `${blocks} blocks: read as written`);
  const value = Buffer.alloc(200_000, 0x61);
  for (const [what, compress] of [
    ["200,000 blocks", (b: Buffer) => inBlocks(b)],
    // Blocks past the bound are not read: a frame that goes on past it, to no end mark, is refused
    // for its bound too, not for the end mark it lacks.
    ["513 blocks and no end mark", (b: Buffer) => inBlocks(b, blocks + 1)],
  ] as const) {
    const batch = read(batchBytes([{ offsetDelta: 0, value }], { codec: 3, compress, firstOffset: 9n }));
    assert.equal(
      unreadableBatchReason(headersOf(batch.records[0] as never)),
      `the record batch at offsets 9–9 can't be read: LZ4 batch decompresses to more than ${MAX_DECOMPRESSED_BATCH_BYTES} bytes`,
      what,
    );
  }
  assert.throws(() => readLz4Frame(inBlocks(value, blocks + 1), MAX_DECOMPRESSED_BATCH_BYTES), /more than/);
  assert.throws(() => readLz4Frame(inBlocks(value, blocks + 1)), /without its end mark/, "unbounded: read to the end");
});

test("a zstd batch of several frames, or behind a skippable frame, is read whole, as Kafka reads it", () => {
  const records = [0, 1, 2].map((i) => ({ offsetDelta: i, key: Buffer.from(`k${i}`), value: event }));
  const frame = (from: number, to: number) =>
    zlib.zstdCompressSync(Buffer.concat(records.slice(from, to).map(recordBytes)));
  const skippable = Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  for (const [what, data] of [
    ["two frames", Buffer.concat([frame(0, 1), frame(1, 3)])],
    ["a skippable frame first", Buffer.concat([skippable, frame(0, 3)])],
    ["a skippable frame between", Buffer.concat([frame(0, 2), skippable, frame(2, 3)])],
  ] as const) {
    const batch = read(batchBytes(records, { codec: 4, compress: () => data }));
    assert.deepEqual(
      batch.records.map((r) => [r.offsetDelta, r.key?.toString(), r.value]),
      records.map((r) => [r.offsetDelta, r.key.toString(), r.value]),
      what,
    );
  }
  // Bytes after the frames that are no frame: Kafka refuses such a batch; read, it is markers.
  const trailing = read(
    batchBytes(records, { codec: 4, compress: () => Buffer.concat([frame(0, 3), Buffer.from("garbage")]) }),
  );
  assert.match(unreadableBatchReason(headersOf(trailing.records[0] as never)) ?? "", /zstd data is not a zstd frame/);
});

test("zstd frames of a byte each are read as markers at once; batches of hundreds of frames spend the fetch's budget", async () => {
  await Promise.resolve();
  // The broker takes a record written a byte a zstd frame (10 bytes each on the wire): one of
  // 4 MB, decompressed frame by frame, held the event loop 25 s and took 2 GB.
  const inFrames = (b: Buffer, n: number) => {
    const step = Math.ceil(b.length / n);
    return Buffer.concat(
      Array.from({ length: Math.ceil(b.length / step) }, (_, i) =>
        zlib.zstdCompressSync(b.subarray(i * step, (i + 1) * step)),
      ),
    );
  };
  const value = Buffer.alloc(20_000, 0x61);
  const bytes = batchBytes([{ offsetDelta: 0, value }], { codec: 4, compress: (b) => inFrames(b, b.length) });
  const started = performance.now();
  const bytewise = read(bytes);
  const took = performance.now() - started;
  assert.match(
    unreadableBatchReason(headersOf(bytewise.records[0] as never)) ?? "",
    new RegExp(`zstd batch of more than ${MAX_DECOMPRESSED_BATCH_BYTES / (64 * 1024) + 1} frames`),
  );
  assert.ok(took < 300, `read in ${took} ms`);
  await Promise.resolve();
  const few = read(batchBytes([{ offsetDelta: 0, value }], { codec: 4, compress: (b) => inFrames(b, 300) }));
  assert.deepEqual(few.records[0]?.value, value, "300 frames: read whole");

  await Promise.resolve();
  // Each batch of 300 frames counts as 300 × 64 KiB = 18.75 MiB against the fetch's 64 MiB.
  const batches = Array.from({ length: 6 }, (_, i) =>
    batchBytes([{ offsetDelta: 0, value }], { codec: 4, compress: (b) => inFrames(b, 300), firstOffset: BigInt(i) }),
  );
  const partition = () => readRecordsBatches(Reader.from(Buffer.concat(batches))).map((b) => b.firstOffset);
  assert.deepEqual(partition(), [0n, 1n, 2n, 3n], "the flooded partition: to 75 MiB, the last begun under 64");
  assert.deepEqual(partition(), [0n], "the next partition's first batch: to 94 MiB");
  assert.deepEqual(partition(), [0n], "to 112 MiB");
  assert.deepEqual(partition(), [0n], "begun under twice the budget: to 131 MiB");
  assert.deepEqual(partition(), [], "past twice the budget, nothing");
});

test("zstd batches each a frame declaring a window of 128 MiB spend the fetch's budget by it", async () => {
  await Promise.resolve();
  // Batches of 79 bytes, each a frame declaring a window of 128 MiB (its decoder takes 1.25 ms to
  // make room for it): 13,000 of them, a fetch of 1 MiB, held the event loop 32 s. Each counts
  // as 1 MiB less the 64 KiB any batch is: the 69th passes 64 MiB, and the rest wait.
  const bigWindow = (b: Buffer) => {
    const block = Buffer.alloc(3);
    block.writeUIntLE((b.length << 3) | 1, 0, 3);
    return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (27 - 10) << 3]), block, b]);
  };
  const windows = Array.from({ length: 2000 }, (_, i) =>
    batchBytes([{ offsetDelta: 0, value: event }], { codec: 4, compress: bigWindow, firstOffset: BigInt(i) }),
  );
  const windowed = readRecordsBatches(Reader.from(Buffer.concat(windows)));
  assert.deepEqual(windowed[0]?.records[0]?.value, event, "such a batch is read as written");
  assert.equal(windowed.length, 69);
});

test("zstd data that ends in a frame cut short, after whole ones, is read as Kafka reads it: to the cut", () => {
  // zstd-jni reads the end of the data within a frame as the end, so the broker takes each of
  // these batches (its records all in the whole frames), and Kafka's consumers read its events.
  const records = [0, 1].map((i) => ({ offsetDelta: i, key: Buffer.from(`k${i}`), value: event }));
  const frame = zlib.zstdCompressSync(Buffer.concat(records.map(recordBytes)));
  const another = zlib.zstdCompressSync(Buffer.from("more than the batch's records"));
  for (const [what, cut] of [
    ["a byte of a skippable frame's magic", Buffer.from([0x50])],
    ["three bytes of a frame's magic", another.subarray(0, 3)],
    ["a frame's header and part of its block", another.subarray(0, 10)],
    ["a skippable frame's magic alone", Buffer.from([0x50, 0x2a, 0x4d, 0x18])],
    ["a skippable frame cut within its size", Buffer.from([0x50, 0x2a, 0x4d, 0x18, 9, 0])],
    ["a skippable frame cut within its bytes", Buffer.from([0x50, 0x2a, 0x4d, 0x18, 9, 0, 0, 0, 1])],
  ] as const) {
    const batch = read(batchBytes(records, { codec: 4, compress: () => Buffer.concat([frame, cut]) }));
    assert.deepEqual(
      batch.records.map((r) => [r.offsetDelta, r.key?.toString(), r.value]),
      records.map((r) => [r.offsetDelta, r.key.toString(), r.value]),
      what,
    );
  }
  // Bytes that begin no frame, and a frame cut short with none whole before it: Kafka refuses those.
  for (const data of [Buffer.concat([frame, Buffer.from([0, 0])]), frame.subarray(0, frame.length - 1)]) {
    const batch = read(batchBytes(records, { codec: 4, compress: () => data }));
    assert.match(unreadableBatchReason(headersOf(batch.records[0] as never)) ?? "", /can't be read: zstd/);
  }
});

test("a snappy batch of xerial streams one after another is read whole, as Kafka reads it", () => {
  const records = [0, 1, 2].map((i) => ({ offsetDelta: i, key: Buffer.from(`k${i}`), value: event }));
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  const xerial = (rs: typeof records) => {
    const chunk = codec(2).compressSync(Buffer.concat(rs.map(recordBytes)));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(chunk.length);
    return Buffer.concat([header, length, chunk]);
  };
  const data = Buffer.concat([xerial(records.slice(0, 1)), xerial(records.slice(1))]);
  const batch = read(batchBytes(records, { codec: 2, compress: () => data }));
  assert.deepEqual(
    batch.records.map((r) => [r.offsetDelta, r.key?.toString(), r.value]),
    records.map((r) => [r.offsetDelta, r.key.toString(), r.value]),
  );
  // One to three bytes after the last chunk, too few for a chunk's length: snappy-java reads them
  // as the end, and the broker takes the batch; the client's decoder refused it.
  for (const trailing of [[1], [1, 2], [1, 2, 3]]) {
    for (const stream of [xerial(records), data]) {
      const more = read(
        batchBytes(records, { codec: 2, compress: () => Buffer.concat([stream, Buffer.from(trailing)]) }),
      );
      assert.deepEqual(
        more.records.map((r) => r.value),
        records.map((r) => r.value),
        `${trailing.length} bytes after the chunks`,
      );
    }
  }
});

test("snappy chunks of a byte each are read as markers at once; batches of thousands of chunks spend the fetch's budget", async () => {
  await Promise.resolve();
  // The broker takes a record written a byte a xerial chunk (7 bytes each on the wire), or after
  // chunks of nothing (5 bytes): the client's decoder makes a WebAssembly call of each, and one
  // batch of 4 MiB held the event loop 2 to 3 s.
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  const inChunks = (b: Buffer, bytes: number) => {
    const chunks: Buffer[] = [header];
    for (let at = 0; at < b.length; at += bytes) {
      const chunk = codec(2).compressSync(b.subarray(at, at + bytes));
      const length = Buffer.alloc(4);
      length.writeUInt32BE(chunk.length);
      chunks.push(length, chunk);
    }
    return Buffer.concat(chunks);
  };
  const value = Buffer.alloc(20_000, 0x61);
  const bytewise = read(batchBytes([{ offsetDelta: 0, value }], { codec: 2, compress: (b) => inChunks(b, 1) }));
  assert.match(
    unreadableBatchReason(headersOf(bytewise.records[0] as never)) ?? "",
    new RegExp(`snappy batch of more than ${MAX_DECOMPRESSED_BATCH_BYTES / SNAPPY_CHUNK_BYTES + 1} chunks`),
  );
  // snappy-java's chunks of 32 KiB, all full but the last, count as their output alone.
  await Promise.resolve();
  const large = Buffer.alloc(200_000, 0x62);
  const asJava = read(
    batchBytes([{ offsetDelta: 0, value: large }], { codec: 2, compress: (b) => inChunks(b, 32 * 1024) }),
  );
  assert.deepEqual(asJava.records[0]?.value, large);
  assert.equal(counted().decompressed, recordBytes({ offsetDelta: 0, value: large }).length, "counted as its output");

  await Promise.resolve();
  // Each batch of 4,800 chunks of a byte counts as 4,800 × 4 KiB = 18.75 MiB against the fetch's 64 MiB.
  const small = Buffer.alloc(4_790, 0x61);
  const batches = Array.from({ length: 6 }, (_, i) =>
    batchBytes([{ offsetDelta: 0, value: small }], {
      codec: 2,
      compress: (b) => inChunks(b, 1),
      firstOffset: BigInt(i),
    }),
  );
  const partition = () => readRecordsBatches(Reader.from(Buffer.concat(batches))).map((b) => b.firstOffset);
  const first = readRecordsBatch(Reader.from(batches[0] as Buffer));
  assert.deepEqual(first.records[0]?.value, small, "such a batch is read as written");
  await Promise.resolve();
  assert.deepEqual(partition(), [0n, 1n, 2n, 3n], "the flooded partition: to 75 MiB, the last begun under 64");
  assert.deepEqual(partition(), [0n], "the next partition's first batch: to 94 MiB");
  assert.deepEqual(partition(), [0n], "to 112 MiB");
  assert.deepEqual(partition(), [0n], "begun under twice the budget: to 131 MiB");
  assert.deepEqual(partition(), [], "past twice the budget, nothing");
});

test("a small compressed batch's records keep no more than the batch's own bytes alive", () => {
  for (const [bitmask, compress] of [
    [1, (b: Buffer) => zlib.gzipSync(b)],
    [4, (b: Buffer) => zlib.zstdCompressSync(b)],
  ] as const) {
    const batch = read(batchBytes([{ offsetDelta: 0, value: event }], { codec: bitmask, compress }));
    const value = batch.records[0]?.value as Buffer;
    assert.deepEqual(value, event);
    assert.ok(value.buffer.byteLength < 1024, `codec ${bitmask}: ${value.buffer.byteLength} bytes kept`);
  }
});

test("a compressed batch of exactly as many records as a batch is read with reads as it was written", () => {
  const many = Array.from({ length: MAX_MARKED_RECORDS }, (_, i) => ({ offsetDelta: i, value: null }));
  const batch = read(batchBytes(many, { codec: 4, compress: (b) => zlib.zstdCompressSync(b) }));
  assert.equal(batch.records.length, MAX_MARKED_RECORDS);
  assert.ok(batch.records.every((r, i) => r.offsetDelta === i && r.headers.length === 0));
});

test("a compressed batch holding more records than a batch is read with is read as that many markers", () => {
  const many = Array.from({ length: MAX_MARKED_RECORDS + 5 }, (_, i) => ({ offsetDelta: i, value: null }));
  const batch = read(batchBytes(many, { codec: 4, compress: (b) => zlib.zstdCompressSync(b), firstOffset: 10n }));
  assert.equal(batch.records.length, MAX_MARKED_RECORDS);
  assert.equal(batch.records.at(-1)?.offsetDelta, MAX_MARKED_RECORDS + 4, "the last marker at the batch's last offset");
  assert.equal(
    unreadableBatchReason(headersOf(batch.records[0] as never)),
    `the record batch at offsets 10–${10 + MAX_MARKED_RECORDS + 4} can't be read: it holds ${MAX_MARKED_RECORDS + 5} records, more than the ${MAX_MARKED_RECORDS} a batch is read with`,
  );
});

test("an uncompressed batch holding more records than a batch is read with is read as that many markers too; the next batch as written", () => {
  // 100,005 records of a few bytes: under 1 MB. At 450,000 (4 MB, which a topic raised for
  // 4 MiB events takes) the client made every record at once and ran the service's heap out.
  const many = Array.from({ length: MAX_MARKED_RECORDS + 5 }, (_, i) => ({ offsetDelta: i, value: null }));
  const after = batchBytes([{ offsetDelta: 0, value: event }], { firstOffset: 10n + BigInt(MAX_MARKED_RECORDS + 5) });
  const reader = Reader.from(Buffer.concat([batchBytes(many, { firstOffset: 10n }), after]));
  const batch = readRecordsBatch(reader);
  assert.equal(batch.records.length, MAX_MARKED_RECORDS);
  assert.equal(batch.records.at(-1)?.offsetDelta, MAX_MARKED_RECORDS + 4, "the last marker at the batch's last offset");
  assert.match(
    unreadableBatchReason(headersOf(batch.records[0] as never)) ?? "",
    new RegExp(`can't be read: it holds ${MAX_MARKED_RECORDS + 5} records, more than the ${MAX_MARKED_RECORDS}`),
  );
  assert.deepEqual(
    readRecordsBatch(reader).records.map((r) => r.value),
    [event],
    "the reader moved past the whole batch",
  );
});

test("a fetch's batches are parsed until they have decompressed to the budget, each partition's first to twice that; the rest waits for the next fetch", async () => {
  await Promise.resolve();
  const size = 20 * 1024 * 1024;
  const one = (i: number) =>
    batchBytes([{ offsetDelta: 0, value: Buffer.alloc(size, 0x20 + i) }], {
      codec: 4,
      compress: (b) => zlib.zstdCompressSync(b),
      firstOffset: BigInt(i),
    });
  const batches = [one(0), one(1), one(2), one(3), one(4)];
  // Each partition's records are read with a reader of their own, as the client reads a response.
  const partition = () => readRecordsBatches(Reader.from(Buffer.concat(batches))).map((b) => b.firstOffset);
  assert.deepEqual(partition(), [0n, 1n, 2n, 3n], "the flooded partition: 80 MiB, the last batch begun under 64");
  assert.deepEqual(partition(), [0n], "the next partition's first batch: to 100 MiB");
  assert.deepEqual(partition(), [0n], "and the next's: to 120 MiB");
  assert.deepEqual(partition(), [0n], "begun under twice the budget: to 140 MiB");
  assert.deepEqual(partition(), [], "past twice the budget, nothing");
  const partitionIndex = Reader.from(Buffer.from([0, 0, 0, 7]));
  assert.equal(partitionIndex.readInt32(), 7, "the response's other numbers read as they are");
  await Promise.resolve();
  assert.equal(partition().length, 4, "the budget is per turn of the event loop");
  assert.ok(MAX_DECOMPRESSED_PER_FETCH === 64 * 1024 * 1024, "the sizes above are chosen for a budget of 64 MiB");
});

test("a record of more headers than a record is read with has them skipped unmade and counted in one; its value is kept", async () => {
  await Promise.resolve();
  const bomb = read(
    batchBytes([{ offsetDelta: 0, value: event, emptyHeaders: 4_000_000 }], {
      codec: 1,
      compress: (b) => zlib.gzipSync(b),
      firstOffset: 30n,
    }),
  );
  const [record] = bomb.records;
  assert.deepEqual(record?.value, event);
  assert.equal(unreadHeaderCount(headersOf(record as never)), 4_000_000);
  assert.equal(unreadableBatchReason(headersOf(record as never)), undefined, "the event is decoded as any other");
  await Promise.resolve();
  const at = read(batchBytes([{ offsetDelta: 0, value: event, emptyHeaders: MAX_HEADERS_PER_RECORD }]));
  assert.equal(at.records[0]?.headers.length, MAX_HEADERS_PER_RECORD, "at the limit every header is read");
  await Promise.resolve();
  const past = read(batchBytes([{ offsetDelta: 0, value: event, emptyHeaders: MAX_HEADERS_PER_RECORD + 1 }]));
  assert.equal(unreadHeaderCount(headersOf(past.records[0] as never)), MAX_HEADERS_PER_RECORD + 1);
});

test("a fetch's batches are parsed until they have made the budget of headers, a partition's first begun past it to twice that; a record past it has its headers left unread", async () => {
  await Promise.resolve();
  const per = MAX_HEADERS_PER_RECORD;
  const records = MAX_HEADERS_PER_FETCH / per;
  const batch = (n: number, firstOffset: number) =>
    batchBytes(
      Array.from({ length: n }, (_, i) => ({ offsetDelta: i, value: event, emptyHeaders: per })),
      { firstOffset: BigInt(firstOffset) },
    );
  const counts = (b: { records: unknown[] } | undefined) =>
    (b?.records ?? []).map(
      (r) => unreadHeaderCount(headersOf(r as never)) ?? (r as { headers: unknown[] }).headers.length,
    );
  // A partition's first batch, begun under the budget, holds twice as many records as it has room for.
  const first = batch(2 * records, 0);
  const next = batch(10, 2 * records);
  const parsed = readRecordsBatches(Reader.from(Buffer.concat([first, next])));
  assert.equal(parsed.length, 1, "the partition's next batch waits for the next fetch");
  const read = counts(parsed[0]);
  assert.deepEqual(read.slice(0, records), Array(records).fill(per), "under the budget every header is read");
  assert.deepEqual(read.slice(records), Array(records).fill(per), "the records past it say how many they had");
  assert.ok(parsed[0]?.records.slice(records).every((r) => r.headers.length === 1));
  // The flooded partition's first batch left the second half to the others: the next partition's is read whole.
  assert.deepEqual(
    counts(readRecordsBatches(Reader.from(next))[0]),
    Array(10).fill(per),
    "begun past the budget: to twice it",
  );
  await Promise.resolve();
  // Past the budget, a partition's second batch is not parsed, and its first reads on.
  const partial = readRecordsBatches(Reader.from(Buffer.concat([batch(records, 0), batch(1, records)])));
  assert.equal(partial.length, 1);
  assert.deepEqual(
    counts(readRecordsBatches(Reader.from(next))[0]),
    Array(10).fill(per),
    "another partition's first batch is read whole",
  );
  await Promise.resolve();
  assert.deepEqual(
    counts(readRecordsBatches(Reader.from(next))[0]),
    Array(10).fill(per),
    "the budget is per turn of the event loop",
  );
});

test("a fetch's batches are parsed until they have made the budget of records, a partition's first to twice that", async () => {
  await Promise.resolve();
  const tiny = (n: number, firstOffset: number) =>
    batchBytes(
      Array.from({ length: n }, (_, i) => ({ offsetDelta: i, value: null })),
      { firstOffset: BigInt(firstOffset) },
    );
  const per = MAX_RECORDS_PER_FETCH / 5;
  const flooded = Buffer.concat([tiny(per * 4, 0), tiny(per * 4, per * 4), tiny(1, per * 8)]);
  const counts = (section: Buffer) => readRecordsBatches(Reader.from(section)).map((b) => b.records.length);
  assert.deepEqual(counts(flooded), [per * 4, per * 4], "begun under the budget: read; past it, the rest waits");
  assert.deepEqual(counts(flooded), [per * 4], "the next partition's first batch: begun under twice the budget");
  assert.deepEqual(counts(flooded), [], "past twice the budget, nothing");
  await Promise.resolve();
  assert.equal(counts(flooded).length, 2, "the budget is per turn of the event loop");
});

test("the bounds read from the frames alone: LZ4 blocks times their size, snappy's preambles", () => {
  const lz4 = codec(3).compressSync(Buffer.alloc(3 * 1024 * 1024, 1));
  assert.ok(readLz4Frame(lz4).bound >= 3 * 1024 * 1024);
  assert.throws(() => readLz4Frame(Buffer.from("not a frame at all")), /not an LZ4 frame/);
  assert.equal(snappyBound(codec(2).compressSync(Buffer.alloc(70_000, 2))), 70_000);
});

test("decoding: a marker is a dead letter unreadable_batch; a null value without one, or with a forged header, is skipped", () => {
  const limits = { maxMessageBytes: 1 << 20, maxClockSkewMs: 300_000, maxJsonDepth: 64, topicPrefix: "" };
  const marker = read(
    batchBytes([{ offsetDelta: 0, value: Buffer.alloc(MAX_DECOMPRESSED_BATCH_BYTES + 1) }], {
      codec: 4,
      compress: (b) => zlib.zstdCompressSync(b),
    }),
  ).records[0] as { headers: [Buffer, Buffer][] };
  const base = { topic: "user", key: null, value: null, timestamp: 0n };
  const d = decode({ ...base, headers: headersOf(marker as never) }, limits);
  assert.equal(d.op.kind, "rejected");
  assert.equal((d.op as { error: { reason: string } }).error.reason, "unreadable_batch");
  assert.deepEqual(decode(base, limits).op, { kind: "skipped", reason: "null_value" });
  const forged: [Buffer, Buffer][] = [
    [Buffer.from("analytics-service.unreadable-batch.000000000000000000000000"), Buffer.from("x")],
  ];
  assert.deepEqual(decode({ ...base, headers: forged }, limits).op, { kind: "skipped", reason: "null_value" });
});

test("a first batch of four times the budget of records leaves the second half to the other partitions' first batches", async () => {
  await Promise.resolve();
  const tiny = (n: number) => Array.from({ length: n }, (_, i) => ({ offsetDelta: i, value: null }));
  const zstd = { codec: 4, compress: (b: Buffer) => zlib.zstdCompressSync(b) };
  const flood = batchBytes(tiny(MAX_MARKED_RECORDS), zstd);
  const other = batchBytes(tiny(1));
  const counts = (section: Buffer) => readRecordsBatches(Reader.from(section)).map((b) => b.records.length);
  assert.deepEqual(counts(Buffer.concat([flood, flood])), [MAX_MARKED_RECORDS], "the flood's first batch: read");
  assert.deepEqual(counts(other), [1], "the next partition's first batch: read");
  assert.deepEqual(counts(batchBytes(tiny(MAX_RECORDS_PER_FETCH))), [], "one that does not fit the second half waits");
  assert.deepEqual(counts(other), [1], "a smaller one that fits is read");
});
