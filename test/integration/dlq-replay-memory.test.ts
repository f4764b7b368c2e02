import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import zlib from "node:zlib";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { batchBytes } from "../../src/testing/record-batches.ts";
import { cliArgs, cliEnv, peakRss, testDatabase, testEnv, testTopics } from "../support/helpers.ts";
import { produceRaw } from "../support/raw-produce.ts";

// `dlq replay` keeps the letters it chose until it sends them, CHUNK (500) at a time. A letter's
// key, value and headers are views of the buffer its batch decompressed to, which they keep
// alive: a zstd batch of 3 KB holding a letter of a few hundred bytes behind 30 MB of another
// writer's record (read and passed over) made each letter chosen hold 30 MB, and 60 of them took
// the replay to 1.9 GB before it sent one.

const BATCHES = 60;
/**
 * What a replay may hold here: the reader's 64 MiB of letters, one fetch response's batches (up
 * to 128 MiB decompressed, a partition's first batch included) and what the collector has not
 * freed yet; runs peaked at 450–502 MB. Holding each chosen letter's batch took 1.9 GB.
 */
const PEAK_MB = 768;

test("dlq replay holds the letters it has chosen, not the batches they were read from", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = testEnv(db, topics);
  const zstd = { codec: 4, compress: (b: Buffer) => zlib.zstdCompressSync(b), timestamp: BigInt(Date.now()) };
  for (let i = 0; i < BATCHES; i++) {
    // Another writer's record of 1,000 headers of 30,000 bytes (no source: passed over), and a letter.
    const other = { offsetDelta: 0, emptyHeaders: 1_000, headerValueBytes: 30_000 };
    const letter = {
      offsetDelta: 1,
      key: Buffer.from(`key-${i}`),
      value: Buffer.from("{not json"),
      headers: [
        [DLQ_HEADERS.topic, `${topics.prefix}user`],
        [DLQ_HEADERS.partition, "0"],
        [DLQ_HEADERS.offset, String(i)],
        [DLQ_HEADERS.code, "not_json"],
        [DLQ_HEADERS.failedAt, new Date(Date.UTC(2026, 2, 1) + i * 1000).toISOString()],
      ] as [string, string][],
    };
    const batch = batchBytes([other, letter], zstd);
    assert.ok(batch.length < 8 * 1024, `${batch.length} bytes a batch`);
    await produceRaw(topics.dlq, 0, batch);
  }

  const child = spawn(process.execPath, cliArgs(["dlq", "replay"]), { env: cliEnv(env) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  t.after(() => child.kill("SIGKILL"));
  // Far past the bound: stopped before it takes the machine's memory.
  const peakMb = peakRss(t, child.pid as number, 4 * PEAK_MB, 20);
  const status = await exited;
  assert.ok(peakMb() < PEAK_MB, `dlq replay's RSS peaked at ${peakMb().toFixed(0)} MB`);
  assert.equal(status, 0, stderr);
  assert.match(stdout, new RegExp(`; ${BATCHES} sent to `), stdout);
});
