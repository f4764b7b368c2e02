import assert from "node:assert/strict";
import { test } from "node:test";
import { migrate } from "../../src/db/migrate.ts";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  adminConnection,
  caughtUp,
  hexId,
  lockWaits,
  openTransactions,
  spawnService,
  testDatabase,
  testEnv,
  testPool,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// A member stopped (SIGSTOP: a paused VM, a collection longer than the session timeout) with a
// batch in hand wakes up believing it still owns its partitions: the group dropped it and gave
// them to another member, which wrote their later events. Two events of one entity with one
// timestamp (equal timestamps apply) make a late write of the first visible: it undoes the second.
// The stopped member's batch of the first event waits for the pool's one connection, held by a
// transaction of the other partition waiting on a row lock, so that it writes only after the
// new owner has committed.

test(
  "a member stopped past its session timeout does not write its batch in hand when it wakes",
  { timeout: 150_000 },
  async (t) => {
    const db = await testDatabase(t);
    const topics = await testTopics(t, 2);
    const sources = topics.all.filter((x) => x !== topics.dlq);
    await migrate(testPool(t, db));
    // Every write a transaction commits, in order: a late write the stopped member's stream
    // would write over again as it reads on still shows here.
    await db.conn.query("CREATE TABLE written (n INT AUTO_INCREMENT PRIMARY KEY, user_id VARCHAR(64), name TEXT)");
    for (const when of ["INSERT", "UPDATE"]) {
      await db.conn.query(
        `CREATE TRIGGER written_on_${when.toLowerCase()} AFTER ${when} ON users FOR EACH ROW INSERT INTO written (user_id, name) VALUES (NEW.user_id, NEW.display_name)`,
      );
    }
    const writesOf = async (id: string) => {
      const [rows] = await db.conn.query("SELECT name FROM written WHERE user_id = ? ORDER BY n", [id]);
      return (rows as { name: string }[]).map((r) => r.name);
    };
    const producer = await testProducer(t);
    const [x, y] = [hexId(0, "c1"), hexId(1, "c1")];
    const doc = fixture("user.created").value.data as Record<string, unknown>;
    // User x on partition 0 of the user topic, y on partition 1, whatever their keys hash to.
    const send = (type: "user.created" | "user.updated", ids: string[], name: string, timestamp: string) =>
      producer.send({
        messages: ids.map((id) => {
          const data = { ...doc, profile: { ...(doc.profile as object), display_name: name } };
          const e = emit(type, id, data as never, { timestamp });
          return {
            topic: `${topics.prefix}user`,
            partition: id === x ? 0 : 1,
            key: Buffer.from(id),
            value: Buffer.from(JSON.stringify(e.value)),
          };
        }),
      });
    const T = "2026-03-02T10:00:00.000000Z";
    const env = testEnv(db, topics);
    const group = env.KAFKA_GROUP_ID as string;
    const nameOf = async (id: string) => {
      const [rows] = await db.conn.query("SELECT display_name AS n FROM users WHERE user_id = ?", [id]);
      return (rows as { n: string }[])[0]?.n;
    };

    // A alone, with one MySQL connection, owns both partitions and applies the creates.
    const a = spawnService(t, { ...env, MYSQL_POOL_SIZE: "1" }, "debug");
    await send("user.created", [x, y], "created", "2026-03-02T09:00:00.000000Z");
    await waitFor(
      "both creates committed",
      async () => (await nameOf(y)) === "created" && caughtUp(group, sources, 2),
      60000,
    );

    // y's row locked: A's transaction of y's first twin holds A's connection, waiting on the lock.
    const locker = await adminConnection(db.name);
    t.after(() => locker.end());
    await locker.query("START TRANSACTION");
    await locker.query("SELECT * FROM users WHERE user_id = ? FOR UPDATE", [y]);
    await send("user.updated", [y], "first", T);
    await waitFor("A's transaction of y waiting on the lock", async () => (await lockWaits(db)).length === 1, 30000);
    const ofA = await lockWaits(db);
    // A reads x's first twin alone: its batch waits for the connection.
    const readBefore = a.log().split('"batch read"').length;
    await send("user.updated", [x], "first", T);
    await waitFor("A holding x's first twin", async () => a.log().split('"batch read"').length > readBefore, 30000);
    a.child.kill("SIGSTOP");
    t.after(() => a.child.kill("SIGCONT"));

    // B joins; once A's session has timed out it owns both partitions and writes both twins of x.
    await send("user.updated", [x, y], "second", T);
    const b = spawnService(t, env);
    await waitFor("B wrote x's second twin", async () => (await nameOf(x)) === "second", 60000);
    // A's statement fails (A reads the error when it wakes); the lock goes; B writes y's twins.
    for (const id of ofA) await db.conn.query(`KILL QUERY ${id}`);
    await locker.query("ROLLBACK");
    await waitFor("B committed both partitions", () => caughtUp(group, sources, 2), 60000);
    assert.equal(await nameOf(y), "second");

    // A wakes: its batch of x's first twin gets the connection before A hears it left the group.
    const logged = a.log().length;
    a.child.kill("SIGCONT");
    await waitFor(
      "A joined the group again",
      async () => a.log().slice(logged).includes("joined the consumer group"),
      60000,
    );
    // Its batch is dropped as it joins (a rejoin that fails drops it before): waited for, not raced.
    await waitFor(
      "A dropped its batch of x",
      async () =>
        /"partitions":\["[^"]*user:0"\],"msg":"dropped a batch whose partitions moved away"/.test(
          a.log().slice(logged),
        ),
      30000,
    );
    await waitFor("no transaction open", async () => (await openTransactions(db)) === 0, 30000);
    assert.equal(await nameOf(x), "second");
    const afterB = await writesOf(x);
    assert.deepEqual(
      afterB.slice(afterB.indexOf("second")).filter((name) => name !== "second"),
      [],
      `x's writes ${JSON.stringify(afterB)}: nothing written over B's second twin but itself again (the stopped member's late write is not committed)`,
    );
    assert.equal(b.child.exitCode, null);
  },
);
