import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import type { Config } from "../../src/config/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { ROUTES } from "../../src/domains/registry.ts";
import { emit } from "../../src/generate/emit.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { UnexpectedErrorsError } from "../../src/pipeline/breaker.ts";
import { type ServiceHooks, startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  adminConnection,
  capturingLogger,
  caughtUp,
  committedTotal,
  hexId,
  produce,
  readTopic,
  rowCount,
  testConfig,
  testDatabase,
  testMariaServer,
  testPool,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// Batches of different partitions are written side by side (BATCHES_IN_FLIGHT): a partition
// whose transaction waits on MySQL holds back only itself. And with several batches in hand, a
// failure that must stop the service (here a handler that throws on cue, with a breaker that
// trips at the first unexpected error) stops it cleanly: after
// the partition's batch being written, and without waiting for another batch's outage to end.
// The batches in hand hold at most BATCH_MAX_EVENTS events together, and in a backlog (the
// reader's buffer full) one is in hand at a time. So the tests of batches side by side produce
// their second batch once the first, of two events, waits on the lock.

const doc = (type: string) => fixture(type).value.data as Record<string, unknown>;

/** Locks the users table; `reader` is a second session, since one holding LOCK TABLES reads only what it locked. */
async function lockUsers(t: TestContext, db: { name: string }) {
  const locker = await adminConnection(db.name);
  t.after(() => locker.end());
  const reader = await adminConnection(db.name);
  t.after(() => reader.end());
  await locker.query("LOCK TABLES users WRITE");
  return { locker, reader };
}

/** The real routes, but every handler throws a TypeError (as a bug would) for an event whose type or entity is `cue`. */
function routesFailingOn(cue: string) {
  const failing = {
    failed: false,
    routes: new Map(
      [...ROUTES].map(([type, route]) => [
        type,
        {
          ...route,
          handler: (...args: Parameters<typeof route.handler>) => {
            const [event] = args;
            if (event.type !== cue && event.entityId !== cue) return route.handler(...args);
            failing.failed = true;
            throw new TypeError("failed on cue");
          },
        },
      ]),
    ),
  };
  return failing;
}

/** Waits until one of the service's statements waits on a table another session locked. */
async function waitForTableLockWait(reader: Awaited<ReturnType<typeof adminConnection>>, db: { name: string }) {
  await waitFor("a statement waiting on the locked table", async () => {
    const [rows] = await reader.query(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE 'Waiting for table%'",
      [db.name],
    );
    return Number((rows as { n: number | string }[])[0]?.n) > 0;
  });
}

/** Starts the service; `ended()` says how it ended (undefined while it runs). Stopped after the test if still running. */
async function startWatched(t: TestContext, config: Config, log: Logger, hooks: ServiceHooks) {
  const service = await startService(config, log, hooks);
  let ended: unknown;
  const settled = service.done.then(
    () => {
      ended = "stopped without an error";
    },
    (err: unknown) => {
      ended = err;
    },
  );
  t.after(() => (ended === undefined ? service.stop() : undefined));
  return { ended: () => ended, settled: () => settled.then(() => ended) };
}

test("a partition waiting on a locked table does not hold back another partition", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await migrate(testPool(t, db));
  const producer = await testProducer(t);
  // Users first, waiting on the lock: in a pipeline of one batch at a time they would hold up the products.
  await produce(producer, topics.prefix, [
    emit("user.created", hexId(1, "b1"), doc("user.created") as never),
    emit("user.created", hexId(2, "b1"), doc("user.created") as never),
  ]);
  const { locker, reader } = await lockUsers(t, db);
  const config = testConfig(db, topics);
  await testService(t, config);

  try {
    await waitForTableLockWait(reader, db);
    await produce(producer, topics.prefix, [
      emit("product.created", hexId(1, "b3"), doc("product.created") as never),
      emit("product.created", hexId(2, "b3"), doc("product.created") as never),
    ]);
    await waitFor("the products written and committed while users are locked", async () => {
      const committed = await committedTotal(config.kafkaGroupId, [`${topics.prefix}product`], 1);
      return committed === 2n && (await rowCount(reader, "products")) === 2;
    });
    assert.equal(await rowCount(locker, "users"), 0, "the users batch went past the lock");
    assert.equal(await committedTotal(config.kafkaGroupId, [`${topics.prefix}user`], 1), 0n);
  } finally {
    // Also when the test fails: the database is dropped after it, which the lock would hold up.
    await locker.query("UNLOCK TABLES");
  }
  await waitFor("every event committed", () => caughtUp(config.kafkaGroupId, sources, 1));
  assert.equal(await rowCount(reader, "users"), 2);
  assert.equal(await rowCount(reader, "products"), 2);
});

test("the breaker tripping while the partition's previous batch is written stops the service with that error", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  await migrate(testPool(t, db));
  const producer = await testProducer(t);
  const users = (numbers: number[]) =>
    numbers.map((n) => emit("user.created", hexId(n, "b5"), doc("user.created") as never));
  // An event of the second batch fails unexpectedly while the first waits on the lock: the breaker
  // must stop the pipeline (not surface as an unhandled rejection), after the first batch is
  // finished and the second's failure is dead-lettered.
  const failing = routesFailingOn(hexId(3, "b5"));
  await produce(producer, topics.prefix, users([1, 2]));
  const { locker, reader } = await lockUsers(t, db);
  const config = testConfig(db, topics, { MAX_UNEXPECTED_ERRORS: "0" });
  const service = await startWatched(t, config, createLogger("silent"), { routes: failing.routes });
  try {
    await waitForTableLockWait(reader, db);
    await produce(producer, topics.prefix, users([3, 4]));
    await waitFor("the second batch decoded", async () => failing.failed);
  } finally {
    await locker.query("UNLOCK TABLES");
  }
  const outcome = await service.settled();
  assert.ok(outcome instanceof UnexpectedErrorsError, `the service ended with: ${String(outcome)}`);
  assert.equal(await rowCount(reader, "users"), 3, "both batches were finished, but for the failed event");
  assert.equal(await committedTotal(config.kafkaGroupId, [`${topics.prefix}user`], 1), 4n);
  const [letter] = await readTopic(topics.dlq, 1);
  assert.equal(letter?.headers.get(DLQ_HEADERS.code), "unexpected_error");
  assert.equal(letter?.headers.get(DLQ_HEADERS.reason), "unexpected TypeError while handling user.created");
});

test("a batch of BATCH_MAX_EVENTS events is in hand alone: the next is read once it is written", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  await migrate(testPool(t, db));
  // Both partitions' events are there from the start: a second batch in hand would be read and
  // decoded at once, while the first (2 events, BATCH_MAX_EVENTS, its reader's buffer full) waits on the lock.
  await produce(await testProducer(t), topics.prefix, [
    emit("user.created", hexId(1, "b8"), doc("user.created") as never),
    emit("user.created", hexId(2, "b8"), doc("user.created") as never),
    emit("product.created", hexId(1, "b9"), doc("product.created") as never),
    emit("product.created", hexId(2, "b9"), doc("product.created") as never),
  ]);
  // What the pipeline did, in order: each event decoded (by topic), each batch finished.
  const timeline: string[] = [];
  const routes = new Map(
    [...ROUTES].map(([type, route]) => [
      type,
      {
        ...route,
        handler: (...args: Parameters<typeof route.handler>) => {
          timeline.push(`decoded ${route.topic}`);
          return route.handler(...args);
        },
      },
    ]),
  );
  const onBatch = (report: { events: unknown[] }) => timeline.push(`finished ${report.events.length}`);
  const { locker, reader } = await lockUsers(t, db);
  const config = testConfig(db, topics, { BATCH_MAX_EVENTS: "2" });
  await startWatched(t, config, createLogger("silent"), { routes, onBatch });
  try {
    await waitForTableLockWait(reader, db);
  } finally {
    await locker.query("UNLOCK TABLES");
  }
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every event committed", () => caughtUp(config.kafkaGroupId, sources, 1));
  const [first, second] = timeline[0] === "decoded user" ? ["user", "product"] : ["product", "user"];
  assert.deepEqual(timeline, [
    `decoded ${first}`,
    `decoded ${first}`,
    "finished 2",
    `decoded ${second}`,
    `decoded ${second}`,
    "finished 2",
  ]);
  assert.equal(await rowCount(reader, "products"), 2);
  assert.equal(await rowCount(reader, "users"), 2);
});

test("a failure that stops the service stops another batch's wait for MySQL too", async (t) => {
  const server = await testMariaServer(t);
  const db = await testDatabase(t, server.port);
  await db.conn.query("SET GLOBAL innodb_lock_wait_timeout = 1");
  const topics = await testTopics(t, 1);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const producer = await testProducer(t);
  const user = hexId(1, "b6");
  const failing = routesFailingOn("product.created");
  const config = testConfig(db, topics, {
    MYSQL_PORT: String(server.port),
    RETRY_MAX_BACKOFF_MS: "300",
    MAX_UNEXPECTED_ERRORS: "0",
  });
  const { log, lines } = capturingLogger();
  const service = await startWatched(t, config, log, { routes: failing.routes });
  await produce(producer, topics.prefix, [emit("user.created", user, doc("user.created") as never)]);
  await waitFor("the user applied", () => caughtUp(config.kafkaGroupId, sources, 1));

  // Another transaction holds the user's row: the update's batch waits out lock wait timeouts.
  const holder = await adminConnection(db.name, server.port);
  t.after(() => holder.end());
  await holder.query("START TRANSACTION");
  await holder.query("SELECT * FROM users WHERE user_id = ? FOR UPDATE", [user]);
  await produce(producer, topics.prefix, [emit("user.updated", user, doc("user.created") as never)]);
  const outages = () => lines.filter((l) => String(l.msg).startsWith("MySQL unavailable")).length;
  await waitFor("the update waiting out the lock", async () => outages() > 0);

  // A product's event then fails unexpectedly: the service stops with that error now, not once the lock is gone.
  await produce(producer, topics.prefix, [emit("product.created", hexId(1, "b7"), doc("product.created") as never)]);
  try {
    await waitFor("the service stopped", async () => service.ended() !== undefined, 15000);
    assert.ok(service.ended() instanceof UnexpectedErrorsError, `the service ended with: ${String(service.ended())}`);
  } finally {
    await holder.query("ROLLBACK");
  }
});
