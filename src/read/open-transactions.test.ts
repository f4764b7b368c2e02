import assert from "node:assert/strict";
import { test } from "node:test";
import { capturingLogger } from "../testing/support.ts";
import { OpenTransactionWatch } from "./open-transactions.ts";

test("a partition held back by an open transaction is said once after the threshold, and again once when it moves on", () => {
  const { log, lines } = capturingLogger();
  let now = 0;
  const watch = new OpenTransactionWatch(log, 60_000, () => now);
  const held = [{ topic: "p.user", partition: 1, stable: 5n, end: 8n }];
  watch.observe(held);
  now = 59_000;
  watch.observe(held);
  assert.equal(lines.length, 0, "a transaction open for less than the threshold is normal");
  now = 60_000;
  watch.observe(held);
  now = 65_000;
  watch.observe(held);
  assert.equal(lines.length, 1, "said once");
  assert.match(
    String(lines[0]?.msg),
    /^an upstream transaction left open for 60 s or more holds back p\.user partition 1 at offset 5 \(3 records behind it\): .*transaction\.timeout\.ms; kafka-transactions\.sh find-hanging/,
  );
  now = 70_000;
  watch.observe([]);
  assert.equal(lines.length, 2);
  assert.match(String(lines[1]?.msg), /^p\.user:1: no longer held back by an open transaction \(held for 70 s\)$/);
  // A stable offset that moves starts the count again: a stream of short transactions is not said.
  for (let i = 0; i < 100; i++) {
    now += 10_000;
    watch.observe([{ topic: "p.user", partition: 1, stable: BigInt(10 + i), end: BigInt(20 + i) }]);
  }
  assert.equal(lines.length, 2);
});

test("many partitions held at once are said in one line, ten named and the rest counted", () => {
  const { log, lines } = capturingLogger();
  let now = 0;
  const watch = new OpenTransactionWatch(log, 1000, () => now);
  const held = Array.from({ length: 25 }, (_, partition) => ({ topic: "user", partition, stable: 1n, end: 2n }));
  watch.observe(held);
  now = 1000;
  watch.observe(held);
  assert.equal(lines.length, 1);
  assert.match(String(lines[0]?.msg), /user partition 9 at offset 1 \(1 records behind it\) and 15 more partitions: /);
});

test("many partitions moving on at once are said in one line, however many there are", () => {
  const { log, lines } = capturingLogger();
  let now = 0;
  const watch = new OpenTransactionWatch(log, 1000, () => now);
  const held = Array.from({ length: 300 }, (_, partition) => ({ topic: "user", partition, stable: 1n, end: 2n }));
  watch.observe(held);
  now = 1000;
  watch.observe(held);
  assert.equal(lines.length, 1);
  assert.equal((lines[0]?.partitions as unknown[]).length, 10, "the warning's fields name ten, like its text");
  now = 2000;
  watch.observe([]);
  assert.equal(lines.length, 2, "one line for the 300 partitions that moved on");
  assert.match(
    String(lines[1]?.msg),
    /^no longer held back by an open transaction: user:0 \(held for 2 s\), .*user:9 \(held for 2 s\) and 290 more partitions$/,
  );
});

test("a held partition whose lag was not read this turn (its leader down) is neither said moved on nor restarted", () => {
  const { log, lines } = capturingLogger();
  let now = 0;
  const watch = new OpenTransactionWatch(log, 60_000, () => now);
  const held = [{ topic: "p.user", partition: 1, stable: 5n, end: 8n }];
  watch.observe(held);
  now = 30_000;
  watch.observe([], new Set(["p.user:1"]));
  assert.equal(lines.length, 0, "not said moved on: nothing is known of it this turn");
  now = 60_000;
  watch.observe(held);
  assert.equal(lines.length, 1, "held since 0, said at the threshold");
  assert.match(
    String(lines[0]?.msg),
    /^an upstream transaction left open for 60 s or more holds back p\.user partition 1/,
  );
});
