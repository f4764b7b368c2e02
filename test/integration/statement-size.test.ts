import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { migrate } from "../../src/db/migrate.ts";
import { createPool } from "../../src/db/pool.ts";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { usersTable, userUpdateColumns } from "../../src/domains/users/table.ts";
import { DatabaseUnavailableError } from "../../src/errors.ts";
import { type EmittedEvent, emit } from "../../src/generate/emit.ts";
import type { BatchReport } from "../../src/pipeline/pipeline.ts";
import type { Op, UpsertOp } from "../../src/plan/ops.ts";
import { decodeValue } from "../../src/testing/domain-helpers.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { tooLarge } from "../../src/write/row-size.ts";
import { upsertRows } from "../../src/write/statements.ts";
import { applyBatch } from "../../src/write/transaction.ts";
import type { PrivateServer } from "../../tools/stack/mariadb-server.ts";
import {
  adminConnection,
  caughtUp,
  hexId,
  produce,
  readTopic,
  stack,
  testConfig,
  testDatabase,
  testMariaServer,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// Statements are sized in bytes against the server's max_allowed_packet, on a server of the
// test's own whose limit is set small (64 KiB), so valid users with long avatars (TEXT, up to
// 65,535 bytes) fill it: a backlog is written in many statements, and a user whose row alone does
// not fit is dead-lettered before anything is sent, its neighbours applied.

const PACKET = 64 * 1024;
const PARTITIONS = 1;
const id = (n: number) => hexId(n, "5a");
const at = (n: number) => `2026-04-01T00:00:${String(n % 60).padStart(2, "0")}.${String(n).padStart(6, "0")}+00:00`;

function user(n: number, avatar: string): EmittedEvent {
  const data = structuredClone(fixture("user.created").value.data) as Record<string, unknown>;
  data.id = id(n);
  data.profile = { ...(data.profile as object), avatar };
  return emit("user.created", id(n), data as never, { timestamp: at(n) });
}

/**
 * A migrated database on the private server and a pool of one connection to it: a dead
 * connection handed out again would fail the next batch.
 */
async function migratedPool(t: TestContext, server: PrivateServer) {
  const db = await testDatabase(t, server.port);
  const pool = createPool({
    mysqlHost: "127.0.0.1",
    mysqlPort: server.port,
    mysqlUser: stack.mysqlAdminUser,
    mysqlPassword: stack.mysqlAdminPassword,
    mysqlDatabase: db.name,
    mysqlPoolSize: 1,
  });
  t.after(() => pool.end());
  await migrate(pool);
  return { db, pool };
}

/** User `n`'s row with `avatar`, as its handler would make it. */
const userOp = (n: number, avatar: string): UpsertOp => ({
  kind: "upsert",
  table: usersTable,
  id: id(n),
  ts: "2026-04-01 00:00:00.000000",
  eventId: `e${n}`,
  update: userUpdateColumns,
  row: {
    user_id: id(n),
    email: "a@example.com",
    display_name: "A",
    avatar,
    created_at: "2026-04-01 00:00:00.000000",
    updated_at: "2026-04-01 00:00:00.000000",
    event_id: `e${n}`,
    event_timestamp: "2026-04-01 00:00:00.000000",
  },
});

test("statements sized to a server's small max_allowed_packet", async (t) => {
  const server = await testMariaServer(t);
  // Before anyone connects: a session keeps the value the server had when it connected.
  const admin = await adminConnection(undefined, server.port);
  await admin.query(`SET GLOBAL max_allowed_packet = ${PACKET}`);
  await admin.end();
  await t.test("a backlog goes in many statements; a row too large alone is dead-lettered", (t) => backlog(t, server));
  await t.test(
    "a connection the server drops over an oversized statement is not reused; the limit is read again",
    (t) => droppedConnection(t, server),
  );
  await t.test("the largest row tooLarge lets through is taken by the server; one byte more is refused before", (t) =>
    atTheLimit(t, server),
  );
  await t.test("an order's two states written as one item row too large for a statement: applied one by one", (t) =>
    mergedTooLarge(t, server),
  );
});

/**
 * An item's product snapshot is kept from the order's creation and its tracking is taken from
 * the later event: in one batch the two make one row larger than either event's.
 */
async function mergedTooLarge(t: TestContext, server: PrivateServer) {
  const { db, pool } = await migratedPool(t, server);
  const ORDER = hexId(1, "5b");
  const order = (second: number, edit: (item: Record<string, unknown>) => void) => {
    const data = structuredClone(fixture("order.created").value.data) as { items: Record<string, unknown>[] };
    data.items = data.items.slice(0, 1);
    edit(data.items[0] as Record<string, unknown>);
    const e = emit("order.created", ORDER, { ...data, id: ORDER } as never, { timestamp: at(second) });
    return decodeValue(Buffer.from(JSON.stringify(e.value))).op as Op;
  };
  const snapshot = (n: number) =>
    order(1, (item) => {
      (item.product_snapshot as Record<string, unknown>).variant_attributes = { big: "x".repeat(n) };
      item.tracking_number = null;
      item.carrier = null;
    });
  let fits = 0;
  for (let step = 1 << 16; step >= 1; step >>= 1)
    if (tooLarge(snapshot(fits + step), PACKET) === undefined) fits += step;
  const tracked = order(2, (item) => {
    item.tracking_number = "😀".repeat(100);
    item.carrier = "😀".repeat(100);
  });
  assert.equal(tooLarge(tracked, PACKET), undefined);
  // Every statement's size, as sent: the one row of both must not be, refused or not.
  let largest = 0;
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = async () => {
    const conn = await getConnection();
    const query = conn.query.bind(conn) as (sql: string, values?: unknown) => Promise<unknown>;
    Object.assign(conn, {
      query: (sql: string, values?: unknown) => {
        largest = Math.max(largest, Buffer.byteLength(sql) + 1);
        return query(sql, values);
      },
    });
    return conn;
  };
  const { outcomes } = await applyBatch(pool, [snapshot(fits), tracked]);
  assert.ok(largest < PACKET, `a statement of ${largest} bytes was sent`);
  assert.deepEqual(
    outcomes.map((o) => o.kind),
    ["applied", "applied"],
  );
  const [row] = await db.query<{ j: number; t: number }>(
    "SELECT LENGTH(variant_attributes_json) AS j, CHAR_LENGTH(tracking_number) AS t FROM order_items",
  );
  assert.ok(Number(row?.j) > fits, `the snapshot kept: ${row?.j}`);
  assert.equal(Number(row?.t), 100, "the tracking applied");
}

/**
 * The server refuses a packet of exactly max_allowed_packet bytes: the largest row let through
 * must be one byte less, in the packet MySQL 8.0 reads (query attributes: two bytes more than
 * MariaDB's, which then takes two bytes more than is let through).
 */
async function atTheLimit(t: TestContext, server: PrivateServer) {
  const { db, pool } = await migratedPool(t, server);
  const op = (avatar: string) => userOp(1, avatar);
  let fits = 0;
  for (let step = 1 << 16; step >= 1; step >>= 1)
    if (tooLarge(op("a".repeat(fits + step)), PACKET) === undefined) fits += step;
  // The statement as it is sent for a row already there (an upsert), after the command byte and
  // the query attributes' two counts: one byte under the limit.
  assert.equal(
    Buffer.byteLength(upsertRows(usersTable, [op("a".repeat(fits)).row], userUpdateColumns).sql) + 3,
    PACKET - 1,
  );
  assert.deepEqual((await applyBatch(pool, [op("")])).outcomes, [{ kind: "applied" }]);
  const kinds = async (avatar: string) =>
    (await applyBatch(pool, [{ ...op(avatar), ts: "2026-04-01 00:00:01.000000" }])).outcomes.map((o) =>
      o.kind === "rejected" ? o.error.reason : o.kind,
    );
  assert.deepEqual(await kinds("a".repeat(fits)), ["applied"]);
  assert.deepEqual(await kinds("a".repeat(fits + 1)), ["too_large"]);
  const [row] = await db.query<{ n: number }>("SELECT CHAR_LENGTH(avatar) AS n FROM users");
  assert.equal(Number(row?.n), fits);
}

async function backlog(t: TestContext, server: PrivateServer) {
  const db = await testDatabase(t, server.port);
  const topics = await testTopics(t, PARTITIONS);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, {
    MYSQL_PORT: String(server.port),
    // Long enough for the backlog to come in large batches: the point is many rows per transaction.
    BATCH_LINGER_MS: "300",
  });
  const sources = topics.all.filter((x) => x !== topics.dlq);

  // 40 users of ~8 KB each, together several times the limit; the 20th has an avatar of single
  // quotes, each escaped to two bytes: 40,000 of them are valid (TEXT) but 80 KB as SQL.
  const events = Array.from({ length: 40 }, (_, i) =>
    user(i + 1, i + 1 === 20 ? "'".repeat(40_000) : `${"x".repeat(8000)}${i + 1}`),
  );
  await produce(producer, topics.prefix, events);

  const inserts = async () => {
    const [rows] = await db.conn.query("SHOW GLOBAL STATUS LIKE 'Com_insert'");
    return Number((rows as { Value: string }[])[0]?.Value);
  };
  const insertsBefore = await inserts();
  const batches: BatchReport[] = [];
  await testService(t, config, { onBatch: (b) => batches.push(b) });
  await waitFor("the backlog committed", () => caughtUp(config.kafkaGroupId, sources, PARTITIONS), 60000);

  const users = await db.query<{ user_id: string; n: number }>(
    "SELECT user_id, LENGTH(avatar) AS n FROM users ORDER BY user_id",
  );
  assert.deepEqual(
    users.map((u) => u.user_id),
    events.map((e) => e.key).filter((k) => k !== id(20)),
    "every user but the 20th",
  );
  assert.ok(
    users.every((u) => u.n >= 8001),
    "avatars whole",
  );
  const userEvents = batches.map((b) => b.events.filter((e) => e.eventType === "user.created").length);
  assert.ok(Math.max(...userEvents) >= 10, `users per batch: ${userEvents.join(", ")}`);
  // 39 rows of ~8 KB in statements of at most 64 KiB: two a statement.
  assert.ok((await inserts()) - insertsBefore >= 19, "the rows went in many INSERTs");

  const [letter] = await readTopic(topics.dlq, 1);
  assert.equal(letter?.key, id(20));
  assert.equal(letter?.headers.get(DLQ_HEADERS.code), "too_large");
  assert.match(
    letter?.headers.get(DLQ_HEADERS.reason) ?? "",
    /^row for users is 8\d,\d{3} bytes; the server's max_allowed_packet is 65,536$/,
  );

  // And the service goes on.
  await produce(producer, topics.prefix, [user(41, "after")]);
  await waitFor("a later user", async () => (await db.query("SELECT 1 FROM users WHERE user_id = ?", [id(41)])).length);
}

async function droppedConnection(t: TestContext, server: PrivateServer) {
  const { db, pool } = await migratedPool(t, server);

  const op = userOp;
  // Told a larger limit than the server has (as after the server was restarted with a smaller
  // one), the batch sends a statement the server refuses. Depending on timing the client sees
  // the connection reset (an outage, retried) or error 1153 (this event rejected).
  const big = op(1, "'".repeat(40_000));
  try {
    const { outcomes } = await applyBatch(pool, [big], { maxAllowedPacket: 1 << 26 });
    assert.equal(outcomes[0]?.kind, "rejected");
  } catch (err) {
    assert.ok(err instanceof DatabaseUnavailableError, String(err));
  }
  // The next batch gets a working connection and, reading the limit again, refuses the row
  // before sending it and applies its neighbour.
  const { outcomes } = await applyBatch(pool, [big, op(2, "ok")]);
  assert.deepEqual(
    outcomes.map((o) => (o.kind === "rejected" ? o.error.reason : o.kind)),
    ["too_large", "applied"],
  );
  assert.deepEqual(await db.query("SELECT user_id FROM users"), [{ user_id: id(2) }]);
}
