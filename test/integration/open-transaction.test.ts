import assert from "node:assert/strict";
import { test } from "node:test";
import { ProduceAcks, Producer } from "@platformatic/kafka";
import { startService } from "../../src/service.ts";
import {
  BROKER,
  capturingLogger,
  produce,
  randomName,
  testConfig,
  testDatabase,
  testProducer,
  testTopics,
  userCreated,
  waitFor,
} from "../support/helpers.ts";

// An upstream transaction left open holds back, for a READ_COMMITTED reader, every later record
// of its partition. The lag is read to the same last stable offset, so the partition showed no
// lag, /readyz said ready and the log said nothing while its events waited (up to the producer's
// transaction.timeout.ms; a hanging transaction, for ever). One line now says it.

const user = (n: number) => userCreated(n, "7a");

test("records held back by an upstream transaction left open are said in one line, and read once it commits", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const plain = await testProducer(t);
  // A transaction the broker would abort only after two minutes (the client's timeout is the transaction's).
  const transactional = new Producer({
    clientId: "tests-open-transaction",
    bootstrapBrokers: [BROKER],
    acks: ProduceAcks.ALL,
    idempotent: true,
    transactionalId: randomName("tests-tx-"),
    timeout: 120_000,
  });
  t.after(() => transactional.close());
  const { log, lines } = capturingLogger();
  const service = await startService(testConfig(db, topics), log, { openTransactionWarnMs: 3000 });
  t.after(() => service.stop());
  await produce(plain, topics.prefix, [user(1)]);
  await waitFor("the first event applied", async () => (await db.query("SELECT 1 FROM users")).length === 1);

  const tx = await transactional.beginTransaction();
  const open = user(2);
  await tx.send({
    messages: [
      { topic: `${topics.prefix}user`, key: Buffer.from(open.key), value: Buffer.from(JSON.stringify(open.value)) },
    ],
  });
  // Two events of another producer, behind the open transaction's first record (offset 1).
  await produce(plain, topics.prefix, [user(3), user(4)]);
  const said = await waitFor(
    "a line about the open transaction",
    async () => lines.find((l) => /upstream transaction left open/.test(String(l.msg))),
    30_000,
  );
  assert.match(
    String(said.msg),
    new RegExp(`holds back ${topics.prefix.replace(".", "\\.")}user partition 0 at offset 1 \\(3 records behind it\\)`),
  );
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users"), [{ n: "1" }], "the events behind it wait");
  assert.equal(lines.filter((l) => /upstream transaction left open/.test(String(l.msg))).length, 1, "said once");

  await tx.commit();
  await waitFor("every event applied", async () => {
    const [row] = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM users");
    return row?.n === "4";
  });
  await waitFor("the line that it moved on", async () =>
    lines.some((l) => /no longer held back by an open transaction/.test(String(l.msg))),
  );
});
