import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { Admin } from "@platformatic/kafka";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { hexId, type TestDatabase, testProducer, topicsReady } from "./helpers.ts";

/**
 * Users created one event each on a partition of `topic` chosen by the test, each sent by a
 * producer of its own (a producer's metadata would not know a partition added since), and
 * whether each is in the database's users table; `tag` tells the test's users apart.
 */
export function usersOnPartitions(t: TestContext, db: TestDatabase, topic: string, tag: string) {
  const send = async (n: number, partition: number) => {
    const e = emit("user.created", hexId(n, tag), fixture("user.created").value.data as never);
    const producer = await testProducer(t);
    const sent = await producer.send({
      messages: [{ topic, partition, key: Buffer.from(e.key), value: Buffer.from(JSON.stringify(e.value)) }],
    });
    assert.equal(sent.offsets?.[0]?.partition, partition);
  };
  const applied = async (n: number) =>
    (await db.query("SELECT user_id FROM users WHERE user_id = ?", [hexId(n, tag)])).length === 1;
  return { send, applied };
}

/** Grows `topic` to `count` partitions and waits for their leaders. */
export async function addPartitions(admin: Admin, topic: string, count: number): Promise<void> {
  await admin.createPartitions({ topics: [{ name: topic, count }] });
  await topicsReady(admin, [topic], count);
}
