import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Children, defineTable } from "./ops.ts";
import type { Plan, Write } from "./plan.ts";
import { MAX_PARENTS_PER_STATEMENT } from "./sql.ts";
import { executePlan, type SqlRunner } from "./store.ts";

const boxes = defineTable("boxes", "box_id", ["box_id", "label"]);
const slots = defineTable("box_slots", "box_id", ["box_id", "slot_key", "content"], { rowId: "id" });

/** Records every statement; a read of children answers with `stored` (row id, box, slot key). */
function recorder(stored: [number, string, string][] = []) {
  const statements: { sql: string; values: unknown[] }[] = [];
  const runner: SqlRunner = {
    query: async (sql, values) => {
      statements.push({ sql, values: values as unknown[] });
      if (!sql.startsWith("SELECT")) return [[], []];
      const parents = (values as string[][])[0] ?? [];
      const rows = stored
        .filter(([, box]) => parents.includes(box))
        .map(([row_id, parent, child]) => ({ row_id, parent, child }));
      return [rows, []];
    },
  };
  // "INSERT INTO `t`", "SELECT FROM `t`", "DELETE FROM `t`"
  const kinds = () =>
    statements.map((s) => s.sql.replace(/^SELECT .*? FROM/, "SELECT FROM").replace(/ (\(|WHERE).*/, ""));
  return { runner, statements, kinds };
}

const box = (id: string, slotKeys: string[], mode: Children["mode"] = "replace"): Write => ({
  kind: "upsert",
  table: boxes,
  id,
  row: { box_id: id, label: "x" },
  update: ["label"],
  children: {
    table: slots,
    rows: slotKeys.map((k) => ({ box_id: id, slot_key: k, content: `${id}/${k}` })),
    mode,
    childKey: "slot_key",
    update: ["content"],
  },
});
const onePlan = (writes: Write[]): Plan => ({ outcomes: [], rounds: [writes], tombstones: [] });

describe("executePlan writes children by row id", () => {
  test("replace: stored children are updated by id, new ones inserted, the ones no document holds deleted first", async () => {
    const { runner, statements, kinds } = recorder([
      [1, "b1", "a"],
      [2, "b1", "gone"],
      [3, "b2", "a"],
    ]);
    const counts = await executePlan(runner, onePlan([box("b1", ["a", "new"]), box("b2", ["a"])]));

    assert.deepEqual(kinds(), [
      "INSERT INTO `boxes`",
      "SELECT FROM `box_slots`",
      "DELETE FROM `box_slots`",
      "INSERT INTO `box_slots`",
      "INSERT INTO `box_slots`",
    ]);
    assert.deepEqual(statements[1]?.values, [["b1", "b2"]]);
    assert.deepEqual(statements[2], { sql: "DELETE FROM `box_slots` WHERE `id` IN (?)", values: [[2]] });
    assert.ok(statements[3]?.sql.startsWith("INSERT INTO `box_slots` (`id`, `box_id`, `slot_key`, `content`)"));
    assert.deepEqual(statements[3]?.values, [
      [
        [1, "b1", "a", "b1/a"],
        [3, "b2", "a", "b2/a"],
      ],
    ]);
    assert.ok(statements[4]?.sql.startsWith("INSERT INTO `box_slots` (`box_id`, `slot_key`, `content`)"));
    assert.deepEqual(statements[4]?.values, [[["b1", "new", "b1/new"]]]);
    assert.equal(counts.get("box_slots:replace"), 3);
  });

  test("a child key spelt differently from the stored one is written as new (the unique key still finds it)", async () => {
    const { runner, kinds, statements } = recorder([[1, "b1", "A"]]);
    await executePlan(runner, onePlan([box("b1", ["a"])]));
    assert.deepEqual(kinds(), [
      "INSERT INTO `boxes`",
      "SELECT FROM `box_slots`",
      "DELETE FROM `box_slots`",
      "INSERT INTO `box_slots`",
    ]);
    assert.ok(statements[3]?.sql.startsWith("INSERT INTO `box_slots` (`box_id`,"));
  });

  test("replace: a document naming one child twice still loses the children it does not name", async () => {
    const { runner, statements } = recorder([
      [1, "b1", "a"],
      [2, "b1", "b"],
    ]);
    await executePlan(runner, onePlan([box("b1", ["a", "a"])]));
    assert.deepEqual(
      statements.filter((s) => s.sql.startsWith("DELETE")).map((s) => s.values),
      [[[2]]],
    );
  });

  test("merge: nothing is deleted; stored children are updated by id", async () => {
    const { runner, kinds, statements } = recorder([
      [5, "b1", "a"],
      [6, "b1", "other"],
    ]);
    await executePlan(runner, onePlan([box("b1", ["a"], "merge")]));
    assert.deepEqual(kinds(), ["INSERT INTO `boxes`", "SELECT FROM `box_slots`", "INSERT INTO `box_slots`"]);
    assert.deepEqual(statements[2]?.values, [[[5, "b1", "a", "b1/a"]]]);
  });

  test("children are read for at most MAX_PARENTS_PER_STATEMENT parents at a time, below eq_range_index_dive_limit", async () => {
    const ids = Array.from({ length: 2 * MAX_PARENTS_PER_STATEMENT + 1 }, (_, i) => `box-${i}`);
    const { runner, statements } = recorder();
    await executePlan(runner, onePlan(ids.map((id) => box(id, ["a"]))));
    const reads = statements.filter((s) => s.sql.startsWith("SELECT"));
    assert.deepEqual(
      reads.map((r) => (r.values[0] as string[]).length),
      [MAX_PARENTS_PER_STATEMENT, MAX_PARENTS_PER_STATEMENT, 1],
    );
    assert.deepEqual(
      reads.flatMap((r) => r.values[0]),
      ids,
    );
    // 200 is the server default: from there on the optimizer guesses from statistics.
    assert.ok(MAX_PARENTS_PER_STATEMENT < 200);
  });
});

describe("executePlan writes patches", () => {
  const patch = (id: string, set: Record<string, string>): Write => ({ kind: "patch", table: boxes, id, set });

  test("patches that change the same columns go in one statement", async () => {
    const { runner, statements } = recorder();
    const counts = await executePlan(
      runner,
      onePlan([patch("b1", { label: "x" }), patch("b2", { label: "y" }), patch("b3", { label: "z", box_id: "b3" })]),
    );
    assert.deepEqual(
      statements.map((s) => s.values.at(-1)),
      [["b1", "b2"], ["b3"]],
    );
    assert.ok(
      statements[0]?.sql.startsWith("UPDATE `boxes` SET `label` = CASE `box_id` WHEN ? THEN ? WHEN ? THEN ? END"),
    );
    assert.equal(counts.get("boxes:update"), 3);
  });
});
