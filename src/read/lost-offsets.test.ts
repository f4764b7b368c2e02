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
