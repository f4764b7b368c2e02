import assert from "node:assert/strict";
import { test } from "node:test";
import { defineTable, type Op } from "./ops.ts";
import { oneWriterTables, Writers, writerLane } from "./writers.ts";

const solo = defineTable("solo", "id", ["id"], { oneWriter: true });
const other = defineTable("other", "id", ["id"], { oneWriter: true });
const free = defineTable("free", "id", ["id"]);
const upsert = (table: typeof solo): Op => ({
  kind: "upsert",
  table,
  id: "1",
  row: { id: "1" },
  update: [],
  ts: "",
  eventId: "",
});

test("oneWriterTables names the oneWriter tables among the ops, in name order, and ignores outcomes", () => {
  assert.deepEqual(
    oneWriterTables([upsert(solo), upsert(free), { kind: "skipped", reason: "stale" }, upsert(other), upsert(solo)]),
    ["other", "solo"],
  );
  assert.deepEqual(oneWriterTables([upsert(free)]), []);
  assert.equal(writerLane([upsert(free), upsert(solo)]), "solo");
  assert.equal(writerLane([upsert(free)]), undefined);
});

test("Writers lets one holder of a name in at a time, in the order they asked, and others beside them", async () => {
  const writers = new Writers();
  const order: string[] = [];
  const first = await writers.acquire(["solo"]);
  let secondIn = false;
  const second = writers.acquire(["solo"]).then((release) => {
    secondIn = true;
    order.push("second");
    return release;
  });
  const third = writers.acquire(["solo"]).then((release) => {
    order.push("third");
    return release;
  });
  // Another name is not held up by them.
  const beside = await writers.acquire(["other"]);
  beside();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(secondIn, false, "the second waits while the first holds the name");
  first();
  (await second)();
  (await third)();
  assert.deepEqual(order, ["second", "third"]);
  // All let go: a new holder gets in at once.
  (await writers.acquire(["solo", "other"]))();
});
