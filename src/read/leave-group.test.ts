import assert from "node:assert/strict";
import { test } from "node:test";
import { capturingLogger } from "../testing/support.ts";
import { closeConsumer } from "./leave-group.ts";

test("a consumer's close that gets no answer is given up on after its time, with one line", async () => {
  const { log, lines } = capturingLogger();
  await closeConsumer({ close: () => new Promise<void>(() => {}) }, 30000, log, 20);
  assert.equal(lines.length, 1);
  assert.match(
    String(lines[0]?.msg),
    /^leaving the consumer group got no answer within 0.02 s .* after KAFKA_SESSION_TIMEOUT_MS \(30 s\)$/,
  );
});

test("a close that ends in time says nothing; one that fails throws, for the closers to log", async () => {
  const { log, lines } = capturingLogger();
  await closeConsumer({ close: async () => {} }, 30000, log, 1000);
  await assert.rejects(
    closeConsumer({ close: async () => Promise.reject(new Error("boom")) }, 30000, log, 1000),
    /boom/,
  );
  assert.deepEqual(lines, []);
});
