import assert from "node:assert/strict";
import { test } from "node:test";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { batchBytes, type RawRecord } from "../../src/testing/record-batches.ts";
import {
  adminConnection,
  caughtUp,
  hexId,
  readTopic,
  spawnService,
  testDatabase,
  testEnv,
  testTopics,
  waitFor,
} from "../support/helpers.ts";
import { produceRaw } from "../support/raw-produce.ts";

// Records with many tiny headers: the client makes three objects of each (about 250 bytes of
// heap for two bytes on the wire), so a backlog of them once ran the service's 256 MB heap out,
// again at every restart. Past 1,000 on a record (or past what one fetch is read with) headers are
// left unread and their events applied; the ones read count at their heap cost against the
// reader's and the batches' bounds (src/read/client-fixes/record-headers.ts).

const userEvent = (n: number): RawRecord & { id: string } => {
  const id = hexId(n, "e7");
  const e = emit("user.created", id, { ...(fixture("user.created").value.data as object), id } as never);
  return { offsetDelta: 0, id, key: Buffer.from(id), value: Buffer.from(JSON.stringify(e.value)) };
};

/** `records` to one partition, `perBatch` to a batch (each batch under the broker's 1 MiB). */
async function produce(topic: string, records: RawRecord[], perBatch: number): Promise<void> {
  for (let i = 0; i < records.length; i += perBatch) {
    const part = records.slice(i, i + perBatch).map((r, j) => ({ ...r, offsetDelta: j }));
    await produceRaw(topic, 0, batchBytes(part, { timestamp: BigInt(Date.now()) }));
  }
}

test("a backlog of records with 100,000 headers each, or 1,000 each by the thousand: every event applied, the service's heap holds", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const topic = `${topics.prefix}user`;
  // 40 records of 100,000 empty headers (200 KB each): with every header made, 4,000,000 of them.
  const huge = Array.from({ length: 40 }, (_, i) => ({ ...userEvent(i), emptyHeaders: 100_000 }));
  await produce(topic, huge, 4);
  // 2,000 records of 1,000 headers of 20 bytes (22 KB each, so that a 1 MiB fetch reads every
  // header): 2,000,000 headers, 500 MB of heap if the reader and the batches held them by their
  // bytes on the wire, as they did.
  const many = Array.from({ length: 2_000 }, (_, i) => ({
    ...userEvent(1_000 + i),
    emptyHeaders: 1_000,
    headerValueBytes: 20,
  }));
  await produce(topic, many, 40);
  // Two bad events: one of 100,000 headers (its letter says they were left unread), one of three
  // headers of one name (its letter keeps all three).
  const bad = (n: number, emptyHeaders: number) => ({
    offsetDelta: 0,
    key: Buffer.from(hexId(n, "e7")),
    value: Buffer.from("{not json"),
    emptyHeaders,
  });
  await produce(topic, [bad(9_000, 100_000), bad(9_001, 3)], 1);

  const env = testEnv(db, topics);
  const service = spawnService(t, env);
  const running = () =>
    assert.equal(service.child.exitCode, null, `the service exited:\n${service.log().slice(-2000)}`);
  const conn = await adminConnection(db.name);
  t.after(() => conn.end());
  await waitFor(
    "every user applied",
    async () => {
      running();
      const [rows] = await conn.query("SELECT COUNT(*) AS n FROM users");
      return Number((rows as { n: number }[])[0]?.n) === huge.length + many.length;
    },
    120_000,
  );
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(env.KAFKA_GROUP_ID as string, sources, 1), 60_000);
  const letters = await readTopic(topics.dlq, 2);
  const unread = letters.find((l) => l.headers.get(DLQ_HEADERS.offset) === String(huge.length + many.length));
  assert.equal(unread?.headers.get(DLQ_HEADERS.code), "not_json");
  assert.equal(unread?.headers.get(DLQ_HEADERS.headersUnread), "100000");
  assert.equal(unread?.entries.filter(([k]) => !k.startsWith("dlq.")).length, 0);
  const three = letters.find((l) => l.headers.get(DLQ_HEADERS.offset) === String(huge.length + many.length + 1));
  assert.deepEqual(
    three?.entries.filter(([k]) => !k.startsWith("dlq.")),
    [
      ["", ""],
      ["", ""],
      ["", ""],
    ],
  );
  running();
});
