import assert from "node:assert/strict";
import { test } from "node:test";
import mysql from "mysql2/promise";
import { emit } from "../../src/generate/emit.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { startPrivateServer, stopPrivateServer } from "../../tools/stack/mariadb-server.ts";
import {
  capturingLogger,
  caughtUp,
  hexId,
  produce,
  stack,
  testConfig,
  testDatabase,
  testMariaServer,
  testProducer,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// The database goes away twice while the service has work — once stopped cleanly, once killed —
// and comes back. The service waits, logs each outage once, resumes, and loses nothing.

const USERS = 100;
const id = (i: number) => hexId(i, "cc");
const wave = (version: number) =>
  Array.from({ length: USERS }, (_, i) =>
    emit("user.updated", id(i), { ...(fixture("user.created").value.data as object), version } as never, {
      timestamp: `2026-06-01T00:00:${String(version).padStart(2, "0")}.000001+00:00`,
    }),
  );

test("MySQL stopped and killed mid-stream: waited out, resumed, nothing lost", async (t) => {
  // A small buffer pool (the stack's STACK_MYSQL_BUFFER_POOL_MB): the server must keep it across restarts.
  const server = await testMariaServer(t, 64);
  const db = await testDatabase(t, server.port);
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  const config = testConfig(db, topics, { MYSQL_PORT: String(server.port), RETRY_MAX_BACKOFF_MS: "500" });
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  const outageLines = () => lines.filter((l) => String(l.msg).startsWith("MySQL unavailable"));
  const recoveryLines = () => lines.filter((l) => /^MySQL is back after/.test(String(l.msg)));

  await produce(producer, topics.prefix, wave(1));
  await waitFor("wave 1 committed", () => caughtUp(config.kafkaGroupId, sources));

  for (const [n, kill] of [
    [1, false],
    [2, true],
  ] as const) {
    await stopPrivateServer(server, { kill });
    await produce(producer, topics.prefix, wave(n + 1));
    await waitFor(`outage ${n} noticed`, async () => outageLines().length === n, 30000);
    assert.equal(await caughtUp(config.kafkaGroupId, sources), false, "nothing is committed while MySQL is down");
    await startPrivateServer(server);
    await waitFor(`wave ${n + 1} committed after outage ${n}`, () => caughtUp(config.kafkaGroupId, sources), 60000);
    assert.equal(recoveryLines().length, n);
    assert.equal(outageLines().length, n, "each outage is logged once, not once per retry");
  }

  const conn = await mysql.createConnection({
    host: "127.0.0.1",
    port: server.port,
    user: stack.mysqlAdminUser,
    database: db.name,
  });
  t.after(() => conn.end());
  const [rows] = await conn.query("SELECT version, COUNT(*) AS n FROM users GROUP BY version");
  assert.deepEqual(rows, [{ version: 3, n: USERS }]);
  const [[pool]] = (await conn.query("SELECT @@innodb_buffer_pool_size AS bytes")) as unknown as [[{ bytes: number }]];
  assert.equal(Number(pool?.bytes), 64 * 2 ** 20);
});
