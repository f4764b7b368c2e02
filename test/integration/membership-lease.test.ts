import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Consumer } from "@platformatic/kafka";
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
