import assert from "node:assert/strict";
import { test } from "node:test";
import { DatabaseProgress, databaseAnswers } from "./readiness.ts";

// /readyz asks the database with `SELECT 1`. Hostile or impatient probes must not queue one query
// each in the pool while its connections are held (the pool's queue has no bound).
// While the service's own transactions hold them and commit, MySQL answers.

/** A pool handing out connections that run `query`, counting those destroyed and released. */
function pooled(query: () => Promise<unknown>) {
  const counts = { destroyed: 0, released: 0 };
  const pool = {
    getConnection: async () => ({
      query,
      destroy: () => void counts.destroyed++,
      release: () => void counts.released++,
    }),
    counts,
  };
  return pool as typeof pool & never;
}

/** A pool whose queries wait until `answer` is called, counting them. */
function heldPool() {
  let queries = 0;
  let answer: () => void = () => {};
  const pool = pooled(() => {
    queries++;
    return new Promise((resolve) => {
      answer = () => resolve([[{ 1: 1 }], []]);
    });
  });
  return { pool, queries: () => queries, answer: () => answer() };
}

test("probes while the ping waits share it: one query in the pool, however many probes", async () => {
  const held = heldPool();
  const probes = await Promise.all(Array.from({ length: 1000 }, () => databaseAnswers(held.pool, 20)));
  assert.ok(
    probes.every((ready) => ready === false),
    "a ping with no answer is not ready",
  );
  // Later probes, after the first gave up, still wait for the same query.
  assert.equal(await databaseAnswers(held.pool, 20), false);
  assert.equal(held.queries(), 1);
  held.answer();
  await new Promise((resolve) => setImmediate(resolve));
  // Answered: the next probe asks again, and is answered.
  const next = databaseAnswers(held.pool, 1000);
  await new Promise((resolve) => setImmediate(resolve));
  held.answer();
  assert.equal(await next, true);
  assert.equal(held.queries(), 2);
});

test("a failed ping is not ready, and the next probe asks again", async () => {
  let queries = 0;
  const pool = pooled(() => {
    queries++;
    return Promise.reject(new Error("gone"));
  });
  assert.equal(await databaseAnswers(pool, 1000), false);
  assert.equal(await databaseAnswers(pool, 1000), false);
  assert.equal(queries, 2);
});

test("a connection that holds the ping unanswered is destroyed, and the next probe asks on another", async () => {
  let queries = 0;
  const pool = pooled(() => {
    queries++;
    // The first connection went silent; the pool's next one answers.
    return queries === 1 ? new Promise(() => {}) : Promise.resolve([[{ 1: 1 }], []]);
  });
  assert.equal(await databaseAnswers(pool, 20, 100), false);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal((pool as unknown as { counts: { destroyed: number } }).counts.destroyed, 1);
  assert.equal(await databaseAnswers(pool, 1000, 100), true);
  assert.equal(queries, 2);
});

/** A pool every connection of which is held: getConnection waits, counting the callers. */
function busyPool() {
  let asked = 0;
  const pool = {
    getConnection: () => {
      asked++;
      return new Promise(() => {});
    },
  };
  return { pool: pool as typeof pool & never, asked: () => asked };
}

test("a ping waiting behind the service's own transactions answers if one committed lately", async () => {
  const busy = busyPool();
  const progress = new DatabaseProgress();
  progress.answered();
  assert.equal(await databaseAnswers(busy.pool, 20, 100, progress, 10000), true);
  assert.equal(await databaseAnswers(busy.pool, 20, 100, progress, 10000), true);
  // Still one ping in the pool's queue: the answer comes from the commits, not from more pings.
  assert.equal(busy.asked(), 1);
});

test("a ping waiting with no commit lately, or none at all, does not answer", async () => {
  const busy = busyPool();
  const progress = new DatabaseProgress();
  assert.equal(await databaseAnswers(busy.pool, 20, 100, progress, 10000), false, "no commit yet");
  progress.answered();
  // The wait outlasts how recent a commit must be: the server may have stopped answering since.
  assert.equal(await databaseAnswers(busy.pool, 20, 100, progress, 10), false, "a commit too long ago");
});

test("a failed ping does not answer, however lately a transaction committed", async () => {
  const pool = { getConnection: () => Promise.reject(new Error("connect ECONNREFUSED")) } as never;
  const progress = new DatabaseProgress();
  progress.answered();
  assert.equal(await databaseAnswers(pool, 1000, 100, progress, 10000), false);
});
