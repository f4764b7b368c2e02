import assert from "node:assert/strict";
import { test } from "node:test";
import { endIfAnswering, Outage } from "./retry.ts";
import { capturingLogger } from "./testing/support.ts";

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
