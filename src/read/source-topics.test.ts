import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { KafkaUnavailableError } from "../errors.ts";
import { capturingLogger } from "../testing/support.ts";
import type { Lag } from "./lag.ts";
import { SourceTopics, watchSourceTopics } from "./source-topics.ts";

const ALL = ["user", "supplier", "product", "order", "post"];

/** An admin client whose topic list the test sets; it fails while `failing` is set. */
function fakeAdmin(listed: string[]) {
  const admin = {
    listed,
    failing: false,
    closed: false,
    listTopics: async () => {
      if (admin.failing) throw new Error("Connection refused");
      return admin.listed;
    },
    /** The topics whose metadata and end offsets were asked for, in each turn. */
    asked: [] as string[][],
    metadata: async ({ topics }: { topics: string[] }) => {
      admin.asked.push(topics);
      const partitions = [{ leader: 1 }, { leader: 1 }];
      return { topics: new Map(topics.map((t) => [t, { id: `id-${t}`, partitionsCount: 2, partitions }])) };
    },
    listOffsets: async ({ topics }: { topics: { name: string; partitions: { partitionIndex: number }[] }[] }) =>
      topics.map(({ name, partitions }) => ({
        name,
        partitions: partitions.map(({ partitionIndex }) => ({ partitionIndex, offset: 10n })),
      })),
    close: async () => {
      admin.closed = true;
    },
  };
  return admin;
}

test("a stream reads the source topics that exist, in their order; what is missing is said once per change", async () => {
  const admin = fakeAdmin(["post", "user", "other", "dlq"]);
  const { log, lines } = capturingLogger();
  const topics = new SourceTopics(admin as never, ALL, log);
  assert.deepEqual(await topics.forStream(), ["user", "post"]);
  assert.deepEqual(await topics.forStream(), ["user", "post"]);
  admin.listed = ["post", "user", "order"];
  assert.deepEqual(await topics.forStream(), ["user", "order", "post"]);
  admin.listed = [...ALL];
  assert.deepEqual(await topics.forStream(), ALL);
  assert.deepEqual(
    lines.map((l) => l.msg),
    [
      "source topics supplier, product, order not found (not created yet, deleted, or hidden from this Kafka user): reading the others, and these once they exist",
      "source topics supplier, product not found (not created yet, deleted, or hidden from this Kafka user): reading the others, and these once they exist",
      "every source topic exists: reading all of them",
    ],
  );
  await topics.close();
  assert.ok(admin.closed);
});

test("one topic missing is named alone; none existing, or no answer, is an outage", async () => {
  const admin = fakeAdmin(ALL.filter((t) => t !== "post"));
  const { log, lines } = capturingLogger();
  const topics = new SourceTopics(admin as never, ALL, log);
  await topics.forStream();
  assert.deepEqual(
    lines.map((l) => l.msg),
    [
      "source topic post not found (not created yet, deleted, or hidden from this Kafka user): reading the others, and it once it exists",
    ],
  );
  admin.listed = ["dlq"];
  await assert.rejects(topics.forStream(), (err: Error) => {
    assert.ok(err instanceof KafkaUnavailableError);
    assert.equal(
      err.message,
      "no source topic exists (user, supplier, product, order, post): reading waits until one does",
    );
    return true;
  });
  admin.failing = true;
  await assert.rejects(
    topics.forStream(),
    (err: Error) => err instanceof KafkaUnavailableError && /Connection refused/.test(err.message),
  );
  // The service's own line for an unreachable broker, when it is given one.
  const explained = new SourceTopics(admin as never, ALL, log, (err) => `no answer (${(err as Error).message})`);
  await assert.rejects(explained.forStream(), { message: "no answer (Connection refused)" });
});

test("the watch rejoins for a topic the stream does not read, and reads the lag of those that exist", async (t) => {
  mock.timers.enable({ apis: ["setInterval"] });
  t.after(() => mock.timers.reset());
  const admin = fakeAdmin(["user", "order"]);
  const { log, lines } = capturingLogger("debug");
  const rejoins: string[] = [];
  const reading = new Set(["user", "order"]);
  const pipeline = {
    reads: (topic: string) => reading.has(topic),
    rejoin: (why: string) => rejoins.push(why),
    committed: () => new Map([["user:1", 4n]]),
  };
  const reports: Lag[] = [];
  const stop = watchSourceTopics(
    new SourceTopics(admin as never, ALL, log),
    pipeline,
    (r) => reports.push(r),
    log,
    1000,
  );
  const turn = async () => {
    mock.timers.tick(1000);
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  await turn();
  assert.deepEqual(rejoins, []);
  assert.deepEqual(admin.asked, [["user", "order"]]);
  assert.deepEqual(reports, [
    {
      lag: new Map([
        ["user", [-1n, 6n]],
        ["order", [-1n, -1n]],
      ]),
      ids: new Map([
        ["user", "id-user"],
        ["order", "id-order"],
      ]),
      held: [],
      unread: new Set(),
      failures: [],
    },
  ]);
  admin.listed = ["user", "order", "post", "supplier"];
  await turn();
  assert.deepEqual(rejoins, ["source topics supplier, post exist now"]);
  admin.failing = true;
  await turn();
  assert.equal(admin.asked.length, 2, "no lag asked for while the broker does not answer");
  assert.ok(lines.some((l) => l.msg === "the source topics and their lag could not be read this time"));
  stop();
  admin.failing = false;
  await turn();
  assert.equal(admin.asked.length, 2, "stopped");
});
