import assert from "node:assert/strict";
import { test } from "node:test";
import { heldBack } from "./fetch-budget.ts";
import { FetchRotation } from "./fetch-rotation.ts";

const asked = [
  { topicId: "t1", partitions: [{ partition: 0 }] },
  { topicId: "t1", partitions: [{ partition: 1 }] },
  { topicId: "t2", partitions: [{ partition: 0 }] },
];
const answer = (withRecords: [string, number][], without: [string, number][] = []) => ({
  responses: [
    ...withRecords.map(([topicId, p]) => ({ topicId, partitions: [{ partitionIndex: p, records: [{}] }] })),
    ...without.map(([topicId, p]) => ({ topicId, partitions: [{ partitionIndex: p, records: [] }] })),
  ],
});

test("after a response that held a first batch back, the partitions that got records sit out one fetch", () => {
  const rotation = new FetchRotation();
  const heard = rotation.sent();
  heldBack(true);
  heard(answer([["t1", 0]], [["t1", 1]]));
  assert.deepEqual(rotation.request(asked), [asked[1], asked[2]]);
  assert.equal(rotation.request(asked), asked, "only the next fetch");
});

test("nothing sits out when no first batch was held back, or only a later batch", () => {
  const rotation = new FetchRotation();
  const heard = rotation.sent();
  heldBack(false);
  heard(answer([["t1", 0]]));
  assert.equal(rotation.request(asked), asked);
});

test("a fetch is never left with no partition", () => {
  const rotation = new FetchRotation();
  const heard = rotation.sent();
  heldBack(true);
  heard(answer([["t1", 0]]));
  const only = [asked[0] as (typeof asked)[number]];
  assert.equal(rotation.request(only), only);
});

test("a partition sits out the next fetch that asks for it: another broker's fetch, sent first, leaves it", () => {
  const rotation = new FetchRotation();
  const heard = rotation.sent();
  heldBack(true);
  heard(answer([["t1", 0]], [["t1", 1]]));
  const otherBroker = [asked[2] as (typeof asked)[number]];
  assert.deepEqual(rotation.request(otherBroker), otherBroker);
  assert.deepEqual(rotation.request(asked.slice(0, 2)), [asked[1]]);
  assert.deepEqual(rotation.request(asked.slice(0, 2)), asked.slice(0, 2), "once");
});
