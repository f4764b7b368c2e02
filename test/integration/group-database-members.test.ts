import assert from "node:assert/strict";
import { test } from "node:test";
import { Admin, ConnectionPool } from "@platformatic/kafka";
import { checkGroupDatabase, GroupSettling, membershipData } from "../../src/read/group-database.ts";
import { BROKER, randomName, waitFor } from "../support/helpers.ts";
import { rawMember, subscription } from "../support/raw-group.ts";

// Members of the group as DescribeGroups lists them, joined by hand as another program could.

const ours = { id: "11111111-1111-1111-1111-111111111111", name: "ours at db1:3306" };
const theirs = { id: "22222222-2222-2222-2222-222222222222", name: "theirs at db2:3306" };

function clients(t: { after: (fn: () => unknown) => void }) {
  const admin = new Admin({ clientId: "tests-group-database", bootstrapBrokers: [BROKER], retries: 2 });
  const pool = new ConnectionPool("tests-group-database", {});
  t.after(() => Promise.all([admin.close(), pool.close()]));
  return [admin, pool] as const;
}

test("another program's member with a subscription that does not read is not judged, and stops nothing", async (t) => {
  const groupId = randomName("group-");
  // One byte: Admin.describeGroups threw "Out of bounds" out of its own callback, past every catch.
  await rawMember(t, groupId, Buffer.from([1]));
  const [admin, pool] = clients(t);
  await checkGroupDatabase(admin, groupId, ours, pool);
  // A member of this service beside it is still read.
  const other = randomName("group-");
  await rawMember(t, other, subscription(["x"], membershipData(theirs)));
  await assert.rejects(checkGroupDatabase(admin, other, ours, pool), /writes to another database/);
});

test("a member writing elsewhere is seen while the group rebalances, when members are listed without their data", async (t) => {
  const groupId = randomName("group-");
  await rawMember(t, groupId, subscription(["x"], membershipData(theirs)));
  const [admin, pool] = clients(t);
  await assert.rejects(checkGroupDatabase(admin, groupId, ours, pool), /writes to another database/);
  // Another member joins: the group waits for the first to join again, listing its members without data.
  await rawMember(t, groupId, subscription(["x"], membershipData(ours)), false);
  await waitFor("the group to rebalance", async () => {
    const state = (await admin.describeGroups({ groups: [groupId] })).get(groupId)?.state;
    return state === "PreparingRebalance" || state === "CompletingRebalance";
  });
  await assert.rejects(checkGroupDatabase(admin, groupId, ours, pool), GroupSettling);
});
