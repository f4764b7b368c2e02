import assert from "node:assert/strict";
import { test } from "node:test";
import { GroupConflictError, KafkaUnavailableError } from "../errors.ts";
import { Outage } from "../retry.ts";
import { capturingLogger } from "../testing/support.ts";
import { GroupSettling, memberDatabase, membershipData, otherDatabase, waitOutConflicts } from "./group-database.ts";

const ours = { id: "11111111-1111-1111-1111-111111111111", name: "analytics at db1:3306" };
const theirs = { id: "22222222-2222-2222-2222-222222222222", name: "analytics at db2:3306" };

test("a member's database is read back from the data this service puts in its membership", () => {
  assert.deepEqual(memberDatabase(membershipData(theirs)), theirs);
  assert.deepEqual(memberDatabase(membershipData(theirs).toString()), theirs);
});

test("members without this service's data are not judged: older releases, other programs, garbage", () => {
  for (const data of [null, undefined, "", Buffer.alloc(0), "{", "[]", '{"name":"x"}', Buffer.alloc(5000, 0x20)]) {
    assert.equal(memberDatabase(data), undefined, String(data));
  }
  assert.equal(otherDatabase([null, "{", undefined], ours), undefined);
});

test("the first member writing to another database is named; those on ours are not", () => {
  assert.equal(otherDatabase([membershipData(ours)], ours), undefined);
  const other = otherDatabase([membershipData(ours), membershipData(theirs)], ours);
  assert.deepEqual(other, theirs);
});

test("a long name in another member's data is cut for the line", () => {
  const long = { id: theirs.id, name: "x".repeat(1000) };
  assert.equal(memberDatabase(membershipData(long))?.name.length, 300);
});

test("another member's database, said as one line: no line break, escape or bidi control of its own", () => {
  const hostile = { id: "id\u202e\n", name: "db\u001b[2J\u009b31m\nfake line" };
  const said = memberDatabase(membershipData(hostile));
  assert.deepEqual(said, { id: "id\\u202e\\u000a", name: "db\\u001b[2J\\u009b31m\\u000afake line" });
});

test("Kafka not answering the group check is Kafka's outage; a member writing elsewhere is the group's", async () => {
  const { log, lines } = capturingLogger("warn");
  const outages = { group: new Outage("Kafka group", log), kafka: new Outage("Kafka", log) };
  const answers = [
    new KafkaUnavailableError("Kafka: no answer"),
    new GroupConflictError("a member writes to another database"),
    new KafkaUnavailableError("Kafka: no answer again"),
  ];
  let calls = 0;
  await waitOutConflicts(
    async () => {
      const next = answers[calls++];
      if (next) throw next;
    },
    outages,
    1,
    new AbortController().signal,
  );
  assert.equal(calls, 4);
  const said = lines.map((l) => String(l.msg));
  assert.ok(said.some((m) => m.startsWith("Kafka unavailable, pausing and retrying with backoff: Kafka: no answer")));
  assert.ok(
    said.some((m) => m.startsWith("Kafka group unavailable, pausing and retrying with backoff: a member writes")),
  );
  assert.ok(
    !said.some((m) => m.startsWith("Kafka group unavailable") && m.includes("no answer")),
    "Kafka's failure is not the group's",
  );
  assert.equal(outages.group.active, false);
  assert.equal(outages.kafka.active, false);
});

test("a rebalance passes through both loops to the caller, which waits it out quietly", async () => {
  const { log } = capturingLogger("warn");
  const outages = { group: new Outage("Kafka group", log), kafka: new Outage("Kafka", log) };
  await assert.rejects(
    waitOutConflicts(() => Promise.reject(new GroupSettling("rebalancing")), outages, 1, new AbortController().signal),
    GroupSettling,
  );
  assert.equal(outages.group.active, false);
});
