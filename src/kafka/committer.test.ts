import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
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

function committer(owned: (key: string) => boolean = () => true) {
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
    log: createLogger("warn", out),
  });
  return { c, requests, lines };
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
    await new Promise((r) => setImmediate(r));
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
    await new Promise((r) => setImmediate(r));
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

  test("a failed commit is logged in one line and later marks are committed", async () => {
    const { c, requests, lines } = committer();
    c.mark("t:0", at(0, 3));
    c.mark("t:0", at(0, 4));
    requests[0]?.answer(new Error("REBALANCE_IN_PROGRESS"));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(offsets(requests[1]), ["0@4"]);
    requests[1]?.answer();
    await c.flush();
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] as string) as { msg: string; err: string };
    assert.equal(line.msg, "offset commit failed; these events will be read again");
    assert.equal(line.err, "REBALANCE_IN_PROGRESS");
  });
});
