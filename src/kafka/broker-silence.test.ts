import assert from "node:assert/strict";
import { channel } from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import { after, test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { Outage } from "../retry.ts";
import { capturingLogger } from "../testing/support.ts";
import { BrokerSilence } from "./broker-silence.ts";

const sent = channel("tracing:plt:kafka:connections:api:start");
const answered = channel("tracing:plt:kafka:connections:api:asyncStart");
const connects = channel("tracing:plt:kafka:connections:connects:start");

/** The client watched: never connected, its connections' traces made up. */
const client = new Admin({ clientId: "broker-silence-test", bootstrapBrokers: ["10.0.0.1:9092"] });
after(() => client.close());
const ID = client.instanceId;

/** A connection of client `ownerId` to 10.0.0.1:`port`, up. */
const connection = (ownerId: number, port = 9092) =>
  Object.assign(new EventEmitter(), { ownerId, host: "10.0.0.1", port, status: "connected" });

function setup(t: { after: (fn: () => void) => void }) {
  const { log, lines } = capturingLogger();
  const outage = new Outage("Kafka", log);
  let now = 0;
  const silence = new BrokerSilence(outage, 10_000, () => now, 60_000);
  t.after(() => silence.close());
  silence.watch(client);
  const msgs = () => lines.map((l) => String(l.msg).replace(/after [\d.]+ s/, "after N s"));
  const at = (ms: number) => {
    now = ms;
  };
  /** A fetch to 10.0.0.1:`port` unanswered for 10 s (at 10 s): the broker said silent; its connection. */
  const silentAt = (port: number) => {
    const c = connection(ID, port);
    sent.publish({ connection: c, apiKey: 1 });
    at(10_000);
    silence.check();
    assert.equal(outage.active, true);
    return c;
  };
  return { outage, silence, msgs, at, silentAt };
}

test("a request unanswered for 10 s is an outage naming its broker, until the broker answers", (t) => {
  const { outage, silence, msgs, at } = setup(t);
  const c = connection(ID);
  const fetch = { connection: c, apiKey: 1 };
  sent.publish(fetch);
  at(9_999);
  silence.check();
  assert.equal(outage.active, false);
  at(10_000);
  silence.check();
  assert.equal(outage.active, true);
  outage.recover(); // a batch read from the reader's buffer is no answer
  assert.equal(outage.active, true);
  answered.publish(fetch);
  assert.equal(outage.active, false);
  assert.deepEqual(msgs(), [
    "Kafka unavailable, pausing and retrying with backoff: no answer from broker 10.0.0.1:9092 for 10 s (paused, hung or cut off by the network; its connections stay open): what it leads and coordinates waits for it",
    "Kafka is back after N s, resuming",
  ]);
});

test("JoinGroup and SyncGroup, other clients' requests and those on a connection that is not up are not timed", (t) => {
  const { outage, silence, at } = setup(t);
  sent.publish({ connection: connection(ID), apiKey: 11 });
  sent.publish({ connection: connection(ID), apiKey: 14 });
  sent.publish({ connection: connection(8), apiKey: 1 });
  sent.publish({ connection: { ...connection(ID), status: "closed" }, apiKey: 1 });
  at(60_000);
  silence.check();
  assert.equal(outage.active, false);
});

test("a closed connection's requests are no longer waited for; a silent broker nobody asks any more is let go, unanswered", (t) => {
  const { outage, silence, at } = setup(t);
  const c = connection(ID);
  sent.publish({ connection: c, apiKey: 12 });
  c.emit("close");
  at(20_000);
  silence.check();
  assert.equal(outage.active, false, "a request that failed with its connection");

  const d = connection(ID, 9093);
  sent.publish({ connection: d, apiKey: 8 });
  at(30_000);
  silence.check();
  assert.equal(outage.active, true);
  d.emit("close"); // the request timed out: the client retries, or gives up and says so
  at(35_000);
  silence.check();
  assert.equal(outage.active, true, "held while the broker may still be asked");
  at(45_000);
  silence.check();
  assert.equal(outage.active, true, "let go, unanswered: nothing said Kafka serves again");
  outage.recover();
  assert.equal(outage.active, false, "nothing asked of it for 10 s: no longer held");
});

test("a silent broker whose partitions moved: the fetches from the new leader, while it was held, end the outage once nobody asks it", (t) => {
  const { outage, silence, msgs, at, silentAt } = setup(t);
  const old = silentAt(9093);
  old.emit("close"); // the fetch timed out; the client reads the new leader's metadata
  const leader = connection(ID, 9092);
  const fetch = { connection: leader, apiKey: 1 };
  sent.publish(fetch);
  answered.publish(fetch);
  outage.recover(); // the stream reads again: on a quiet group, no event comes to say so again
  at(11_000);
  silence.check();
  at(20_999);
  silence.check();
  assert.equal(outage.active, true, "the old leader may still be asked");
  at(21_000);
  silence.check();
  assert.equal(outage.active, false);
  assert.deepEqual(msgs().slice(1), ["Kafka is back after N s, resuming"]);
});

test("a silent broker the clients still try to reach (a network that drops packets: no request is ever sent) is not let go", (t) => {
  const { outage, silence, msgs, at, silentAt } = setup(t);
  const old = silentAt(9093);
  outage.recover(); // a batch of the partitions another broker leads
  at(30_000);
  old.emit("close"); // the fetch timed out: the client connects again, and again
  // Each attempt waits out the connect timeout (5 s), its SYNs unanswered, then fails.
  const attempt = () => {
    // Where to is said with the attempt: the connection itself knows it only once under way.
    const c = Object.assign(new EventEmitter(), { ownerId: ID, status: "connecting", socket: { destroyed: false } });
    connects.publish({ connection: c, host: "10.0.0.1", port: 9093 });
    return c;
  };
  let trying = attempt();
  for (let ms = 30_000; ms <= 120_000; ms += 1000) {
    if (ms % 6000 === 5000) trying.socket.destroyed = true; // timed out: its status stays "connecting"
    if (ms % 6000 === 0 && ms > 30_000) trying = attempt();
    at(ms);
    silence.check();
  }
  assert.equal(outage.active, true, "the broker still leads what the clients try to reach it for");
  trying.socket.destroyed = true; // the last attempt; nothing asks it any more (its partitions moved)
  for (let ms = 121_000; ms <= 132_000; ms += 1000) {
    at(ms);
    silence.check();
  }
  assert.equal(outage.active, false);
  assert.deepEqual(msgs().slice(1), ["Kafka is back after N s, resuming"]);
});

test("closed at shutdown while a broker is silent: it is not said to be back", (t) => {
  const { outage, silence, msgs, at } = setup(t);
  sent.publish({ connection: connection(ID), apiKey: 1 });
  at(10_000);
  silence.check();
  outage.recover();
  silence.close();
  assert.equal(outage.active, true);
  assert.equal(msgs().length, 1);
});

test("time the service itself did not run is not counted as the broker's silence", (t) => {
  const { log } = capturingLogger();
  const outage = new Outage("Kafka", log);
  let now = 0;
  const silence = new BrokerSilence(outage, 10_000, () => now, 1000);
  t.after(() => silence.close());
  silence.watch(client);
  sent.publish({ connection: connection(ID), apiKey: 12 });
  now = 900;
  silence.check();
  now = 60_000; // stopped (SIGSTOP) for a minute, the heartbeat's answer unread in its socket
  silence.check();
  assert.equal(outage.active, false);
  for (now = 61_000; now < 69_000; now += 1000) silence.check();
  assert.equal(outage.active, false);
  now = 70_000;
  silence.check();
  assert.equal(outage.active, true, "10 s of its own running without an answer");
});

test("what follows a JoinGroup on its connection waits on the group, and is timed once it is answered", (t) => {
  const { outage, silence, at } = setup(t);
  const c = connection(ID);
  const join = { connection: c, apiKey: 11 };
  sent.publish(join);
  sent.publish({ connection: c, apiKey: 8 }); // a commit, behind it at the broker
  at(60_000);
  silence.check();
  assert.equal(outage.active, false, "a rebalance held by a slow member");
  answered.publish(join);
  at(69_999);
  silence.check();
  assert.equal(outage.active, false);
  at(70_000);
  silence.check();
  assert.equal(outage.active, true, "10 s after the broker could read it");
});

test("a throttled connection (a quota) is timed from the end of the throttle its broker said", (t) => {
  const { outage, silence, at } = setup(t);
  const c = connection(ID);
  const first = { connection: c, apiKey: 0, result: { throttleTimeMs: 18_000 } };
  const queued = { connection: c, apiKey: 0 }; // sent before the answer: read once the throttle ends
  sent.publish(first);
  sent.publish(queued);
  at(100);
  answered.publish(first);
  assert.equal(silence.throttleEndsInMs(client), 18_000);
  assert.equal(
    silence.throttleEndsInMs({ instanceId: 8 }),
    Number.NEGATIVE_INFINITY,
    "another client's are not throttled",
  );
  at(5_000);
  const later = { connection: c, apiKey: 3 };
  sent.publish(later);
  at(28_099);
  silence.check();
  assert.equal(outage.active, false, "the broker reads nothing on the connection until 18 100");
  assert.equal(silence.throttleEndsInMs(client), -9_999, "ended that long ago");
  at(28_100);
  silence.check();
  assert.equal(outage.active, true, "10 s after the throttle ended, unanswered");
});
