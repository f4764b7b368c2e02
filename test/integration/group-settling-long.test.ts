import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config/index.ts";
import { membershipData } from "../../src/read/group-database.ts";
import { startService } from "../../src/service.ts";
import { capturingLogger, privatePort, testDatabase, testEnv, testTopics, waitFor } from "../support/helpers.ts";
import { rawMember, subscription } from "../support/raw-group.ts";

// A member that stays in the group (it heartbeats) but does not join again when the group
// rebalances, as a consumer busy in a long poll loop: the broker waits up to its rebalance timeout.

test("a start held by a group that stays rebalancing says so, in the log and on /readyz", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const env = testEnv(db, topics);
  const other = { id: "22222222-2222-2222-2222-222222222222", name: "theirs at db2:3306" };
  await rawMember(t, env.KAFKA_GROUP_ID as string, subscription(["x"], membershipData(other)), true, 120000);
  // Another member joins: the group waits for the first to join again, which it never does.
  await rawMember(t, env.KAFKA_GROUP_ID as string, subscription(["x"], Buffer.alloc(0)), false);
  const { log, lines } = capturingLogger();
  const port = await privatePort();
  const cancel = new AbortController();
  const starting = startService(
    loadConfig({ ...env, METRICS_PORT: String(port), LOG_LEVEL: "info" }),
    log,
    {},
    cancel.signal,
  ).catch((err: unknown) => err);
  t.after(async () => {
    cancel.abort();
    const s = await starting;
    if (s && typeof (s as { stop?: unknown }).stop === "function") await (s as { stop: () => Promise<void> }).stop();
  });
  const said = await waitFor(
    "the wait to be said",
    async () => lines.find((l) => /rebalanc/.test(String(l.msg))),
    25000,
  ).catch(() => undefined);
  const ready = await (await fetch(`http://127.0.0.1:${port}/readyz`)).text();
  assert.ok(said, "nothing said of the rebalance that holds the start");
  assert.match(ready, /rebalanc/);
});
