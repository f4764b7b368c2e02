import assert from "node:assert/strict";
import { test } from "node:test";
import { UnexpectedErrorBreaker, UnexpectedErrorsError } from "./breaker.ts";

test("the breaker tolerates `max` unexpected errors within the window and trips at the next", () => {
  let now = 0;
  const breaker = new UnexpectedErrorBreaker(2, 60_000, () => now);
  breaker.record("a");
  now = 30_000;
  breaker.record("b");
  now = 59_999;
  assert.throws(
    () => breaker.record("TypeError in user.created at user/0@7"),
    (err: unknown) =>
      err instanceof UnexpectedErrorsError &&
      err.expected &&
      err.message.startsWith(
        "stopping: 3 events failed with unexpected errors within 60 s (the last: TypeError in user.created at user/0@7)",
      ),
  );
});

test("errors older than the window no longer count", () => {
  let now = 0;
  const breaker = new UnexpectedErrorBreaker(1, 1000, () => now);
  for (let i = 0; i < 100; i++) {
    breaker.record(`error ${i}`);
    now += 1000;
  }
  assert.throws(() => {
    breaker.record("one");
    breaker.record("two");
  }, UnexpectedErrorsError);
});

test("max 0 trips at the first", () => {
  assert.throws(() => new UnexpectedErrorBreaker(0).record("x"), UnexpectedErrorsError);
});
