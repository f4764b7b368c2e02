import assert from "node:assert/strict";
import { test } from "node:test";
import { Consumer, findErrorBy, ProtocolError } from "@platformatic/kafka";
import { committingAsMember, getApiSymbol, NotInGroupError } from "./member-commit.ts";

// What the consumer's commit meets, without a broker: the client's own getApi is replaced by one
// that hands a recording OffsetCommit, and the fix is put around it as the service puts it.

type Done = (error: Error | null, response?: unknown) => void;
type Send = (...args: unknown[]) => void;

/** A consumer whose OffsetCommit answers as `answer` says, and the calls that reached it. */
function consumerAnswering(answer: (done: Done) => void) {
  const consumer = new Consumer({ clientId: "member-commit-test", bootstrapBrokers: ["127.0.0.1:1"], groupId: "g" });
  const kGetApi = getApiSymbol();
  const sent: unknown[][] = [];
  const send: Send = (...args) => {
    sent.push(args.slice(0, -1));
    answer(args.at(-1) as Done);
  };
  Object.defineProperty(consumer, kGetApi, {
    value: (_: string, callback: Done) => callback(null, send),
    configurable: true,
  });
  committingAsMember(consumer);
  const getApi = (consumer as unknown as Record<symbol, (name: string, callback: Done) => void>)[kGetApi];
  /** A commit as the client makes it: connection, group, generation, member id, ..., callback. */
  const commit = (memberId: string | null) =>
    new Promise<{ error: Error | null; response?: unknown }>((resolve) =>
      getApi?.("OffsetCommit", (_, api) =>
        (api as Send)(null, "g", 3, memberId, null, [], (error: Error | null, response?: unknown) =>
          resolve({ error, response }),
        ),
      ),
    );
  return { commit, sent, consumer };
}

test("a commit without a member id is failed unsent, and the client neither retries it nor joins for it", async (t) => {
  const { commit, sent, consumer } = consumerAnswering((done) => done(null, "ok"));
  t.after(() => consumer.close(true));
  const { error } = await commit(null);
  assert.ok(error instanceof NotInGroupError);
  assert.equal(sent.length, 0);
  assert.equal((error as NotInGroupError).canRetry, false);
});

test("a commit the group refuses for the member's membership fails, without the flag that makes the client join and resend it", async (t) => {
  for (const refusal of ["UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION", "REBALANCE_IN_PROGRESS"]) {
    const { commit, sent, consumer } = consumerAnswering((done) => done(new ProtocolError(refusal)));
    t.after(() => consumer.close(true));
    const { error } = await commit("member-1");
    assert.equal(sent.length, 1, "sent once");
    assert.ok(error instanceof NotInGroupError, refusal);
    assert.equal(findErrorBy(error, "needsRejoin", true), null, `${refusal}: no rejoin and resend by the client`);
    assert.match(error.message, new RegExp(refusal));
  }
});

test("a commit answered, or refused for another reason, is handed back as the client's", async (t) => {
  const ok = consumerAnswering((done) => done(null, "ok"));
  t.after(() => ok.consumer.close(true));
  assert.deepEqual(await ok.commit("member-1"), { error: null, response: "ok" });
  const notCoordinator = new ProtocolError("NOT_COORDINATOR");
  const moved = consumerAnswering((done) => done(notCoordinator));
  t.after(() => moved.consumer.close(true));
  assert.equal((await moved.commit("member-1")).error, notCoordinator);
});
