import assert from "node:assert/strict";
import { test } from "node:test";
import { databaseAnswers } from "./readiness.ts";

// /readyz asks the database with `SELECT 1`. Hostile or impatient probes must not queue one query
// each in the pool while its connections are held (the pool's queue has no bound).

/** A pool whose queries wait until `answer` is called, counting them. */
function heldPool() {
  let queries = 0;
  let answer: () => void = () => {};
  const pool = {
    query: () => {
      queries++;
      return new Promise((resolve) => {
        answer = () => resolve([[{ 1: 1 }], []]);
      });
    },
  };
  return { pool: pool as never, queries: () => queries, answer: () => answer() };
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
  held.answer();
  assert.equal(await next, true);
  assert.equal(held.queries(), 2);
});

test("a failed ping is not ready, and the next probe asks again", async () => {
  let queries = 0;
  const pool = {
    query: () => {
      queries++;
      return Promise.reject(new Error("gone"));
    },
  };
  assert.equal(await databaseAnswers(pool as never, 1000), false);
  assert.equal(await databaseAnswers(pool as never, 1000), false);
  assert.equal(queries, 2);
});
