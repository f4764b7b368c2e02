import assert from "node:assert/strict";
import { test } from "node:test";
import zlib from "node:zlib";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { batchBytes } from "../../src/testing/record-batches.ts";
import {
  adminConnection,
  caughtUp,
  hexId,
  lockWaits,
  peakRss,
  spawnService,
  testDatabase,
  testEnv,
  testTopics,
  waitFor,
} from "../support/helpers.ts";
import { produceRaw } from "../support/raw-produce.ts";

// A record of 1,001 headers of 30,000 bytes: its headers are left unread (src/read/client-fixes/record-headers.ts),
// but its key and value are views of its batch's decompressed buffer, 30 MB, which they keep
// alive. Counted as its key and value alone (a few hundred bytes), 40 such records in zstd
// batches of 3 KB each, read while the database waited on a lock, were all taken into the reader
// before it paused: 1.2 GB of buffers, against the service's few hundred MB.

const BATCHES = 40;
/** The service's peak RSS while it reads them: its heap, and about one fetch response's batches. */
const PEAK_MB = 640;

test("records whose headers are left unread count the bytes those keep alive: a backlog of them read while the database waits holds the service's memory", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const topic = `${topics.prefix}user`;
  const id = hexId(1, "e8");
  const e = emit("user.created", id, { ...(fixture("user.created").value.data as object), id } as never);
  const record = { offsetDelta: 0, key: Buffer.from(id), value: Buffer.from(JSON.stringify(e.value)) };
  await produceRaw(topic, 0, batchBytes([record], { timestamp: BigInt(Date.now()) }));
  const env = testEnv(db, topics);
  const service = spawnService(t, env);
  const pid = service.child.pid as number;
  const running = () => service.child.exitCode === null && service.child.signalCode === null;
  const conn = await adminConnection(db.name);
  t.after(() => conn.end());
  await waitFor("the user applied", async () => {
    const [rows] = await conn.query("SELECT COUNT(*) AS n FROM users");
    return Number((rows as { n: number }[])[0]?.n) === 1;
  });

  // The row locked: the service's next write waits, and its reader fills.
  await conn.query("BEGIN");
  await conn.query("SELECT user_id FROM users WHERE user_id = ? FOR UPDATE", [id]);
  const flood = { ...record, emptyHeaders: 1_001, headerValueBytes: 30_000 };
  const zstd = { codec: 4, compress: (b: Buffer) => zlib.zstdCompressSync(b), timestamp: BigInt(Date.now()) };
  const batch = batchBytes([flood], zstd);
  assert.ok(batch.length < 8 * 1024, `${batch.length} bytes a batch`);
  for (let i = 0; i < BATCHES; i++) await produceRaw(topic, 0, batch);

  // Far past the bound: stopped before it takes the machine's memory.
  const peakMb = peakRss(t, pid, 3 * PEAK_MB, 50);
  await waitFor("the service's write waiting on the lock", async () => (await lockWaits(db)).length > 0);
  // Long enough for a reader that does not pause to take in the whole backlog (it does in 2 s).
  await waitFor("5 s of waiting, or the bound passed", async () => !running() || peakMb() > PEAK_MB, 5_000).catch(
    () => undefined,
  );
  await conn.query("ROLLBACK");

  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor(
    "every offset committed",
    async () => !running() || caughtUp(env.KAFKA_GROUP_ID as string, sources, 1),
    120_000,
  );
  assert.ok(running(), `the service exited (peak ${peakMb().toFixed(0)} MB):\n${service.log().slice(-2000)}`);
  assert.ok(peakMb() < PEAK_MB, `the service's RSS peaked at ${peakMb().toFixed(0)} MB`);
});
