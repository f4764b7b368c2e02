import assert from "node:assert/strict";
import { once } from "node:events";
import { type TestContext, test } from "node:test";
import { Admin, Consumer, type GroupPartitionsAssigner } from "@platformatic/kafka";
import { getApiSymbol } from "../../src/read/client-fixes/member-commit.ts";
import { MembershipLease } from "../../src/read/membership-lease.ts";
import { BROKER, randomName, testTopics } from "../support/helpers.ts";

// The lease follows the client's own events and tracing channel: a client that stopped emitting
// them (a new version) would leave every commit waiting for a heartbeat, or none.

test(
  "the Kafka client's join and heartbeats renew the lease; leaving the group and joining again is no lapse",
  {
    timeout: 60_000,
  },
  async (t) => {
    const topics = await testTopics(t, 1);
    const groupId = randomName("lease-");
    const consumer = new Consumer({
      clientId: "tests-lease",
      bootstrapBrokers: [BROKER],
      groupId,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
    });
    const lapses: string[] = [];
    const lease = new MembershipLease(consumer, 6000, (why) => lapses.push(why));
    t.after(async () => {
      lease.close();
      await consumer.close(true);
    });
    assert.equal(lease.holds(), false, "not a member yet");
    const joined = once(consumer, "consumer:group:join");
    const stream = await consumer.consume({ topics: [`${topics.prefix}user`], mode: "earliest" });
    await joined;
    assert.equal(lease.holds(), true, "from the join's own request: the first commit need not wait for a heartbeat");
    await once(consumer, "consumer:heartbeat:end");
    assert.equal(await lease.confirm(), true);

    await stream.close();
    await consumer.leaveGroup();
    const again = once(consumer, "consumer:group:join");
    await consumer.consume({ topics: [`${topics.prefix}user`], mode: "earliest" });
    await again;
    assert.deepEqual(lapses, [], "a member that left on its own read nothing it would write");
    assert.equal(lease.holds(), true);
  },
);

// A rebalance hands a partition to another member the moment the leader's SyncGroup reaches the
// coordinator; the member that had it learns so only from its own SyncGroup's answer, later
// (its event loop busy, its network slower, or never, when that SyncGroup finds the group
// rebalancing again and it joins once more). Until then the client still lists the partition as
// its own, and its last heartbeat may be recent: the lease must not hold while it is joining.
test(
  "the lease does not hold while the member is joining: another member may own its partitions already",
  { timeout: 60_000 },
  async (t) => {
    const topics = await testTopics(t, 2);
    const topic = `${topics.prefix}user`;
    const g = group(t, topic);
    // B joins first and stays the leader; once C has joined too, A has p0 and B p1 (generation 3).
    const b = g.member("tests-lease-b");
    await b.consume({ topics: [topic], mode: "earliest" });
    await g.joinedTo(b, 1);
    const a = g.member("tests-lease-a");
    const lease = new MembershipLease(a, 6000, () => {});
    t.after(() => lease.close());
    await a.consume({ topics: [topic], mode: "earliest" });
    g.plan = { a: a.memberId ?? "" };
    const c = g.member("tests-lease-c");
    await c.consume({ topics: [topic], mode: "earliest" });
    await Promise.all([g.joinedTo(a, 3), g.joinedTo(b, 3), g.joinedTo(c, 3)]);
    assert.deepEqual(a.assignments, [{ topic, partitions: [0] }]);
    await once(a, "consumer:heartbeat:end");
    assert.equal(lease.holds(), true);

    // A's SyncGroup goes out 3 s late from now on; C leaves, and the rebalance gives p0 to B.
    g.plan = "all to the leader";
    delaySyncGroup(a, 3000);
    const ownsP0 = (x: Consumer) => x.assignments?.some((y) => y.partitions.includes(0)) ?? false;
    const seen: { aOwnsP0: boolean; aHolds: boolean }[] = [];
    b.on("consumer:group:join", () => {
      if (ownsP0(b)) seen.push({ aOwnsP0: ownsP0(a), aHolds: lease.holds() });
    });
    await c.close(true);
    await g.joinedTo(a, 4);
    assert.equal(ownsP0(a), false, "A learns it at last");
    assert.deepEqual(
      seen,
      [{ aOwnsP0: true, aHolds: false }],
      "when B got p0, A still listed it as its own: its lease must not hold",
    );
  },
);

/** A group of consumers whose leader assigns by `plan`; the group is deleted after the test. */
function group(t: TestContext, topic: string) {
  const groupId = randomName("lease-");
  const joined = new Map<Consumer, number>();
  const members: Consumer[] = [];
  const g = {
    /** p0 to member `a` and p1 to the leader, or every partition to the leader. */
    plan: { a: "" } as { a: string } | "all to the leader",
    member(clientId: string) {
      const assigner: GroupPartitionsAssigner = (leader, members) =>
        [...members.keys()].map((memberId) => {
          const mine = (p: number) =>
            g.plan === "all to the leader" ? memberId === leader : memberId === (p === 0 ? g.plan.a : leader);
          const partitions = [0, 1].filter(mine);
          return { memberId, assignments: new Map([[topic, { topic, partitions }]]) };
        });
      const options = { clientId, bootstrapBrokers: [BROKER], groupId, sessionTimeout: 6000, heartbeatInterval: 300 };
      const c = new Consumer({ ...options, partitionAssigner: assigner });
      c.on("consumer:group:join", (p) => joined.set(c, p.generationId ?? 0));
      members.push(c);
      return c;
    },
    /** Until `c` has joined generation `gen` (the client sets its generationId before its SyncGroup). */
    async joinedTo(c: Consumer, gen: number) {
      while ((joined.get(c) ?? 0) < gen) await once(c, "consumer:group:join");
    },
  };
  t.after(async () => {
    await Promise.all(members.map((c) => c.close(true)));
    const admin = new Admin({ clientId: "tests", bootstrapBrokers: [BROKER] });
    await admin.deleteGroups({ groups: [groupId] }).finally(() => admin.close());
  });
  return g;
}

/** `consumer`'s SyncGroup requests go out `ms` late: its answer comes after the other members'. */
function delaySyncGroup(consumer: Consumer, ms: number) {
  type GetApi = (name: string, callback: (...args: unknown[]) => void) => void;
  const kGetApi = getApiSymbol();
  const getApi = (Object.getPrototypeOf(Consumer.prototype) as Record<symbol, GetApi>)[kGetApi] as GetApi;
  Object.defineProperty(consumer, kGetApi, {
    value(this: Consumer, name: string, callback: (...args: unknown[]) => void) {
      const late = (...args: unknown[]) => setTimeout(() => callback(...args), ms);
      getApi.call(this, name, name === "SyncGroup" ? late : callback);
    },
  });
}
