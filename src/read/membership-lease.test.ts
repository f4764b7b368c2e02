import assert from "node:assert/strict";
import { channel } from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { MembershipLease, pauseAwareClock } from "./membership-lease.ts";

const SESSION = 10_000;
const joinStarts = channel("tracing:plt:kafka:consumer:group:start");
const joinErrors = channel("tracing:plt:kafka:consumer:group:error");

function lease() {
  const consumer = new EventEmitter();
  const clock = { now: 0 };
  const lapses: string[] = [];
  const l = new MembershipLease(
    consumer,
    SESSION,
    (why) => lapses.push(why),
    () => clock.now,
  );
  const heartbeat = (sentAt: number, answeredAt: number, outcome: "end" | "error" | "cancel" = "end") => {
    clock.now = sentAt;
    consumer.emit("consumer:heartbeat:start", {});
    clock.now = answeredAt;
    consumer.emit(`consumer:heartbeat:${outcome}`, {});
  };
  const join = (sentAt: number, answeredAt: number, memberId: string, generationId: number) => {
    clock.now = sentAt;
    joinStarts.publish({ client: consumer, operation: "joinGroup" });
    clock.now = answeredAt;
    consumer.emit("consumer:group:join", { memberId, generationId });
  };
  return { consumer, clock, lapses, lease: l, heartbeat, join };
}

test("the lease runs from when the accepted heartbeat was sent, for nine tenths of the session timeout", (t) => {
  const h = lease();
  t.after(() => h.lease.close());
  assert.equal(h.lease.holds(), false, "nothing answered yet");
  h.heartbeat(1_000, 4_000);
  h.clock.now = 1_000 + 0.9 * SESSION - 1;
  assert.equal(h.lease.holds(), true);
  h.clock.now = 1_000 + 0.9 * SESSION;
  assert.equal(h.lease.holds(), false, "measured from the send, not the answer");
  h.heartbeat(20_000, 20_001, "error");
  assert.equal(h.lease.holds(), false, "a refused heartbeat confirms nothing");
  h.heartbeat(21_000, 21_001, "cancel");
  assert.equal(h.lease.holds(), false);
});

test("a join confirms the member from when it began, and only the consumer's own", (t) => {
  const h = lease();
  t.after(() => h.lease.close());
  joinStarts.publish({ client: new EventEmitter(), operation: "joinGroup" }); // another client's
  h.join(5_000, 30_000, "m1", 1);
  h.clock.now = 5_000 + 0.9 * SESSION - 1;
  assert.equal(h.lease.holds(), true);
  h.clock.now = 5_000 + 0.9 * SESSION;
  assert.equal(h.lease.holds(), false, "a long join leaves a short lease: the first heartbeat renews it");
  // A join that failed is forgotten: the next one counts from its own start.
  h.clock.now = 40_000;
  joinStarts.publish({ client: h.consumer, operation: "joinGroup" });
  joinErrors.publish({ client: h.consumer, operation: "joinGroup" });
  h.join(50_000, 50_010, "m1", 2);
  h.clock.now = 50_000 + 0.9 * SESSION - 1;
  assert.equal(h.lease.holds(), true);
  // A heartbeat the client answers with a rejoin emits no end: the next one counts from its own send.
  h.clock.now = 60_000;
  h.consumer.emit("consumer:heartbeat:start", {});
  h.join(60_001, 60_002, "m1", 3);
  h.heartbeat(70_000, 70_001);
  h.clock.now = 70_000 + 0.9 * SESSION - 1;
  assert.equal(h.lease.holds(), true);
});

test("while a join is under way the lease does not hold; a failed join leaves it so and releases whoever waits", async (t) => {
  const h = lease();
  t.after(() => h.lease.close());
  h.join(0, 1, "m1", 1);
  h.heartbeat(1_000, 1_001);
  h.clock.now = 2_000;
  assert.equal(h.lease.holds(), true);
  // The heartbeat found the group rebalancing: the leader may hand this member's partitions on
  // before this member reads its own assignment.
  joinStarts.publish({ client: h.consumer, operation: "joinGroup" });
  assert.equal(h.lease.holds(), false, "joining");
  const waiting = h.lease.confirm();
  joinErrors.publish({ client: h.consumer, operation: "joinGroup" });
  assert.equal(await waiting, false, "the join failed: no wait for a session timeout");
  assert.equal(h.lease.holds(), false, "not back in the group");
  assert.equal(await h.lease.confirm(), false, "nor waiting: nothing answers until the member joins again");
  h.join(3_000, 3_500, "m1", 2);
  assert.equal(h.lease.holds(), true, "joined: the new assignments are in place");
  assert.deepEqual(h.lapses, []);
});

test("a rebalance that outlasts the session timeout is said as such", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const h = lease();
  t.after(() => h.lease.close());
  h.join(0, 1, "m1", 1);
  joinStarts.publish({ client: h.consumer, operation: "joinGroup" });
  const waiting = h.lease.confirm();
  t.mock.timers.tick(SESSION);
  assert.equal(await waiting, false);
  assert.deepEqual(h.lapses, [
    "the group's rebalance has lasted longer than its session timeout (KAFKA_SESSION_TIMEOUT_MS=10000): its partitions may be another member's by now",
  ]);
});

test("a member that joins as another member, or past a generation it missed, lapses; one that left and joins again does not", (t) => {
  const h = lease();
  t.after(() => h.lease.close());
  h.join(0, 1, "m1", 1);
  h.join(2, 3, "m1", 2);
  h.join(2, 3, "m1", 2);
  assert.deepEqual(h.lapses, [], "each rebalance joined; a join that started none is in the same generation");
  h.join(4, 5, "m1", 4);
  assert.equal(h.lapses.length, 1);
  assert.match(h.lapses[0] ?? "", /missed a generation of the group \(2 to 4\)/);
  h.join(6, 7, "m2", 5);
  assert.equal(h.lapses.length, 2);
  assert.match(h.lapses[1] ?? "", /dropped this member/);
  h.consumer.emit("consumer:group:leave", {});
  h.join(8, 9, "m3", 9);
  assert.equal(h.lapses.length, 2, "a member that left on its own read nothing it would write");
});

test("confirm waits for the coordinator's next answer when the lease has run out, for at most a session timeout", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const h = lease();
  t.after(() => h.lease.close());
  h.heartbeat(0, 1);
  assert.equal(await h.lease.confirm(), true, "within the lease: at once");

  h.clock.now = SESSION;
  const renewed = h.lease.confirm();
  h.heartbeat(SESSION + 1, SESSION + 2);
  assert.equal(await renewed, true);

  h.clock.now = 3 * SESSION;
  const refused = h.lease.confirm();
  h.heartbeat(3 * SESSION, 3 * SESSION + 1, "error");
  assert.equal(await refused, false, "the answer was a refusal");

  const unanswered = [h.lease.confirm(), h.lease.confirm()];
  assert.deepEqual(h.lapses, []);
  t.mock.timers.tick(SESSION);
  assert.deepEqual(await Promise.all(unanswered), [false, false], "no answer within a session timeout");
  assert.deepEqual(
    h.lapses,
    [
      "the group's coordinator has not answered this member for 20 s (KAFKA_SESSION_TIMEOUT_MS=10000): the group may have dropped it",
    ],
    "said once: what is in hand is read again",
  );

  const shutdown = new AbortController();
  const aborted = h.lease.confirm(shutdown.signal);
  shutdown.abort();
  assert.equal(await aborted, false);
  assert.equal(h.lapses.length, 1, "shutdown is no silence");
  h.heartbeat(4 * SESSION, 4 * SESSION + 1);
  assert.equal(await h.lease.confirm(shutdown.signal), true, "a lease that holds needs no wait");
  h.clock.now = 6 * SESSION;
  const again = h.lease.confirm();
  t.mock.timers.tick(SESSION);
  assert.equal(await again, false);
  assert.equal(h.lapses.length, 2, "said again after an answer came between");
});

test("closed, the lease follows nothing and releases whoever waits", async () => {
  const h = lease();
  const waiting = h.lease.confirm();
  h.lease.close();
  assert.equal(await waiting, false);
  h.join(0, 1, "m1", 1);
  assert.equal(h.lease.holds(), false);
  assert.equal(h.consumer.listenerCount("consumer:group:join"), 0);
});

test("the lease's clock runs with the monotonic clock and jumps with a wall clock set ahead (a VM resumed), never back", () => {
  const t = { mono: 1_000, wall: 1_700_000_000_000 };
  const clock = pauseAwareClock(
    () => t.mono,
    () => t.wall,
  );
  const start = clock();
  t.mono += 500;
  t.wall += 500;
  assert.equal(clock() - start, 500);
  t.wall += 60_000; // paused for a minute the monotonic clock did not count
  assert.equal(clock() - start, 60_500);
  t.wall -= 3_600_000; // set back an hour
  t.mono += 100;
  t.wall += 100;
  assert.equal(clock() - start, 60_600, "never back, and on with the monotonic clock");
});
