import assert from "node:assert/strict";
import { test } from "node:test";
import { type Assignment, OwnedPartitions } from "./owned-partitions.ts";

// Ownership is asked for each partition of every batch and commit: with thousands of partitions,
// walking the client's list of assignments for each key cost partitions × partitions.

/** Assignments whose partition lists count how often they are walked. */
function counted(topics: string[], partitions: number) {
  let walks = 0;
  const list: Assignment[] = topics.map((topic) => {
    const all = Array.from({ length: partitions }, (_, p) => p);
    return {
      topic,
      get partitions() {
        walks++;
        return all;
      },
    };
  });
  return { list, walks: () => walks };
}

test("asking about every one of 5,000 partitions walks the assignments once, not once per partition", () => {
  const topics = ["user", "supplier", "product", "order", "post"];
  const a = counted(topics, 1000);
  const owned = new OwnedPartitions(() => a.list);
  for (const topic of topics) for (let p = 0; p < 1000; p++) assert.equal(owned.owns(`${topic}:${p}`), true);
  assert.equal(owned.owns("user:1000"), false);
  assert.equal(owned.owns("other:0"), false);
  assert.equal(a.walks(), topics.length);
});

test("a new list of assignments (a rebalance) is read again; none (not joined) owns nothing", () => {
  let current: Assignment[] | null = [{ topic: "user", partitions: [0, 1] }];
  const owned = new OwnedPartitions(() => current);
  assert.equal(owned.owns("user:1"), true);
  current = [{ topic: "user", partitions: [0] }];
  assert.equal(owned.owns("user:1"), false);
  assert.equal(owned.owns("user:0"), true);
  current = null;
  assert.equal(owned.owns("user:0"), false);
  current = [];
  assert.equal(owned.owns("user:0"), false);
});

test("a partition taken away and handed back has a new tenure; one kept throughout keeps its own", () => {
  let current: Assignment[] | null = [{ topic: "user", partitions: [0, 1] }];
  const owned = new OwnedPartitions(() => current);
  const first = owned.since("user:0");
  const kept = owned.since("user:1");
  current = [{ topic: "user", partitions: [1] }];
  // Seen at the join, though nothing asked about the partitions meanwhile.
  owned.observe();
  current = [{ topic: "user", partitions: [0, 1] }];
  assert.equal(owned.owns("user:0"), true);
  assert.notEqual(owned.since("user:0"), first);
  assert.equal(owned.since("user:1"), kept);
  assert.equal(owned.since("user:2"), undefined);
  owned.endTenures();
  assert.notEqual(owned.since("user:1"), kept, "a member dropped by the group is handed its partitions anew");
  current = null;
  assert.equal(owned.since("user:1"), undefined);
});
