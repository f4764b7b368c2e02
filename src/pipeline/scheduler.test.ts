import assert from "node:assert/strict";
import { test } from "node:test";
import { PartitionScheduler } from "./scheduler.ts";

/** A promise and the function that settles it. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

test("a partition's batches run in order; another partition's run beside them", async () => {
  const log: string[] = [];
  let released = 0;
  const scheduler = new PartitionScheduler(() => released++);
  const first = gate();
  scheduler.add(["a"], async () => {
    log.push("a1 start");
    await first.opened;
    log.push("a1 end");
  });
  scheduler.add(["a"], async (before) => {
    await Promise.all(before);
    log.push("a2");
  });
  scheduler.add(["b"], async (before) => {
    await Promise.all(before);
    log.push("b1");
  });
  assert.equal(scheduler.size, 3);
  assert.equal(scheduler.claims("a"), 2);
  assert.equal(scheduler.claims("b"), 1);
  await scheduler.any();
  assert.deepEqual(log, ["a1 start", "b1"], "b does not wait for a");
  first.open();
  await scheduler.settle();
  assert.deepEqual(log, ["a1 start", "b1", "a1 end", "a2"]);
  assert.equal(scheduler.size, 0);
  assert.equal(scheduler.claims("a"), 0);
  assert.equal(released, 3);
});

test("a batch of two partitions waits for both partitions' earlier batches", async () => {
  const scheduler = new PartitionScheduler();
  const a = gate();
  const b = gate();
  const log: string[] = [];
  scheduler.add(["a"], () => a.opened.then(() => void log.push("a")));
  scheduler.add(["b"], () => b.opened.then(() => void log.push("b")));
  scheduler.add(["a", "b", "a"], async (before) => {
    assert.equal(before.length, 2, "one wait per partition");
    await Promise.all(before);
    log.push("ab");
  });
  b.open();
  await scheduler.any();
  assert.deepEqual(log, ["b"]);
  a.open();
  await scheduler.settle();
  assert.deepEqual(log, ["b", "a", "ab"]);
});

test("a batch whose work fails still releases its partitions", async () => {
  const scheduler = new PartitionScheduler();
  const failures: unknown[] = [];
  scheduler.add(["a"], () => Promise.reject(new Error("boom")).catch((err: unknown) => void failures.push(err)));
  scheduler.add(["a"], async (before) => {
    await Promise.all(before);
  });
  await scheduler.settle();
  assert.equal(failures.length, 1);
  assert.equal(scheduler.claims("a"), 0);
});
