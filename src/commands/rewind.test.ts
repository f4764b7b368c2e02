import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "./args.ts";
import {
  formatPlan,
  liveMembers,
  type PartitionFacts,
  planPartition,
  type RewindTarget,
  rewindOptions,
  summarise,
} from "./rewind-plan.ts";

const EARLIEST: RewindTarget = { kind: "earliest" };
const AT: RewindTarget = { kind: "time", ms: Date.parse("2026-02-11T09:30:00Z"), text: "2026-02-11T09:30:00Z" };

test("rewindOptions: --to earliest or an ISO time, --dry-run anywhere", () => {
  assert.deepEqual(rewindOptions(["--to", "earliest"]), { to: EARLIEST, dryRun: false });
  assert.deepEqual(rewindOptions(["--dry-run", "--to=earliest"]), { to: EARLIEST, dryRun: true });
  assert.deepEqual(rewindOptions(["--to", "2026-02-11T09:30:00Z", "--dry-run"]), { to: AT, dryRun: true });
  const day = rewindOptions(["--to", "2026-02-11"]).to;
  assert.deepEqual(day, { kind: "time", ms: Date.parse("2026-02-11T00:00:00Z"), text: "2026-02-11" });
  const offset = rewindOptions(["--to", "2026-02-11T11:30:00+02:00"]).to;
  assert.equal(offset.kind === "time" && offset.ms, AT.kind === "time" && AT.ms);
});

test("rewindOptions: a time in the future is refused: every partition would go to its end", () => {
  const now = Date.parse("2026-12-05T12:00:00Z");
  assert.deepEqual(rewindOptions(["--to", "2026-12-05T12:00:00Z"], now).to, {
    kind: "time",
    ms: now,
    text: "2026-12-05T12:00:00Z",
  });
  assert.throws(
    () => rewindOptions(["--to", "2099-01-01"], now),
    (err: unknown) =>
      err instanceof UsageError &&
      /^rewind: --to "2099-01-01" is in the future: no record is that late/.test(err.message),
  );
});

test("rewindOptions: each mistake is one UsageError line", () => {
  const cases: [string[], RegExp][] = [
    [[], /^rewind: say where to: --to earliest or --to <ISO time> \(e\.g\. /],
    [["--dry-run"], /^rewind: say where to: /],
    [["--to"], /^rewind: --to needs a value; try --help$/],
    [
      ["--to", "yesterday"],
      /^rewind: --to "yesterday" is neither earliest nor an ISO-8601 time \(UTC when it has no offset/,
    ],
    [["--to", "2026-02-30"], /^rewind: --to "2026-02-30" is neither earliest nor an ISO-8601 time/],
    [["--to", "latest"], /is neither earliest nor/],
    [["--to", "earliest", "--force"], /^rewind: unknown option --force; try --help$/],
    [["--to", "earliest", "--to", "earliest"], /^rewind: --to given twice; try --help$/],
    [["earliest"], /^rewind: unexpected argument "earliest"; try --help$/],
    [["--to", "earliest", "--dry-run=yes"], /^rewind: --dry-run takes no value; try --help$/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => rewindOptions(args),
      (err: unknown) => {
        assert.ok(err instanceof UsageError, `${args.join(" ")}: a UsageError`);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
  }
});

const facts = (f: Partial<PartitionFacts>): PartitionFacts => ({
  topic: "user",
  partition: 0,
  committed: 900n,
  start: 100n,
  end: 1000n,
  ...f,
});

test("planPartition: earliest is the log start, whatever was committed", () => {
  assert.deepEqual(planPartition(facts({}), EARLIEST), {
    topic: "user",
    partition: 0,
    before: 900n,
    after: 100n,
    end: 1000n,
  });
  // A partition never committed starts at KAFKA_AUTO_OFFSET_RESET: a rewind leaves it so.
  const never = planPartition(facts({ committed: null }), EARLIEST);
  assert.equal(never.after, null);
  assert.equal(never.note, "never committed: starts at KAFKA_AUTO_OFFSET_RESET");
  assert.equal(planPartition(facts({ committed: 100n }), EARLIEST).after, 100n, "already there");
  // Below the log start those records are gone: the start is where reading resumes anyway.
  assert.equal(planPartition(facts({ committed: 40n }), EARLIEST).after, 100n);
  // An empty partition never committed stays so: a commit would change nothing it reads.
  assert.equal(planPartition(facts({ start: 0n, end: 0n, committed: null }), EARLIEST).after, null);
  assert.equal(planPartition(facts({ start: 7n, end: 7n, committed: null, atTime: null }), AT).note, undefined);
  assert.equal(planPartition(facts({ start: 0n, end: 0n, committed: 0n }), EARLIEST).after, 0n);
});

test("planPartition: a time is the first record at or after it, the end past the last", () => {
  assert.equal(planPartition(facts({ atTime: 500n }), AT).after, 500n);
  const past = planPartition(facts({ atTime: null, committed: 1000n }), AT);
  assert.equal(past.after, 1000n);
  assert.match(past.note ?? "", /no record at or after the time: the end/);
  assert.equal(
    planPartition(facts({ atTime: 500n, committed: null }), AT).after,
    null,
    "never committed: not skipped ahead",
  );
});

test("planPartition: a rewind never skips what the group has not read yet", () => {
  const kept = planPartition(facts({ atTime: 500n, committed: 300n }), AT);
  assert.equal(kept.after, 300n);
  assert.equal(kept.before, 300n);
  assert.match(kept.note ?? "", /^kept: /);
  assert.equal(planPartition(facts({ atTime: null, committed: 300n }), AT).after, 300n, "past the end");
  assert.equal(planPartition(facts({ atTime: 500n, committed: 40n }), AT).after, 500n, "below the log start");
});

test("planPartition is idempotent: planning again from where it went changes nothing", () => {
  for (const [f, to] of [
    [facts({}), EARLIEST],
    [facts({ atTime: 500n }), AT],
    [facts({ atTime: null }), AT],
    [facts({ committed: null, atTime: 700n }), AT],
  ] as const) {
    const first = planPartition(f, to);
    const again = planPartition({ ...f, committed: first.after }, to);
    assert.equal(again.after, first.after);
    assert.equal(again.before, again.after);
  }
});

test("formatPlan and summarise: before and after per partition, then one line", () => {
  const plans = [
    planPartition(facts({ partition: 0 }), EARLIEST),
    planPartition(facts({ partition: 1, committed: 100n }), EARLIEST),
    planPartition(facts({ topic: "order", partition: 0, committed: null, start: 0n, end: 0n }), EARLIEST),
  ];
  assert.equal(
    formatPlan(plans),
    [
      "topic  partition  before  after   end  note",
      "-----  ---------  ------  -----  ----  ----",
      "user           0     900    100  1000  -",
      "user           1     100    100  1000  -",
      "order          0       -      -     0  -",
      "",
    ].join("\n"),
  );
  assert.equal(
    summarise(plans, "g", true),
    "dry run: would move 1 of 3 partition(s) of group g, 800 record(s) to read again; nothing changed",
  );
  assert.equal(
    summarise(plans, "g", false),
    "moved 1 of 3 partition(s) of group g, 800 record(s) to read again; start the service instances to replay them",
  );
  assert.equal(summarise(plans.slice(1), "g", false), "group g: all 2 partition(s) are already there; nothing changed");
});

test("liveMembers: only an empty or dead group with no members may be rewound", () => {
  const none = new Map();
  assert.equal(liveMembers(undefined, "g"), null);
  assert.equal(liveMembers({ state: "Empty", members: none }, "g"), null);
  assert.equal(liveMembers({ state: "Dead", members: none }, "g"), null);
  const one = new Map([["m1", {} as never]]);
  const refusal = liveMembers({ state: "Stable", members: one }, "g");
  assert.match(
    refusal ?? "",
    /^rewind: consumer group g has 1 live member\(s\) \(state Stable\): stop every service instance with KAFKA_GROUP_ID=g /,
  );
  assert.doesNotMatch(refusal ?? "", /\n/);
  assert.notEqual(liveMembers({ state: "PreparingRebalance", members: none }, "g"), null, "a rebalance under way");
});

test("summarise and liveMembers: a KAFKA_GROUP_ID holding a line break or a terminal escape is written as one line", () => {
  // The line under the table and the note go to standard output as they are: a group id is any
  // string Kafka takes, and the variable may be set by whoever writes the deployment.
  const group = "g\nmoved 0 of 3 partition(s)\u001b[2J\u202Eg";
  const plans = [planPartition(facts({ partition: 0 }), EARLIEST)];
  const unsafe = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
  assert.doesNotMatch(summarise(plans, group, true), unsafe);
  assert.doesNotMatch(summarise([], group, true), unsafe);
  const one = new Map([["m1", {} as never]]);
  assert.doesNotMatch(liveMembers({ state: "Stable", members: one }, group) ?? "", unsafe);
});
