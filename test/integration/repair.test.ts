import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { type TestContext, test } from "node:test";
import type { EmittedEvent } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  CLI,
  caughtUp,
  produce,
  type TestDatabase,
  type TestTopics,
  testConfig,
  testDatabase,
  testEnv,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// `analytics-service repair` unfreezes an entity that an event stamped in 9999 froze, with the
// service running: the later real events it skipped apply once they are sent again.
//
// MAX_CLOCK_SKEW_MS now dead-letters such an event, so the frozen state is made as it arose
// before that guard: the event goes in a record without a timestamp (-1, as producers older than
// Kafka 0.10 write it), which leaves the guard nothing to compare with.

const FUTURE = "9999-12-31T23:59:59+00:00";
const FUTURE_DB = "9999-12-31 23:59:59.000000";

/** The fixture of `type`, as a new event (its own event_id) at `timestamp`. */
function event(type: string, timestamp: string): EmittedEvent {
  const e = fixture(type);
  e.value.event_id = randomUUID();
  e.value.timestamp = timestamp;
  return e;
}

/** A user.updated at `timestamp` that names the user `name`. */
function renamed(name: string, timestamp: string): EmittedEvent {
  const e = event("user.updated", timestamp);
  (e.value.data as { profile: { display_name: string } }).profile.display_name = name;
  return e;
}

async function setup(t: TestContext) {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  // The guard off, as before it existed: that is how such rows were frozen.
  const config = testConfig(db, topics, { MAX_CLOCK_SKEW_MS: "1000000000000000" });
  await testService(t, config);
  const producer = await testProducer(t);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const settled = () => waitFor("all committed", () => caughtUp(config.kafkaGroupId, sources));
  return { db, topics, producer, settled };
}

const repair = (db: TestDatabase, topics: TestTopics, args: string[]) =>
  spawnSync(process.execPath, [CLI, "repair", ...args], {
    env: { PATH: process.env.PATH ?? "", ...testEnv(db, topics) },
    encoding: "utf8",
    timeout: 60000,
  });

test("a user frozen by an update stamped 9999: repair, and the skipped update applies when sent again", async (t) => {
  const { db, topics, producer, settled } = await setup(t);
  const id = fixture("user.created").key;
  const user = async () =>
    (
      await db.query<{ display_name: string; ts: string | null }>(
        "SELECT display_name, event_timestamp AS ts FROM users WHERE user_id = ?",
        [id],
      )
    )[0];

  await produce(producer, topics.prefix, [fixture("user.created")]);
  await settled();
  await produce(producer, topics.prefix, [renamed("From the future", FUTURE)]);
  await settled();
  assert.deepEqual(await user(), { display_name: "From the future", ts: FUTURE_DB });

  const later = renamed("Later", "2026-03-01T00:00:00+00:00");
  await produce(producer, topics.prefix, [later]);
  await settled();
  assert.deepEqual(await user(), { display_name: "From the future", ts: FUTURE_DB }, "skipped as older");

  const dry = repair(db, topics, ["users", id, "--dry-run"]);
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal(
    dry.stdout,
    `users ${id}: would set event_timestamp ${FUTURE_DB} (in the future) to NULL; the row's columns stay\n` +
      "dry run: nothing changed\n",
  );
  assert.deepEqual(await user(), { display_name: "From the future", ts: FUTURE_DB }, "a dry run changes nothing");

  const done = repair(db, topics, ["users", id]);
  assert.equal(done.status, 0, done.stderr);
  assert.match(done.stdout, new RegExp(`^users ${id}: set event_timestamp ${FUTURE_DB} \\(in the future\\) to NULL`));
  assert.deepEqual(await user(), { display_name: "From the future", ts: null });
  const again = repair(db, topics, ["users", id]);
  assert.equal(again.status, 1);
  assert.equal(
    again.stderr,
    `analytics-service: repair: users ${id}: nothing to repair: its row has no event_timestamp (nothing holds events back) and users have no tombstones\n`,
  );

  await produce(producer, topics.prefix, [later]);
  await settled();
  assert.deepEqual(await user(), { display_name: "Later", ts: "2026-03-01 00:00:00.000000" });
});

test("a product deleted in 9999: repair deletes the tombstone, and the restore applies when sent again", async (t) => {
  const { db, topics, producer, settled } = await setup(t);
  const id = fixture("product.created").key;
  const tombstones = () =>
    db.query<{ ts: string }>(
      "SELECT deleted_event_timestamp AS ts FROM entity_tombstones WHERE entity_type = 'products' AND entity_id = ?",
      [id],
    );
  const product = async () =>
    (
      await db.query<{ status: string; ts: string }>(
        "SELECT status, event_timestamp AS ts FROM products WHERE product_id = ?",
        [id],
      )
    )[0];

  await produce(producer, topics.prefix, [fixture("supplier.created"), fixture("product.created")]);
  await settled();
  const deleted = event("product.deleted", FUTURE);
  await produce(producer, topics.prefix, [deleted]);
  await settled();
  assert.equal(await product(), undefined);
  assert.deepEqual(await tombstones(), [{ ts: FUTURE_DB }]);

  const restored = event("product.restored", "2026-03-01T00:00:00+00:00");
  await produce(producer, topics.prefix, [restored]);
  await settled();
  assert.equal(await product(), undefined, "the restore is older than the tombstone: skipped");

  const dry = repair(db, topics, ["products", id, "--dry-run"]);
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal(
    dry.stdout,
    `products ${id}: would delete its tombstone of ${FUTURE_DB} (in the future), event ${deleted.value.event_id}\n` +
      "dry run: nothing changed\n",
  );
  assert.deepEqual(await tombstones(), [{ ts: FUTURE_DB }], "a dry run changes nothing");

  const done = repair(db, topics, ["products", id]);
  assert.equal(done.status, 0, done.stderr);
  assert.match(done.stdout, new RegExp(`^products ${id}: deleted its tombstone of ${FUTURE_DB}`));
  assert.deepEqual(await tombstones(), []);
  const again = repair(db, topics, ["products", id]);
  assert.equal(again.status, 1);
  assert.equal(again.stderr, `analytics-service: repair: products ${id}: nothing to repair: no row and no tombstone\n`);

  await produce(producer, topics.prefix, [restored]);
  await settled();
  const status = (restored.value.data as { status: string }).status;
  assert.deepEqual(await product(), { status, ts: "2026-03-01 00:00:00.000000" });
});

test("a healthy row is not repaired: one line, exit status 1, nothing changed; --force clears it anyway", async (t) => {
  const { db, topics, producer, settled } = await setup(t);
  const id = fixture("user.created").key;
  const version = async () =>
    (await db.query<{ ts: string | null }>("SELECT event_timestamp AS ts FROM users WHERE user_id = ?", [id]))[0]?.ts;
  await produce(producer, topics.prefix, [fixture("user.created")]);
  await settled();
  const before = await version();
  assert.ok(before);

  const refused = repair(db, topics, ["users", id]);
  assert.equal(refused.status, 1);
  assert.equal(
    refused.stderr,
    `analytics-service: repair: users ${id} is not frozen: nothing it holds is ahead of now by more than MAX_CLOCK_SKEW_MS, so its events apply; clearing its guards would let older events overwrite it (--force does it anyway)\n`,
  );
  assert.equal(await version(), before);

  const forced = repair(db, topics, ["users", id, "--force"]);
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(await version(), null);
});
