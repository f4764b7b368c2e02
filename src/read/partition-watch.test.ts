import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { capturingLogger } from "../testing/support.ts";
import { PartitionWatch, rejoinOnGroupErrors } from "./partition-watch.ts";

const lag = (counts: Record<string, number>) =>
  new Map(Object.entries(counts).map(([topic, n]) => [topic, Array.from({ length: n }, () => 0n)]));

test("a topic whose partition count grew is named once, against the counts known before the group was joined", () => {
  const watch = new PartitionWatch(
    new Map([
      ["p.user", 1],
      ["p.order", 3],
    ]),
  );
  assert.deepEqual(watch.grown(lag({ "p.user": 1, "p.order": 3 })), []);
  assert.deepEqual(watch.grown(lag({ "p.user": 2, "p.order": 3 })), ["p.user (1 → 2)"]);
  assert.deepEqual(watch.grown(lag({ "p.user": 2, "p.order": 3 })), [], "said once");
  assert.deepEqual(watch.grown(lag({ "p.user": 4, "p.order": 6 })), ["p.user (2 → 4)", "p.order (3 → 6)"]);
  // A stale answer with fewer is not taken for the truth: the next full answer is no news.
  assert.deepEqual(watch.grown(lag({ "p.user": 1 })), []);
  assert.deepEqual(watch.grown(lag({ "p.user": 4 })), []);
});

test("a topic that appeared after the start counts as grown; one missing from a report is left alone", () => {
  const watch = new PartitionWatch(new Map([["p.user", 2]]));
  assert.deepEqual(watch.grown(lag({ "p.post": 3 })), ["p.post (0 → 3)"]);
  assert.deepEqual(watch.grown(lag({ "p.user": 2 })), []);
});

test("a topic created again under its name (a new id) is named, and its count is what growth is measured from", () => {
  const ids = (id: string) => new Map([["p.user", id]]);
  const watch = new PartitionWatch(new Map([["p.user", 6]]), ids("a"));
  assert.deepEqual(watch.grown(lag({ "p.user": 6 }), ids("a")), []);
  assert.deepEqual(watch.grown(lag({ "p.user": 2 }), ids("b")), ["p.user (created again: 6 → 2)"]);
  assert.deepEqual(watch.grown(lag({ "p.user": 2 }), ids("b")), [], "said once");
  assert.deepEqual(watch.grown(lag({ "p.user": 3 }), ids("b")), ["p.user (2 → 3)"]);
  // A stale answer with fewer, under the same id, is still no news.
  assert.deepEqual(watch.grown(lag({ "p.user": 2 }), ids("b")), []);
  assert.deepEqual(watch.grown(lag({ "p.user": 3 }), ids("b")), []);
});

test("the group consumer's 'error' (a rejoin of its own failed) is heard: a rejoin, a line a minute, no crash", () => {
  const group = new EventEmitter();
  const { log, lines } = capturingLogger("warn");
  const why: string[] = [];
  rejoinOnGroupErrors(
    group as never,
    (w) => why.push(w),
    (err) => `(${(err as Error).message})`,
    log,
  );
  const unknown = new Error("Unknown topic t.order.");
  // An EventEmitter with no 'error' listener throws the error: the process stopped.
  for (let i = 0; i < 3; i++) group.emit("error", unknown);
  assert.deepEqual(why, Array(3).fill("the consumer group could not be joined again: (Unknown topic t.order.)"));
  assert.deepEqual(
    lines.map((l) => l.msg),
    [
      "Kafka: the consumer group could not be joined again: (Unknown topic t.order.); consuming again from the committed offsets",
    ],
  );
});

test("the count of the group's error lines left out is logged when flushed at shutdown", () => {
  const group = new EventEmitter();
  const { log, lines } = capturingLogger("warn");
  const errors = rejoinOnGroupErrors(
    group as never,
    () => {},
    (err) => `(${(err as Error).message})`,
    log,
  );
  errors.flushWarnings();
  assert.equal(lines.length, 0, "nothing left out, nothing said");
  for (let i = 0; i < 5; i++) group.emit("error", new Error("Unknown topic t.order."));
  assert.equal(lines.length, 1, "one line a minute");
  errors.flushWarnings();
  assert.equal(lines.length, 2);
  assert.equal(lines.at(-1)?.suppressed, 4);
  assert.match(String(lines.at(-1)?.msg), /^4 more warnings like the above were left out \(at most 1 per 60 s\)$/);
  errors.flushWarnings();
  assert.equal(lines.length, 2, "counted once");
});
