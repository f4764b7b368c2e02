import assert from "node:assert/strict";
import { test } from "node:test";
import type { CommitOffset } from "../commit/committer.ts";
import type { DeadLetter } from "../dead-letter/letter.ts";
import type { Decoded } from "../decode/decode.ts";
import { BadEventError } from "../errors.ts";
import type { Op, Outcome } from "../plan/ops.ts";
import { AbandonedError, PartitionMovedError } from "../retry.ts";
import { capturingLogger } from "../testing/support.ts";
import type { BatchResult } from "../write/transaction.ts";
import { type BatchDeps, type BatchMessage, BatchProcessor, type BatchReport, groupSlices } from "./batch-processor.ts";
import { UnexpectedErrorsError } from "./breaker.ts";

// The batch processor without Kafka or MySQL: what it applies together, what it dead-letters,
// which offsets it marks, and in which order, when partitions move, transactions fail or
// shutdown comes.

const message = (topic: string, partition: number, offset: number): BatchMessage => ({
  topic,
  partition,
  offset: BigInt(offset),
  leaderEpoch: 0,
  key: null,
  value: Buffer.from(`${topic}:${partition}@${offset}`),
  headers: undefined,
});
const APPLIED: Decoded = { op: { kind: "applied" }, unknownEnums: [] };
const rejected = (reason: "bad_field" | "unexpected_error"): Decoded => ({
  op: { kind: "rejected", error: new BadEventError(reason, `${reason} here`) },
  unknownEnums: [],
  ...(reason === "unexpected_error" ? { unexpected: new TypeError("x") } : {}),
});

/** A processor over recording fakes; `apply` answers each transaction (by default: as decoded). */
function harness(over: Partial<BatchDeps> = {}) {
  const steps: string[] = [];
  const transactions: number[] = [];
  const marks = new Map<string, bigint>();
  const letters: DeadLetter[] = [];
  const reports: BatchReport[] = [];
  const { log } = capturingLogger("info");
  const deps: BatchDeps = {
    apply: async (items: readonly (Op | Outcome)[]): Promise<BatchResult> => {
      transactions.push(items.length);
      steps.push("apply");
      return { outcomes: items as Outcome[], rows: new Map([["users:upsert", items.length]]) };
    },
    deadLetter: async (sent) => {
      steps.push("letters");
      letters.push(...sent);
    },
    owns: () => true,
    membership: { holds: () => true, confirm: async () => true },
    mark: (key: string, offset: CommitOffset) => {
      steps.push(`mark ${key}`);
      marks.set(key, offset.offset);
    },
    transactions: 2,
    maxUnexpectedErrors: 5,
    log,
    onBatch: (r) => reports.push(r),
    ...over,
  };
  return { processor: new BatchProcessor(deps), steps, transactions, marks, letters, reports };
}
const signal = new AbortController().signal;

test("partitions are grouped into at most `transactions` transactions; each partition's next offset is marked after", async () => {
  const h = harness();
  const batch = [message("u", 0, 5), message("u", 1, 9), message("u", 0, 6), message("p", 0, 2)];
  const dropped = await h.processor.process(
    batch,
    batch.map(() => APPLIED),
    signal,
  );
  assert.equal(dropped, false);
  assert.deepEqual(h.transactions.sort(), [2, 2], "u:0 alone (2 events); u:1 and p:0 together");
  assert.deepEqual(Object.fromEntries(h.marks), { "u:0": 7n, "u:1": 10n, "p:0": 3n });
  assert.deepEqual(h.steps.slice(0, 2), ["apply", "apply"], "marked only once applied");
  assert.equal(h.reports[0]?.events.length, 4);
  assert.equal(h.reports[0]?.rows.get("users:upsert"), 4);
});

test("rejected events are dead-lettered before any offset is marked", async () => {
  const h = harness();
  const batch = [message("u", 0, 1), message("u", 0, 2), message("u", 0, 3)];
  await h.processor.process(batch, [APPLIED, rejected("bad_field"), APPLIED], signal);
  assert.deepEqual(h.steps, ["apply", "letters", "mark u:0"]);
  assert.equal(h.letters.length, 1);
  assert.equal(h.letters[0]?.offset, 2n);
  assert.equal(h.letters[0]?.error.reason, "bad_field");
  assert.equal(h.marks.get("u:0"), 4n);
});

test("a flood of dead letters logs 20 lines, and the count of the rest when flushed at shutdown", async () => {
  const { log, lines } = capturingLogger("info");
  const h = harness({ log });
  const batch = Array.from({ length: 50 }, (_, i) => message("u", 0, i + 1));
  await h.processor.process(
    batch,
    batch.map(() => rejected("bad_field")),
    signal,
  );
  assert.equal(lines.filter((l) => String(l.msg).startsWith("dead-lettered: ")).length, 20);
  h.processor.flushWarnings();
  assert.equal(lines.at(-1)?.suppressed, 30);
});

test("events of partitions no longer owned are dropped, never applied or marked", async () => {
  const h = harness({ owns: (key) => key !== "u:1" });
  const batch = [message("u", 0, 1), message("u", 1, 1)];
  assert.equal(await h.processor.process(batch, [APPLIED, APPLIED], signal), true);
  assert.deepEqual(h.transactions, [1]);
  assert.deepEqual([...h.marks.keys()], ["u:0"]);
});

test("a transaction that fails for good fails the batch: nothing marked, nothing dead-lettered", async () => {
  const h = harness({
    apply: async () => {
      throw new Error("the database refused for good");
    },
  });
  const batch = [message("u", 0, 1)];
  await assert.rejects(h.processor.process(batch, [rejected("bad_field")], signal), /refused for good/);
  assert.equal(h.marks.size, 0);
  assert.equal(h.letters.length, 0);
});

test("shutdown while a group waits: the finished groups are marked, then AbandonedError", async () => {
  let calls = 0;
  const h = harness({
    apply: async (items) => {
      if (calls++ === 0) throw new AbandonedError();
      return { outcomes: items as Outcome[], rows: new Map() };
    },
  });
  const batch = [message("u", 0, 1), message("u", 0, 2), message("u", 1, 1)];
  await assert.rejects(h.processor.process(batch, [APPLIED, APPLIED, APPLIED], signal), AbandonedError);
  assert.deepEqual([...h.marks.keys()], ["u:1"]);
});

test("shutdown before the letters are acknowledged: their partitions stay unmarked", async () => {
  const h = harness({
    deadLetter: async () => {
      throw new AbandonedError();
    },
  });
  const batch = [message("u", 0, 1), message("u", 1, 1)];
  await assert.rejects(h.processor.process(batch, [rejected("bad_field"), APPLIED], signal), AbandonedError);
  assert.deepEqual([...h.marks.keys()], ["u:1"]);
});

test("unexpected errors are dead-lettered and marked first; the one past the breaker's limit stops the service", async () => {
  const h = harness({ maxUnexpectedErrors: 1 });
  const batch = [message("u", 0, 1), message("u", 0, 2)];
  await assert.rejects(
    h.processor.process(batch, [rejected("unexpected_error"), rejected("unexpected_error")], signal),
    UnexpectedErrorsError,
  );
  assert.equal(h.letters.length, 2);
  assert.equal(h.marks.get("u:0"), 3n, "both letters are out and their offsets marked before it stops");
});

test("an event the writer failed on in the code is logged as such and fed to the breaker", async () => {
  const failed: Outcome = {
    kind: "rejected",
    error: new BadEventError("unexpected_error", "unexpected TypeError while writing the event"),
    unexpected: new TypeError("x"),
  };
  const { log, lines } = capturingLogger("info");
  const h = harness({
    maxUnexpectedErrors: 1,
    log,
    apply: async (items) => ({ outcomes: items.map(() => failed), rows: new Map() }),
  });
  const batch = [message("u", 0, 1), message("u", 0, 2)];
  await assert.rejects(h.processor.process(batch, [APPLIED, APPLIED], signal), UnexpectedErrorsError);
  assert.equal(h.letters.length, 2);
  assert.equal(h.marks.get("u:0"), 3n);
  assert.match(
    String(lines.find((l) => l.level === 50)?.msg),
    /^unexpected error while writing: TypeError in an event at u\/0@1;/,
  );
});

test("an unexpected error's message is not logged, even one that spans lines", async () => {
  // V8 quotes the value in some messages ("Cannot create property 'x' on string '…'"): one that
  // holds a line break went on into the lines logged as the stack's frames.
  let thrown: unknown;
  try {
    (JSON.parse('"SEKRET_one\\nSEKRET_two"') as { x: number }).x = 1;
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof TypeError);
  assert.match(thrown.message, /SEKRET_one\nSEKRET_two/);
  const failed: Outcome = {
    kind: "rejected",
    error: new BadEventError("unexpected_error", "unexpected TypeError while writing the event"),
    unexpected: thrown,
  };
  const { log, lines } = capturingLogger("info");
  const h = harness({
    maxUnexpectedErrors: 5,
    log,
    apply: async (items) => ({ outcomes: items.map(() => failed), rows: new Map() }),
  });
  await h.processor.process([message("u", 0, 1)], [APPLIED], signal);
  const logged = lines.find((l) => l.level === 50);
  assert.ok(logged);
  assert.match(String(logged.stack), /^\s+at /, "the frames are kept");
  assert.ok(!JSON.stringify(lines).includes("SEKRET"), JSON.stringify(logged));
});

test("groupSlices deals partitions into groups of similar size, largest first", () => {
  const slice = (n: number) => ({ messages: Array.from({ length: n }) });
  const groups = groupSlices(
    [
      ["a", slice(5)],
      ["b", slice(3)],
      ["c", slice(3)],
      ["d", slice(1)],
    ],
    2,
  );
  assert.deepEqual(
    groups.map((g) => g.map(([k]) => k)),
    [
      ["a", "d"],
      ["b", "c"],
    ],
  );
  assert.equal(groupSlices([["a", slice(1)]], 4).length, 1);
});

test("a group whose partitions moved away before its transaction (a retry after an outage) is dropped: not written, lettered or marked", async () => {
  let owned = true;
  const h = harness({
    owns: (key) => owned || key !== "u:0",
    apply: async (items, _signal, stillOwned) => {
      // As applyBatch: the ownership is asked before each transaction, here after an outage during which the partition moved.
      owned = false;
      if (!stillOwned.held()) throw new PartitionMovedError();
      return { outcomes: items as Outcome[], rows: new Map() };
    },
    transactions: 2,
  });
  const batch = [message("u", 0, 5), message("u", 1, 9)];
  const dropped = await h.processor.process(batch, [rejected("bad_field"), APPLIED], signal);
  assert.equal(dropped, true, "read again from the commits");
  assert.deepEqual([...h.marks.keys()], ["u:1"]);
  assert.equal(h.letters.length, 0);
});

test("a group is not committed while the group's coordinator has not confirmed the member, nor once its stream is stale", async () => {
  const asked: AbortSignal[] = [];
  let member = false;
  let current = true;
  const h = harness({
    membership: {
      holds: () => member,
      confirm: async (s) => {
        asked.push(s);
        return member;
      },
    },
    apply: async (items, _signal, owned) => {
      // As applyBatch: confirmed before the transaction, and again without waiting before its commit.
      if (!owned.held() || !(await owned.confirmed()) || !owned.confirmedNow()) throw new PartitionMovedError();
      return { outcomes: items as Outcome[], rows: new Map() };
    },
    transactions: 1,
  });
  const batch = [message("u", 0, 5)];
  assert.equal(
    await h.processor.process(batch, [APPLIED], signal, () => current),
    true,
    "a member the group may have dropped",
  );
  assert.deepEqual(asked, [signal], "asked with the batch's signal, so shutdown ends the wait");
  member = true;
  current = false;
  assert.equal(await h.processor.process(batch, [APPLIED], signal, () => current), true, "read from a stale stream");
  assert.equal(h.marks.size, 0);
  current = true;
  assert.equal(await h.processor.process(batch, [APPLIED], signal, () => current), false);
  assert.deepEqual([...h.marks.keys()], ["u:0"]);
});

/** A lease that has run out, whose confirmation shutdown (`stop`) cuts short. */
const stoppedWhileConfirming = (stop: AbortController): BatchDeps["membership"] => ({
  holds: () => false,
  confirm: async (s) => {
    stop.abort();
    return !s.aborted;
  },
});

test("shutdown during the wait for the member's confirmation abandons the batch: not dropped as moved, nothing marked", async () => {
  const stop = new AbortController();
  const { log, lines } = capturingLogger("debug");
  const h = harness({
    log,
    membership: stoppedWhileConfirming(stop),
    apply: async (items, _signal, owned) => {
      if (!owned.held() || !(await owned.confirmed())) throw new PartitionMovedError();
      return { outcomes: items as Outcome[], rows: new Map() };
    },
  });
  await assert.rejects(h.processor.process([message("u", 0, 5)], [APPLIED], stop.signal), AbandonedError);
  assert.equal(h.marks.size, 0);
  assert.equal(lines.filter((l) => String(l.msg).includes("moved away")).length, 0);
});

test("shutdown during the wait for the member's confirmation before dead letters abandons them: not sent, not marked, not read as moved", async () => {
  const stop = new AbortController();
  const { log, lines } = capturingLogger("debug");
  const h = harness({
    log,
    membership: stoppedWhileConfirming(stop),
  });
  await assert.rejects(h.processor.process([message("u", 0, 5)], [rejected("bad_field")], stop.signal), AbandonedError);
  assert.deepEqual(h.letters, []);
  assert.equal(h.marks.size, 0);
  assert.equal(lines.filter((l) => String(l.msg).includes("may no longer own")).length, 0);
});

test("dead letters go out only while the member is confirmed in the group and owns their partitions; the others are left unmarked", async () => {
  let member = false;
  let ownsU0 = true;
  const h = harness({
    membership: { holds: () => member, confirm: async () => member },
    owns: (key) => key !== "u:0" || ownsU0,
  });
  // Every event refused at decode: no transaction, so no commit asked whether the member still owns them.
  const refused = [message("u", 0, 5), message("u", 1, 9)];
  const dropped = await h.processor.process(refused, [rejected("bad_field"), rejected("bad_field")], signal);
  assert.equal(dropped, true, "read again from the commits");
  assert.deepEqual(h.letters, [], "a member the group may have dropped letters nothing");
  assert.equal(h.marks.size, 0);

  member = true;
  ownsU0 = false;
  // u:0 moves away once its batch is in hand (after the batch was sliced by owner).
  const h2 = harness({
    membership: { holds: () => member, confirm: async () => member },
    owns: (key) => key !== "u:0" || ownsU0,
    apply: async (items) => {
      ownsU0 = false;
      return { outcomes: items as Outcome[], rows: new Map() };
    },
  });
  ownsU0 = true;
  const both = await h2.processor.process(refused, [rejected("bad_field"), rejected("bad_field")], signal);
  assert.equal(both, true);
  assert.deepEqual(
    h2.letters.map((l) => `${l.topic}:${l.partition}`),
    ["u:1"],
    "the letters of the partition still owned go out",
  );
  assert.deepEqual([...h2.marks.keys()], ["u:1"]);
});
