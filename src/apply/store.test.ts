import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defineTable } from "./ops.ts";
import type { Plan, Write } from "./plan.ts";
import { MAX_PARENTS_PER_CHILD_DELETE } from "./sql.ts";
import { executePlan, type SqlRunner } from "./store.ts";

const boxes = defineTable("boxes", "box_id", ["box_id", "label", "event_timestamp"]);
const slots = defineTable("box_slots", "box_id", ["box_id", "slot_key", "content"]);

function recorder() {
  const statements: { sql: string; values: unknown[] }[] = [];
  const runner: SqlRunner = {
    query: async (sql, values) => {
      statements.push({ sql, values: values as unknown[] });
      return [[], []];
    },
  };
  return { runner, statements };
}

const boxWithSlots = (id: string): Write => ({
  kind: "upsert",
  table: boxes,
  id,
  row: { box_id: id, label: "x", event_timestamp: "2026-01-01 00:00:00.000000" },
  update: ["label", "event_timestamp"],
  children: {
    table: slots,
    rows: [{ box_id: id, slot_key: "a", content: "c" }],
    mode: "replace",
    childKey: "slot_key",
    update: ["content"],
  },
});

describe("executePlan", () => {
  test("deletes replaced children in statements of few enough parents for the optimizer to read the index", async () => {
    const ids = Array.from({ length: 2 * MAX_PARENTS_PER_CHILD_DELETE + 1 }, (_, i) => `box-${i}`);
    const plan: Plan = { outcomes: [], rounds: [ids.map(boxWithSlots)], tombstones: [] };
    const { runner, statements } = recorder();

    const counts = await executePlan(runner, plan);

    const deletes = statements.filter((s) => s.sql.startsWith("DELETE FROM `box_slots`"));
    assert.deepEqual(
      deletes.map((d) => (d.values[0] as string[]).length),
      [MAX_PARENTS_PER_CHILD_DELETE, MAX_PARENTS_PER_CHILD_DELETE, 1],
    );
    // Every parent's kept child is named beside it, in the same statement.
    for (const d of deletes) {
      const parents = d.values[0] as string[];
      assert.deepEqual(
        d.values[1],
        parents.map((id) => [id, "a"]),
      );
    }
    assert.deepEqual(
      deletes.flatMap((d) => d.values[0]),
      ids,
    );
    assert.ok(MAX_PARENTS_PER_CHILD_DELETE < 200, "below eq_range_index_dive_limit's default");
    assert.equal(counts.get("box_slots:replace"), ids.length);
  });
});
