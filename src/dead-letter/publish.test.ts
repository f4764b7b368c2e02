import assert from "node:assert/strict";
import { test } from "node:test";
import type { Producer } from "@platformatic/kafka";
import { BadEventError } from "../errors.ts";
import { Outage, retrying } from "../retry.ts";
import { capturingLogger } from "../testing/support.ts";
import type { DeadLetter } from "./letter.ts";
import { DLQ_SILENCE_MS, deadLetterSilence, sendDeadLetters } from "./publish.ts";

// The silence after which a send of dead letters is an outage (service.ts wires it so), against a
// producer double whose answers come when the test's clock says.

const letter = (offset: number): DeadLetter => ({
  topic: "user",
  partition: 0,
  offset: BigInt(offset),
  key: Buffer.from("k"),
  // Two do not fit in one request (MAX_REQUEST_BYTES): one request each.
  value: Buffer.alloc(400 * 1024, 0x61),
  headers: undefined,
  eventType: "user.updated",
  error: new BadEventError("bad_field", "data.profile.bio must not have more than 500 characters"),
});

/** Each request answered `afterMs` after it is sent. */
function slowProducer(afterMs: number) {
  let requests = 0;
  const producer = {
    send: () => {
      requests++;
      return new Promise((resolve) => setTimeout(resolve, afterMs));
    },
  } as unknown as Producer;
  return { producer, requests: () => requests };
}

/** Lets the promises a tick of the mock clock resolved run on to their next timer. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test("a send of dead letters in many requests, each answered within the silence, is no outage however long it takes", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { log, lines } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  const slow = slowProducer(DLQ_SILENCE_MS / 2.5);
  let done = false;
  const sent = retrying(
    (answered) => sendDeadLetters(slow.producer, "dlq", [1, 2, 3, 4].map(letter), undefined, answered),
    outage,
    1000,
    new AbortController().signal,
    { afterMs: DLQ_SILENCE_MS, cause: () => deadLetterSilence("dlq") },
  ).then(() => {
    done = true;
  });
  for (let ms = 500; !done && ms <= 10 * DLQ_SILENCE_MS; ms += 500) {
    t.mock.timers.tick(500);
    await settle();
    assert.equal(outage.active, false, `every request was answered within ${DLQ_SILENCE_MS} ms (at ${ms} ms)`);
  }
  await sent;
  assert.equal(slow.requests(), 4, "one request a letter, 16 s in all");
  assert.deepEqual(lines, []);
});

test("a request of the send left unanswered past the silence is still an outage, after others were answered", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { log } = capturingLogger("info");
  const outage = new Outage("Kafka", log);
  let requests = 0;
  const producer = {
    send: () => (++requests === 1 ? Promise.resolve() : new Promise(() => {})),
  } as unknown as Producer;
  void retrying(
    (answered) => sendDeadLetters(producer, "dlq", [1, 2].map(letter), undefined, answered),
    outage,
    1000,
    new AbortController().signal,
    { afterMs: DLQ_SILENCE_MS, cause: () => deadLetterSilence("dlq") },
  );
  await settle();
  t.mock.timers.tick(DLQ_SILENCE_MS - 1);
  assert.equal(outage.active, false);
  t.mock.timers.tick(1);
  assert.equal(outage.active, true);
});
