import assert from "node:assert/strict";
import { test } from "node:test";
import type { Config } from "../config/index.ts";
import { DOMAINS } from "../domains/registry.ts";
import { capturingLogger } from "../testing/support.ts";
import { WRITTEN, warnLostOffsets } from "./lost-offsets.ts";

test("a database counts as written when any domain's entity table, or the tombstones, holds a row", async () => {
  const entityTables = DOMAINS.flatMap((d) => d.tables.filter((t) => t.rowId === undefined).map((t) => t.name));
  assert.deepEqual(WRITTEN, [...entityTables, "entity_tombstones"]);
  for (const name of ["users", "suppliers", "products", "orders", "posts"]) assert.ok(WRITTEN.includes(name), name);

  const queries: string[] = [];
  const pool = {
    query: async (sql: string) => {
      queries.push(sql);
      return [[{ written: 1 }], []];
    },
  };
  const consumer = { listCommittedOffsets: async () => new Map([["user", [-1n]]]) };
  const { log, lines } = capturingLogger("info");
  const config = { kafkaAutoOffsetReset: "latest", kafkaGroupId: "g" } as Config;
  await warnLostOffsets(config, pool as never, new Map([["user", 1]]), consumer as never, log);
  assert.equal(queries.length, 1);
  for (const table of WRITTEN) assert.ok(queries[0]?.includes(`FROM \`${table}\``), table);
  assert.equal(lines.length, 1);
  assert.match(String(lines[0]?.msg), /^KAFKA_GROUP_ID g has no committed offsets on the source topics/);
});

test("under earliest, a group that read past the log's start over a database holding no row is warned of once", async () => {
  const run = async (committed: bigint[], starts: bigint[], written: number) => {
    const queries: string[] = [];
    const pool = {
      query: async (sql: string) => {
        queries.push(sql);
        return [[{ written }], []];
      },
    };
    const consumer = {
      listCommittedOffsets: async () => new Map([["user", committed]]),
      listOffsets: async () => new Map([["user", starts]]),
    };
    const { log, lines } = capturingLogger("info");
    const config = { kafkaAutoOffsetReset: "earliest", kafkaGroupId: "g" } as Config;
    await warnLostOffsets(config, pool as never, new Map([["user", committed.length]]), consumer as never, log);
    return { queries, lines: lines.map((l) => String(l.msg)) };
  };
  // Read 5 events of partition 1, the database empty: a new or restored database under an old group.
  const emptied = await run([0n, 5n], [0n, 0n], 0);
  assert.equal(emptied.lines.length, 1);
  assert.match(
    emptied.lines[0] ?? "",
    /^KAFKA_GROUP_ID g has read the source topics up to its committed offsets, but the database holds no row this service writes: .* rewind --to earliest /,
  );
  // Events all dead-lettered or skipped leave no row either: the line must not send the operator
  // to read them again (each would be dead-lettered a second time) without saying so.
  assert.match(emptied.lines[0] ?? "", /unless every event the group has read was dead-lettered or skipped/);
  // The database holds rows: nothing said.
  assert.deepEqual((await run([0n, 5n], [0n, 0n], 1)).lines, []);
  // Offsets at the log's start (a new group, or retention took what it read): nothing read, nothing asked of the database.
  const atStart = await run([3n, -1n], [3n, 0n], 0);
  assert.deepEqual(atStart, { queries: [], lines: [] });
  // No committed offset at all: a new group.
  assert.deepEqual(await run([-1n, -1n], [0n, 0n], 0), { queries: [], lines: [] });
});
