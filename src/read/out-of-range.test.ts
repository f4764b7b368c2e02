import assert from "node:assert/strict";
import { test } from "node:test";
import { capturingLogger } from "../testing/support.ts";
import { LINES_PER_TOPIC, warnOutOfRange } from "./out-of-range.ts";

// The broker's answers for a topic of 1,000 partitions, each log now starting at 100 and ending at 150.
const PARTITIONS = 1000;
const broker = {
  listOffsets: async ({ timestamp }: { topics: string[]; timestamp: bigint }) =>
    new Map([["user", Array.from({ length: PARTITIONS }, () => (timestamp === -2n ? 100n : 150n))]]),
};

test("retention past a group on every partition of a topic: a line each for the first ten, one for the rest", async () => {
  const { log, lines } = capturingLogger();
  const found = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: "user", partition, requested: 40n }));
  await warnOutOfRange(broker as never, found, "earliest", log);
  assert.equal(lines.length, LINES_PER_TOPIC + 1);
  assert.equal(
    lines.filter((l) => /^user\/\d+: offset 40 is no longer in the log \(offsets 100–149 are\)/.test(String(l.msg)))
      .length,
    LINES_PER_TOPIC,
  );
  assert.ok(
    lines.some(
      (l) =>
        l.msg ===
        "user: 990 more partitions had their offsets no longer in the log, 59400 offsets in all deleted (retention) before the group read them; each reads on from its start (KAFKA_AUTO_OFFSET_RESET=earliest)",
    ),
  );
});

test("up to ten partitions of a topic: a line each", async () => {
  const { log, lines } = capturingLogger();
  const found = Array.from({ length: LINES_PER_TOPIC }, (_, partition) => ({
    topic: "user",
    partition,
    requested: 40n,
  }));
  await warnOutOfRange(broker as never, found, "latest", log);
  assert.equal(lines.length, LINES_PER_TOPIC);
});
