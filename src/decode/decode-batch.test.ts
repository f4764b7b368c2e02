import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeBatch } from "./decode-batch.ts";

// A batch of costly events must not hold the thread for the whole batch: timers (the consumer's
// heartbeats among them) run between slices. Each "event" here busy-waits longer than a slice.

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

test("a timer due during a batch of slow events runs before the batch is done, and the order is kept", async () => {
  const seen: string[] = [];
  setTimeout(() => seen.push("timer"), 0);
  const decoded = await decodeBatch([0, 1, 2, 3], (n) => {
    busy(30);
    seen.push(`event ${n}`);
    return n * 10;
  });
  assert.deepEqual(decoded, [0, 10, 20, 30]);
  assert.ok(seen.indexOf("timer") < seen.indexOf("event 3"), seen.join(", "));
});

test("a batch of quick events is decoded without waiting for a turn of the event loop", async () => {
  const seen: string[] = [];
  setImmediate(() => seen.push("turn"));
  const done = decodeBatch(
    [1, 2, 3],
    (n) => {
      seen.push(`event ${n}`);
      return n;
    },
    1_000,
  );
  seen.push("returned");
  assert.deepEqual(await done, [1, 2, 3]);
  // Resolved before the immediate queued ahead of it ran: no turn was waited for.
  assert.deepEqual(seen, ["event 1", "event 2", "event 3", "returned"]);
});
