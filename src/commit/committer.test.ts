import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, type TestContext, test } from "node:test";
import { createLogger } from "../log.ts";
import { type CommitOffset, OffsetCommitter } from "./committer.ts";

// The committer against a commit function the test answers by hand, so what is in flight, and
// when, is decided by the test rather than by timing.

const at = (partition: number, offset: number): CommitOffset => ({
  topic: "t",
  partition,
  offset: BigInt(offset),
  leaderEpoch: 0,
});

function committer(owned: (key: string) => boolean = () => true, since?: (key: string) => number | undefined) {
  const requests: { offsets: CommitOffset[]; answer: (err?: Error) => void }[] = [];
  const lines: string[] = [];
  const out = new PassThrough();
  out.on("data", (chunk: Buffer) => lines.push(...chunk.toString().trim().split("\n")));
  const c = new OffsetCommitter({
    commit: (offsets) =>
      new Promise<void>((resolve, reject) => {
        requests.push({ offsets, answer: (err) => (err ? reject(err) : resolve()) });
      }),
    owns: owned,
    since,
    retryDelayMs: (failures) => 1000 * 2 ** failures,
    log: createLogger("warn", out),
  });
  return { c, requests, lines };
}

/** Lets the committer's promise callbacks run. */
const settled = () => new Promise((r) => setImmediate(r));

/** Fails a commit request with `error`, then lets `ms` of mocked time pass. */
async function failThenWait(
  t: TestContext,
  r: { answer: (err?: Error) => void } | undefined,
  ms: number,
  error = "COORDINATOR_NOT_AVAILABLE",
) {
  r?.answer(new Error(error));
  await settled();
  t.mock.timers.tick(ms);
  await settled();
}

/** The offsets of a commit request as `partition@offset`; undefined when there is no such request. */
const offsets = (r: { offsets: CommitOffset[] } | undefined) => r?.offsets.map((o) => `${o.partition}@${o.offset}`);

describe("OffsetCommitter", () => {
  test("what is marked while a commit is in flight goes into one next commit, the newest offset per partition", async () => {
    const { c, requests } = committer();
    c.mark("t:0", at(0, 10));
    assert.equal(requests.length, 1);
    c.mark("t:0", at(0, 20));
    c.mark("t:1", at(1, 5));
    c.mark("t:0", at(0, 30));
    assert.equal(requests.length, 1, "one commit in flight at a time");
    requests[0]?.answer();
    await settled();
    assert.equal(requests.length, 2);
    assert.deepEqual(offsets(requests[0]), ["0@10"]);
    assert.deepEqual(offsets(requests[1]), ["0@30", "1@5"]);
  });

  test("flush waits for the commit in flight and the ones marked after it", async () => {
    const { c, requests } = committer();
    c.mark("t:0", at(0, 1));
    c.mark("t:0", at(0, 2));
    let flushed = false;
    const flushing = c.flush().then(() => {
      flushed = true;
    });
    requests[0]?.answer();
    await settled();
    assert.equal(flushed, false, "the second commit is still in flight");
    assert.deepEqual(offsets(requests[1]), ["0@2"]);
    requests[1]?.answer();
    await flushing;
    assert.equal(requests.length, 2);
  });

  test("a partition no longer owned when its commit is sent is left to its new owner", async () => {
    const owned = new Set(["t:1"]);
    const { c, requests } = committer((key) => owned.has(key));
    c.mark("t:0", at(0, 7));
    await c.flush();
    assert.equal(requests.length, 0, "nothing owned: no request");
    c.mark("t:1", at(1, 8));
    assert.deepEqual(offsets(requests[0]), ["1@8"]);
    requests[0]?.answer();
    await c.flush();
  });

  test("a failed commit is logged in one line and retried after the delay, with what was marked since", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { c, requests, lines } = committer();
    c.mark("t:0", at(0, 3));
    c.mark("t:0", at(0, 4));
    c.mark("t:1", at(1, 9));
    requests[0]?.answer(new Error("COORDINATOR_NOT_AVAILABLE"));
    await settled();
    c.mark("t:2", at(2, 1));
    assert.equal(requests.length, 1, "no new attempt before the delay, marks or not");
    t.mock.timers.tick(999);
    await settled();
    assert.equal(requests.length, 1);
    t.mock.timers.tick(1);
    await settled();
    assert.deepEqual(offsets(requests[1]), ["0@4", "1@9", "2@1"], "the failed 0@3 gave way to the newer 0@4");
    requests[1]?.answer();
    await c.flush();
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] as string) as { msg: string; err: string; partitions: number };
    assert.equal(
      line.msg,
      "offset commit failed; its offsets go with the next commit (a restart before then reads their events again)",
    );
    assert.equal(line.err, "COORDINATOR_NOT_AVAILABLE");
    assert.equal(line.partitions, 1);
  });

  test("retries back off while commits keep failing, and start again from the first delay after a success", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { c, requests } = committer();
    c.mark("t:0", at(0, 1));
    for (const [attempt, delay] of [
      [1, 1000],
      [2, 2000],
      [3, 4000],
    ] as const) {
      await failThenWait(t, requests[attempt - 1], delay - 1);
      assert.equal(requests.length, attempt, `attempt ${attempt + 1} waits ${delay} ms`);
      t.mock.timers.tick(1);
      await settled();
      assert.deepEqual(offsets(requests[attempt]), ["0@1"]);
    }
    requests[3]?.answer();
    await settled();
    c.mark("t:0", at(0, 2));
    await failThenWait(t, requests[4], 1000);
    assert.deepEqual(offsets(requests[5]), ["0@2"]);
    requests[5]?.answer();
    await c.flush();
  });

  test("a failed commit says how many of its offsets go with the next commit and how many are dropped", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const owned = new Set(["t:0", "t:1"]);
    const { c, requests, lines } = committer((key) => owned.has(key));
    c.mark("t:0", at(0, 4));
    c.mark("t:0", at(0, 5));
    c.mark("t:1", at(1, 6));
    requests[0]?.answer();
    await settled();
    assert.deepEqual(offsets(requests[1]), ["0@5", "1@6"]);
    // The commit fails because of the rebalance that takes partition 1 away.
    owned.delete("t:1");
    await failThenWait(t, requests[1], 1000, "REBALANCE_IN_PROGRESS");
    assert.match(String(lines[0]), /1 of its 2 offsets go with the next commit, 1 are dropped/);
    assert.deepEqual(offsets(requests[2]), ["0@5"]);
    requests[2]?.answer();
    await c.flush();
  });

  test("a failed commit of a partition that has moved away is not retried", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const owned = new Set(["t:0", "t:1"]);
    const { c, requests } = committer((key) => owned.has(key));
    c.mark("t:0", at(0, 5));
    c.mark("t:1", at(1, 6));
    // The commit fails because of the rebalance that takes partition 1 away.
    owned.delete("t:1");
    await failThenWait(t, requests[0], 1000, "REBALANCE_IN_PROGRESS");
    assert.deepEqual(offsets(requests[1]), ["0@5"]);
    requests[1]?.answer();
    await c.flush();
  });

  test("flush tries a waiting retry at once, only once, and leaves no timer behind", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { c, requests } = committer();
    c.mark("t:0", at(0, 7));
    requests[0]?.answer(new Error("COORDINATOR_NOT_AVAILABLE"));
    await settled();
    const flushing = c.flush();
    await settled();
    assert.deepEqual(offsets(requests[1]), ["0@7"], "tried without waiting for the delay");
    await failThenWait(t, requests[1], 60_000);
    await flushing;
    assert.equal(requests.length, 2, "no attempt after flush gave up");
    c.mark("t:1", at(1, 1));
    assert.deepEqual(offsets(requests[2]), ["0@7", "1@1"], "the next mark takes the failed offset along");
    requests[2]?.answer();
    await c.flush();
  });

  test("the last flush (shutdown) that fails says its events are read again at the next start", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { c, requests, lines } = committer();
    c.mark("t:0", at(0, 7));
    requests[0]?.answer(new Error("COORDINATOR_NOT_AVAILABLE"));
    await settled();
    const flushing = c.flush({ last: true });
    await settled();
    requests[1]?.answer(new Error("COORDINATOR_NOT_AVAILABLE"));
    await flushing;
    const said = lines.map((l) => (JSON.parse(l as string) as { msg: string }).msg);
    assert.deepEqual(said, [
      "offset commit failed; its offsets go with the next commit (a restart before then reads their events again)",
      "offset commit failed at shutdown; their events are read again from the group's committed offsets, at the next start or by their partitions' new owner",
    ]);
  });

  test("forget drops what is marked, and a commit in flight then puts nothing back when it fails", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { c, requests, lines } = committer();
    c.mark("t:0", at(0, 5));
    c.mark("t:1", at(1, 6));
    // The member is dropped by the group: its commit in flight fails, and it joins again.
    c.forget();
    await failThenWait(t, requests[0], 60_000, "UNKNOWN_MEMBER_ID");
    assert.equal(requests.length, 1, "neither the pending mark nor the failed one is committed");
    const line = JSON.parse(lines[0] as string) as { msg: string; dropped: number };
    assert.equal(
      line.msg,
      "offset commit failed; its offsets are dropped, not retried (their partitions moved away or the group dropped this member): their events are read again from the group's committed offsets",
      "not that they go with the next commit",
    );
    assert.equal(line.dropped, 1);
    c.mark("t:2", at(2, 9));
    assert.deepEqual(offsets(requests[1]), ["2@9"], "only what is marked after");
    requests[1]?.answer();
    await c.flush();
  });

  test("an offset marked before its partition moved away and came back is neither committed nor retried", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const tenure = new Map([
      ["t:0", 1],
      ["t:1", 1],
    ]);
    const { c, requests } = committer(
      (key) => tenure.has(key),
      (key) => tenure.get(key),
    );
    c.mark("t:0", at(0, 5));
    c.mark("t:1", at(1, 6));
    c.mark("t:0", at(0, 7));
    // t:0 taken away and handed back: another member owned it in between, and may have committed past 7.
    tenure.set("t:0", 3);
    await failThenWait(t, requests[0], 60_000, "REBALANCE_IN_PROGRESS");
    assert.deepEqual(offsets(requests[1]), ["1@6"], "the failed 0@5 is not retried, nor the pending 0@7 sent");
    requests[1]?.answer();
    await settled();
    c.mark("t:0", at(0, 12));
    assert.deepEqual(offsets(requests[2]), ["0@12"], "marked in the new tenure");
    requests[2]?.answer();
    await c.flush();
  });
});
