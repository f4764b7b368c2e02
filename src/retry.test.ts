import assert from "node:assert/strict";
import { test } from "node:test";
import { KafkaUnavailableError } from "./errors.ts";
import { endIfAnswering, Outage, retrying, type Silence } from "./retry.ts";
import { capturingLogger } from "./testing/support.ts";

/** An attempt under `retrying` that hangs until `answer()`, which says its answer and succeeds. */
function hangingAttempt(outage: Outage, silence: Silence) {
  let answer = () => {};
  const result = retrying(
    (answered) =>
      new Promise<string>((resolve) => {
        answer = () => {
          answered();
          resolve("sent");
        };
      }),
    outage,
    1000,
    new AbortController().signal,
    silence,
  );
  return { result, answer: () => answer() };
}

test("an outage is logged when it begins, when its cause changes (up to five causes), and when it ends", () => {
  const { log, lines } = capturingLogger();
  const outage = new Outage("Kafka", log);
  outage.enter(new Error("nothing is listening"));
  outage.enter(new Error("nothing is listening"));
  outage.enter(new Error("the login was refused"));
  outage.enter(new Error("nothing is listening"));
  outage.enter(new Error("the login was refused"));
  for (let i = 0; i < 10; i++) outage.enter(new Error(`cause ${i}`));
  outage.recover();
  outage.enter(new Error("the login was refused"));
  assert.deepEqual(
    lines.map((l) => l.msg),
    [
      "Kafka unavailable, pausing and retrying with backoff: nothing is listening",
      "Kafka still unavailable, now: the login was refused",
      "Kafka still unavailable, now: cause 0",
      "Kafka still unavailable, now: cause 1",
      "Kafka still unavailable, now: cause 2",
      lines.find((l) => String(l.msg).startsWith("Kafka is back after"))?.msg,
      "Kafka unavailable, pausing and retrying with backoff: the login was refused",
    ],
  );
});

test("endIfAnswering: an outage left by work that gave up ends only when the dependency answers", async () => {
  const { log } = capturingLogger("info");
  const outage = new Outage("MySQL", log);
  await endIfAnswering(outage, async () => true);
  assert.equal(outage.active, false, "nothing to end");
  outage.enter(new Error("lost connection"));
  await endIfAnswering(outage, async () => false);
  assert.equal(outage.active, true, "still down");
  await endIfAnswering(outage, async () => true);
  assert.equal(outage.active, false, "back");
});

test("retrying: an attempt left unanswered past its silence enters the outage while it goes on, and ends it when answered", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { log, lines } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  const { result, answer } = hangingAttempt(outage, { afterMs: 30, cause: () => new Error("no answer") });
  t.mock.timers.tick(29);
  assert.equal(outage.active, false, "not before its silence");
  t.mock.timers.tick(1);
  assert.equal(outage.active, true, "a send the broker does not answer is an outage");
  answer();
  assert.equal(await result, "sent");
  assert.equal(outage.active, false);
  assert.deepEqual(
    lines.map((l) => String(l.msg).replace(/after [\d.]+ s/, "after N s")),
    ["Kafka unavailable, pausing and retrying with backoff: no answer", "Kafka is back after N s, resuming"],
  );
});

test("retrying: an attempt answered within its silence says nothing, and leaves no timer behind", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { log, lines } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  const signal = new AbortController().signal;
  assert.equal(await retrying(async () => 1, outage, 1000, signal, { afterMs: 30, cause: () => "x" }), 1);
  t.mock.timers.tick(1000);
  assert.equal(outage.active, false);
  assert.deepEqual(lines, []);
});

test("retrying: a silence holds the outage, which other work that succeeds meanwhile does not end", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { log, lines } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  const { result, answer } = hangingAttempt(outage, { afterMs: 30, cause: () => new Error("no answer") });
  t.mock.timers.tick(30);
  outage.recover(); // a batch read from what the reader had buffered
  assert.equal(outage.active, true, "the send still hangs");
  answer();
  assert.equal(await result, "sent");
  assert.equal(outage.active, false);
  assert.equal(lines.length, 2);
});

test("retrying: a silence is counted from the end of the wait the dependency said (a quota's throttle)", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { log } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  // When the dependency's throttle ends, in ms from the start (another attempt's answer may say a later one).
  let throttleEnd = 20;
  let now = 0;
  const tick = (ms: number) => {
    now += ms;
    t.mock.timers.tick(ms);
  };
  const { result, answer } = hangingAttempt(outage, {
    afterMs: 30,
    cause: () => new Error("no answer"),
    deferMs: () => throttleEnd + 30 - now,
  });
  tick(10);
  throttleEnd = 40;
  tick(59);
  assert.equal(outage.active, false, "throttled until 40 ms, then 29 ms of silence");
  tick(1);
  assert.equal(outage.active, true);
  answer();
  assert.equal(await result, "sent");
});

test("a success while an attempt is held ends the outage when the hold goes, unless something failed or hung since", () => {
  const { log, lines } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  const silent = {};
  outage.hold(silent, new Error("no answer from broker b2"));
  outage.release(silent);
  assert.equal(outage.active, true, "let go unanswered, with nothing succeeding: still down");

  outage.hold(silent, new Error("no answer from broker b2"));
  outage.recover(); // fetches from the partitions' new leader
  outage.hold(silent, new Error("no answer from broker b2")); // said again at the next look
  assert.equal(outage.active, true, "held");
  outage.release(silent); // nothing asks the silent broker any more
  assert.equal(outage.active, false, "over: what it led is served by another");

  outage.hold(silent, new Error("no answer from broker b2"));
  outage.recover();
  outage.enter(new Error("the fetch failed"));
  outage.release(silent);
  assert.equal(outage.active, true, "a failure after the success");

  const other = {};
  outage.hold(silent, new Error("no answer from broker b2"));
  outage.recover();
  outage.hold(other, new Error("no answer from broker b3"));
  outage.release(silent);
  outage.release(other);
  assert.equal(outage.active, true, "another attempt hung after the success");
  assert.deepEqual(
    lines.map((l) => String(l.msg).replace(/after [\d.]+ s/, "after N s")),
    [
      "Kafka unavailable, pausing and retrying with backoff: no answer from broker b2",
      "Kafka is back after N s, resuming",
      "Kafka unavailable, pausing and retrying with backoff: no answer from broker b2",
      "Kafka still unavailable, now: the fetch failed",
      "Kafka still unavailable, now: no answer from broker b3",
    ],
  );
});

test("retrying: an attempt that fails after its silence is said before its hold goes, so a success meanwhile does not end the outage", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { log, lines } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  const signal = new AbortController();
  let fail = () => {};
  let attempts = 0;
  const result = retrying(
    () =>
      new Promise<string>((resolve, reject) => {
        attempts++;
        if (attempts > 1) return resolve("sent");
        fail = () => reject(new KafkaUnavailableError("request timed out"));
      }),
    outage,
    1000,
    signal.signal,
    { afterMs: 30, cause: () => new Error("no answer") },
  );
  t.mock.timers.tick(30);
  outage.recover(); // a batch read from what the reader had buffered
  fail();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(outage.active, true, "the send failed: still down");
  assert.equal(lines.length, 2);
  t.mock.timers.tick(1000);
  assert.equal(await result, "sent");
  assert.equal(outage.active, false);
  assert.deepEqual(
    lines.map((l) => String(l.msg).replace(/after [\d.]+ s/, "after N s")),
    [
      "Kafka unavailable, pausing and retrying with backoff: no answer",
      "Kafka still unavailable, now: request timed out",
      "Kafka is back after N s, resuming",
    ],
  );
});

test("heard: an answer while an attempt is held ends the outage once the hold goes; without a hold it ends nothing", () => {
  const { log } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  outage.enter(new Error("the stream failed"));
  outage.heard();
  assert.equal(outage.active, true, "other failures are not known to be over");
  const silent = {};
  outage.hold(silent, new Error("no answer from broker b2"));
  outage.heard(); // a fetch answered by the partitions' new leader
  assert.equal(outage.active, true, "held");
  outage.release(silent);
  assert.equal(outage.active, false);
});
