import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { format } from "mysql2";
import { ConcurrentChangeError } from "../errors.ts";
import { type Children, defineTable, type Op, type UpsertOp } from "../plan/ops.ts";
import type { Plan, Write } from "../plan/plan.ts";
import { inList, insertedRows } from "../testing/sql-values.ts";
import { NAMED_CHILDREN_AT_ONCE, STORED_CHILDREN_AT_ONCE } from "./children.ts";
import { StatementTooLargeError, tooLarge, withinPacket } from "./row-size.ts";
import { run } from "./sql-runner.ts";
import { MAX_PARENTS_PER_STATEMENT, STATEMENT_TEXT_BYTES, upsertRows } from "./statements.ts";
import { executePlan, loadState, type SqlRunner } from "./store.ts";

const boxes = defineTable("boxes", "box_id", ["box_id", "label"]);
const slots = defineTable("box_slots", "box_id", ["box_id", "slot_key", "content"], { rowId: "id" });

/** Records every statement; a read of children answers with `stored` (row id, box, slot key). */
function recorder(stored: [number, string, string][] = []) {
  const statements: { sql: string; values?: unknown[]; returned?: number }[] = [];
  const runner: SqlRunner = {
    query: async (sql, values) => {
      statements.push({ sql, values: values as unknown[] | undefined });
      if (!sql.startsWith("SELECT")) return [[], []];
      if (values === undefined) {
        // Merge mode's read by key: `(parent = 'p' AND child IN ('a','b')) OR …`.
        const wanted = [...sql.matchAll(/\(`\w+` = '([^']*)' AND `\w+` IN \(([^)]*)\)\)/g)].map(
          ([, p, keys]) => [p, (keys ?? "").split(",").map((k) => k.slice(1, -1))] as const,
        );
        const rows = stored
          .filter(([, p, c]) => wanted.some(([wp, keys]) => wp === p && keys.includes(c)))
          .map(([row_id, parent, child]) => ({ row_id, parent, child }));
        (statements.at(-1) as { returned?: number }).returned = rows.length;
        return [rows, []];
      }
      // As the server answers a page: in (parent, child) order, past the cursor, up to the LIMIT.
      const [parents = [], after, , afterChild] = values as [string[], string?, string?, string?];
      const limit = Number(/LIMIT (\d+)$/.exec(sql)?.[1] ?? Number.POSITIVE_INFINITY);
      const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      const rows = stored
        .filter(([, box]) => parents.includes(box))
        .sort(([, p1, c1], [, p2, c2]) => order(p1, p2) || order(c1, c2))
        .filter(([, p, c]) => after === undefined || p > after || (p === after && c > (afterChild ?? "")))
        .slice(0, limit)
        .map(([row_id, parent, child]) => ({ row_id, parent, child }));
      (statements.at(-1) as { returned?: number }).returned = rows.length;
      return [rows, []];
    },
  };
  // "INSERT INTO `t`", "SELECT FROM `t`", "DELETE FROM `t`"
  const kinds = () =>
    statements.map((s) =>
      s.sql
        .replace(/^SELECT .*? FROM/, "SELECT FROM")
        .replace(/^DELETE `\w+` FROM/, "DELETE FROM")
        .replace(/ (\(|WHERE|FORCE).*/, ""),
    );
  return { runner, statements, kinds };
}

const box = (id: string, slotKeys: string[], mode: Children["mode"] = "replace"): Write => ({
  kind: "upsert",
  table: boxes,
  id,
  row: { box_id: id, label: "x" },
  update: ["label"],
  absent: false,
  ts: "",
  children: {
    table: slots,
    rows: slotKeys.map((k) => ({ box_id: id, slot_key: k, content: `${id}/${k}` })),
    mode,
    childKey: "slot_key",
    update: ["content"],
  },
});
const onePlan = (writes: Write[]): Plan => ({ outcomes: [], rounds: [writes], tombstones: [] });
/** MariaDB's default max_allowed_packet. */
const PACKET = 16 * 1024 * 1024;

describe("executePlan writes children by row id", () => {
  test("replace: stored children are updated by id, new ones inserted, then the ones no document holds deleted", async () => {
    const { runner, statements, kinds } = recorder([
      [1, "b1", "a"],
      [2, "b1", "gone"],
      [3, "b2", "a"],
    ]);
    const counts = await executePlan(runner, onePlan([box("b1", ["a", "new"]), box("b2", ["a"])]), PACKET);

    assert.deepEqual(kinds(), [
      "INSERT INTO `boxes`",
      "SELECT FROM `box_slots`",
      "INSERT INTO `box_slots`",
      "INSERT INTO `box_slots`",
      "DELETE FROM `box_slots`",
    ]);
    assert.deepEqual(statements[1]?.values, [["b1", "b2"]]);
    assert.ok(statements[2]?.sql.startsWith("INSERT INTO `box_slots` (`id`, `box_id`, `slot_key`, `content`)"));
    assert.deepEqual(insertedRows(statements[2]?.sql ?? ""), [
      [1, "b1", "a", "b1/a"],
      [3, "b2", "a", "b2/a"],
    ]);
    assert.ok(statements[3]?.sql.startsWith("INSERT INTO `box_slots` (`box_id`, `slot_key`, `content`)"));
    assert.deepEqual(insertedRows(statements[3]?.sql ?? ""), [["b1", "new", "b1/new"]]);
    // New children are inserted plainly: on a duplicate key (MySQL's used-up AUTO_INCREMENT gives
    // out its largest id again) the server refuses, never updates another parent's child.
    assert.ok(!statements[3]?.sql.includes("ON DUPLICATE KEY UPDATE"), statements[3]?.sql);
    assert.deepEqual(statements[4], {
      sql: "DELETE `box_slots` FROM `box_slots` FORCE INDEX (PRIMARY) WHERE `id` IN (2)",
      values: undefined,
    });
    assert.equal(counts.get("box_slots:replace"), 3);
  });

  test("child keys compare exactly: a stored 'A' is not the document's 'a' (replace inserts 'a', deletes 'A')", async () => {
    const { runner, kinds, statements } = recorder([[1, "b1", "A"]]);
    await executePlan(runner, onePlan([box("b1", ["a"])]), PACKET);
    assert.deepEqual(kinds(), [
      "INSERT INTO `boxes`",
      "SELECT FROM `box_slots`",
      "INSERT INTO `box_slots`",
      "DELETE FROM `box_slots`",
    ]);
    assert.ok(statements[2]?.sql.startsWith("INSERT INTO `box_slots` (`box_id`,"));
  });

  test("replace: a document naming one child twice still loses the children it does not name", async () => {
    const { runner, statements } = recorder([
      [1, "b1", "a"],
      [2, "b1", "b"],
    ]);
    await executePlan(runner, onePlan([box("b1", ["a", "a"])]), PACKET);
    assert.deepEqual(
      statements.filter((s) => s.sql.startsWith("DELETE")).map((s) => inList(s.sql)),
      [[2]],
    );
  });

  test("merge: nothing is deleted; stored children are updated by id", async () => {
    const { runner, kinds, statements } = recorder([
      [5, "b1", "a"],
      [6, "b1", "other"],
    ]);
    await executePlan(runner, onePlan([box("b1", ["a"], "merge")]), PACKET);
    assert.deepEqual(kinds(), ["INSERT INTO `boxes`", "SELECT FROM `box_slots`", "INSERT INTO `box_slots`"]);
    assert.equal(statements[1]?.returned, 1, "only the stored child the event names is read");
    assert.deepEqual(insertedRows(statements[2]?.sql ?? ""), [[5, "b1", "a", "b1/a"]]);
  });

  test("merge: the children of a parent the round inserts are inserted without a read; a stored parent's beside them are looked up", async () => {
    const { runner, kinds, statements } = recorder([[5, "b2", "a"]]);
    const created = { ...box("b1", ["a", "b"], "merge"), absent: true } as Write;
    await executePlan(runner, onePlan([created, box("b2", ["a"], "merge")]), PACKET);
    // The new parent is inserted plainly, the stored one upserted; then one read, for b2's child only.
    assert.deepEqual(kinds(), [
      "INSERT INTO `boxes`",
      "INSERT INTO `boxes`",
      "SELECT FROM `box_slots`",
      "INSERT INTO `box_slots`",
      "INSERT INTO `box_slots`",
    ]);
    assert.match(statements[2]?.sql ?? "", /'b2'/);
    assert.doesNotMatch(statements[2]?.sql ?? "", /'b1'/, "b1 is new: none of its children is stored");
  });

  test("merge: a parent's stored children are read by the keys of its new ones, in bounded statements, never all of them", async () => {
    const many: [number, string, string][] = Array.from({ length: 6_000 }, (_, i) => [i + 1, "b1", `k${i}`]);
    const { runner, statements } = recorder(many);
    const wanted = Array.from({ length: NAMED_CHILDREN_AT_ONCE + 1 }, (_, i) => `k${4_000 + i}`);
    await executePlan(runner, onePlan([box("b1", wanted, "merge")]), PACKET);
    const reads = statements.filter((s) => s.sql.startsWith("SELECT"));
    assert.deepEqual(
      reads.map((r) => r.returned),
      [NAMED_CHILDREN_AT_ONCE, 1],
      "1,000 stored children of the 1,001 named, then the last; the other 4,999 never",
    );
  });

  test("children are read for at most MAX_PARENTS_PER_STATEMENT parents at a time, below eq_range_index_dive_limit", async () => {
    // Numbered in the order they sort in: parents are written in key order.
    const ids = Array.from(
      { length: 2 * MAX_PARENTS_PER_STATEMENT + 1 },
      (_, i) => `box-${String(i).padStart(3, "0")}`,
    );
    const { runner, statements } = recorder();
    await executePlan(runner, onePlan(ids.map((id) => box(id, ["a"]))), PACKET);
    const reads = statements.filter((s) => s.sql.startsWith("SELECT"));
    assert.deepEqual(
      reads.map((r) => (r.values?.[0] as string[]).length),
      [MAX_PARENTS_PER_STATEMENT, MAX_PARENTS_PER_STATEMENT, 1],
    );
    assert.deepEqual(
      reads.flatMap((r) => r.values?.[0]),
      ids,
    );
    // 200 is the server default: from there on the optimizer guesses from statistics.
    assert.ok(MAX_PARENTS_PER_STATEMENT < 200);
  });

  /** The most stored children read and not yet deleted at any point: what the writer held. */
  const mostHeld = (statements: { sql: string; returned?: number }[]) => {
    let held = 0;
    let most = 0;
    for (const x of statements) {
      if (x.sql.startsWith("SELECT")) held += x.returned ?? 0;
      if (x.sql.startsWith("DELETE")) held -= inList(x.sql).length;
      most = Math.max(most, held);
    }
    return most;
  };
  const boxesWithStored = (ids: string[], perBox: number) =>
    ids.flatMap((id, i) =>
      Array.from({ length: perBox }, (_, k): [number, string, string] => [
        i * perBox + k + 1,
        id,
        `old${String(k).padStart(6, "0")}`,
      ]),
    );

  test("stored children are read a page at a time, and the parents read whole are written once a page's worth is held", async () => {
    const ids = Array.from(
      { length: 3 * MAX_PARENTS_PER_STATEMENT + 1 },
      (_, i) => `box-${String(i).padStart(3, "0")}`,
    );
    // Each box has stored children no document holds (replace deletes them all): 60,200 in all.
    const stored = boxesWithStored(ids, Math.ceil(STORED_CHILDREN_AT_ONCE / MAX_PARENTS_PER_STATEMENT));
    const { runner, statements } = recorder(stored);
    const counts = await executePlan(runner, onePlan(ids.map((id) => box(id, ["a"]))), PACKET);
    assert.ok(mostHeld(statements) <= 2 * STORED_CHILDREN_AT_ONCE, String(mostHeld(statements)));
    const deleted = statements.filter((x) => x.sql.startsWith("DELETE")).flatMap((x) => inList(x.sql));
    assert.deepEqual(
      deleted.sort((a, b) => Number(a) - Number(b)),
      stored.map(([n]) => n),
    );
    assert.equal(counts.get("box_slots:replace"), ids.length);
  });

  test("a page that ends inside a parent's children: the parents before it are written, that one once read whole", async () => {
    const ids = ["box-a", "box-b", "box-c"];
    const perBox = Math.round(STORED_CHILDREN_AT_ONCE * 0.75);
    const stored = boxesWithStored(ids, perBox);
    const { runner, statements } = recorder(stored);
    await executePlan(runner, onePlan(ids.map((id) => box(id, ["a"]))), PACKET);
    assert.ok(mostHeld(statements) <= 2 * STORED_CHILDREN_AT_ONCE, String(mostHeld(statements)));
    // Each box's stored children are deleted whole, box by box, each before the next page is read.
    const steps: string[] = [];
    for (const x of statements.slice(1)) {
      const step = x.sql.startsWith("SELECT") ? "S" : x.sql.startsWith("DELETE") ? "D" : "I";
      if (step !== steps.at(-1)) steps.push(step);
    }
    assert.deepEqual(steps, ["S", "I", "D", "S", "I", "D", "S", "I", "D"]);
    const inserted = statements.filter((x) => x.sql.startsWith("INSERT INTO `box_slots`"));
    assert.deepEqual(
      inserted.map((x) => insertedRows(x.sql).map((r) => r[0])),
      [["box-a"], ["box-b"], ["box-c"]],
    );
  });

  test("a usual round's children are matched in one pass: one insert and delete each", async () => {
    const ids = Array.from({ length: 2 * MAX_PARENTS_PER_STATEMENT + 1 }, (_, i) => `box-${i}`);
    const { runner, kinds } = recorder(ids.map((id, i) => [i + 1, id, "old"]));
    await executePlan(runner, onePlan(ids.map((id) => box(id, ["a"]))), PACKET);
    assert.deepEqual(kinds().slice(1), [
      "SELECT FROM `box_slots`",
      "SELECT FROM `box_slots`",
      "SELECT FROM `box_slots`",
      "INSERT INTO `box_slots`",
      "DELETE FROM `box_slots`",
    ]);
  });
});

describe("executePlan writes rows in key order, so concurrent transactions lock in one order", () => {
  test("parents, their children, the children that go and deletes are sent sorted by key, whatever the plan's order", async () => {
    const { runner, statements } = recorder([
      [1, "b3", "z-gone"],
      [2, "b3", "a-gone"],
      [3, "b1", "kept"],
    ]);
    const deletes: Write[] = ["d2", "d1"].map((id) => ({ kind: "delete", table: boxes, id }));
    const writes = [box("b3", ["y", "b", "😀", "\ufffd"]), box("b1", ["kept", "c", "a"]), box("b2", ["m"])];
    await executePlan(runner, onePlan([...deletes, ...writes]), PACKET);

    const sent = (prefix: string) => statements.filter((s) => s.sql.startsWith(prefix));
    // A parent each, so no DELETE of a key list scans a small table (store.ts).
    assert.deepEqual(
      sent("DELETE `boxes`").map((s) => inList(s.sql)),
      [["d1"], ["d2"]],
    );
    assert.deepEqual(
      insertedRows(sent("INSERT INTO `boxes`")[0]?.sql ?? "").map((r) => r[0]),
      ["b1", "b2", "b3"],
    );
    assert.deepEqual(sent("SELECT")[0]?.values?.[0], ["b1", "b2", "b3"]);
    // The stored children that go, in (parent, key) order: b3's "a-gone" (2) before "z-gone" (1).
    assert.deepEqual(inList(sent("DELETE `box_slots`")[0]?.sql ?? ""), [2, 1]);
    const added = sent("INSERT INTO `box_slots` (`box_id`")[0]?.sql ?? "";
    assert.deepEqual(
      insertedRows(added).map((r) => `${r[0]}/${r[1]}`),
      ["b1/a", "b1/c", "b2/m", "b3/b", "b3/y", "b3/\ufffd", "b3/😀"],
    );
  });
});

describe("executePlan writes each stored row by the columns its write changes", () => {
  test("a row overwritten whole (deleted and created again in the batch) and rows that keep columns go in separate statements", async () => {
    const crates = defineTable("crates", "crate_id", ["crate_id", "label", "kept"]);
    const crate = (id: string, update: string[], absent = false): Write => ({
      kind: "upsert",
      table: crates,
      id,
      row: { crate_id: id, label: `l-${id}`, kept: `k-${id}` },
      update,
      absent,
      ts: "",
    });
    const { runner, statements } = recorder();
    await executePlan(
      runner,
      onePlan([crate("c1", ["label"]), crate("c2", ["label", "kept"]), crate("c3", ["label"]), crate("c4", [], true)]),
      PACKET,
    );
    assert.deepEqual(
      statements.map((st) => [insertedRows(st.sql).map((r) => r[0]), st.sql.replace(/.*\) VALUES .*?\)( |$)/, "")]),
      [
        [["c4"], ""],
        [["c1", "c3"], "ON DUPLICATE KEY UPDATE `label` = VALUES(`label`)"],
        [["c2"], "ON DUPLICATE KEY UPDATE `label` = VALUES(`label`), `kept` = VALUES(`kept`)"],
      ],
    );
  });
});

describe("executePlan writes each stored child by the columns its parent's write changes", () => {
  test("the kept children of an overwritten row are written whole, the others by their update list", async () => {
    const pens = defineTable("pens", "pen_id", ["pen_id", "label"]);
    const slots2 = defineTable("pen_slots", "pen_id", ["pen_id", "slot_key", "qty", "note"], { rowId: "id" });
    const pen = (id: string, childUpdate: string[]): Write => ({
      kind: "upsert",
      table: pens,
      id,
      row: { pen_id: id, label: id },
      update: ["label"],
      absent: false,
      ts: "",
      children: {
        table: slots2,
        rows: [{ pen_id: id, slot_key: "a", qty: 1, note: `n-${id}` }],
        mode: "replace",
        childKey: "slot_key",
        update: childUpdate,
      },
    });
    const { runner, statements } = recorder([
      [1, "p1", "a"],
      [2, "p2", "a"],
    ]);
    await executePlan(runner, onePlan([pen("p1", ["qty"]), pen("p2", ["qty", "note"]), pen("p3", ["qty"])]), PACKET);
    const kept = statements.filter((st) => st.sql.startsWith("INSERT INTO `pen_slots` (`id`"));
    assert.deepEqual(
      kept.map((st) => [insertedRows(st.sql).map((r) => r[1]), st.sql.replace(/.*\) VALUES .*?\)( |$)/, "")]),
      [
        [["p1"], "ON DUPLICATE KEY UPDATE `qty` = VALUES(`qty`)"],
        [["p2"], "ON DUPLICATE KEY UPDATE `qty` = VALUES(`qty`), `note` = VALUES(`note`)"],
      ],
    );
  });
});

describe("executePlan writes patches", () => {
  const patch = (id: string, set: Record<string, string>): Write => ({ kind: "patch", table: boxes, id, set });

  test("patches that change the same columns go in one statement", async () => {
    const { runner, statements } = recorder();
    const counts = await executePlan(
      runner,
      onePlan([patch("b1", { label: "x" }), patch("b2", { label: "y" }), patch("b3", { label: "z", box_id: "b3" })]),
      PACKET,
    );
    assert.deepEqual(
      statements.map((s) => inList(s.sql)),
      [["b1", "b2"], ["b3"]],
    );
    assert.ok(
      statements[0]?.sql.startsWith(
        "UPDATE `boxes` FORCE INDEX (PRIMARY) SET `label` = CASE `box_id` WHEN 'b1' THEN 'x' WHEN 'b2' THEN 'y' END",
      ),
    );
    assert.equal(counts.get("boxes:update"), 3);
  });
});

describe("statements sized in bytes", () => {
  // Small enough that a few rows fill a statement.
  const MAX = STATEMENT_TEXT_BYTES + 20_000;
  /** Bytes on the wire: the statement as mysql2 writes it, and the command byte. */
  const sent = (st: { sql: string; values?: unknown[] }) =>
    Buffer.byteLength(st.values ? format(st.sql, st.values as never[]) : st.sql) + 1;
  const labelled = (id: string, label: string, contents: Record<string, string> = {}): Write => ({
    kind: "upsert",
    table: boxes,
    id,
    row: { box_id: id, label },
    update: ["label"],
    absent: false,
    ts: "",
    children: {
      table: slots,
      rows: Object.entries(contents).map(([k, content]) => ({ box_id: id, slot_key: k, content })),
      mode: "replace",
      childKey: "slot_key",
      update: ["content"],
    },
  });

  test("parents, children and patches are cut so every statement fits; every row is written once", async () => {
    // Quotes escape to two bytes each, emoji are four: the worst and the widest text.
    const label = (i: number) => `${"'".repeat(2000)}${"😀".repeat(500)}${i}`;
    const ids = Array.from({ length: 30 }, (_, i) => `b${String(i).padStart(2, "0")}`);
    const { runner, statements } = recorder(ids.map((id, i) => [i + 1, id, "kept"]));
    await executePlan(
      runner,
      onePlan(ids.map((id, i) => labelled(id, label(i), { kept: label(i), added: label(i) }))),
      MAX,
    );
    const writes = statements.filter((st) => !st.sql.startsWith("SELECT"));
    for (const st of writes) assert.ok(sent(st) <= MAX, `${sent(st)} bytes: ${st.sql.slice(0, 40)}`);
    const rowsOf = (prefix: string) =>
      writes.filter((st) => st.sql.startsWith(prefix)).flatMap((st) => insertedRows(st.sql));
    const parents = writes.filter((st) => st.sql.startsWith("INSERT INTO `boxes`"));
    assert.ok(parents.length > 3, `${parents.length} statements for the parents`);
    assert.deepEqual(
      rowsOf("INSERT INTO `boxes`").map((r) => r[0]),
      ids,
    );
    assert.equal(rowsOf("INSERT INTO `box_slots` (`id`").length, ids.length);
    assert.equal(rowsOf("INSERT INTO `box_slots` (`box_id`").length, ids.length);

    const { runner: patcher, statements: patches } = recorder();
    await executePlan(
      patcher,
      onePlan(ids.map((id, i): Write => ({ kind: "patch", table: boxes, id, set: { label: label(i) } }))),
      MAX,
    );
    assert.ok(patches.length > 3);
    for (const st of patches) assert.ok(sent(st) <= MAX);
    assert.deepEqual(
      patches.flatMap((st) => inList(st.sql)),
      ids,
    );
  });

  test("rows that fit together take one statement", async () => {
    const { runner, statements } = recorder();
    await executePlan(runner, onePlan(Array.from({ length: 20 }, (_, i) => labelled(`b${i}`, "x".repeat(100)))), MAX);
    assert.equal(statements.filter((st) => st.sql.startsWith("INSERT INTO `boxes`")).length, 1);
  });

  test("the ids read under lock are cut by bytes too", async () => {
    const { runner, statements } = recorder();
    const ops: Op[] = Array.from({ length: 400 }, (_, i) => ({
      kind: "delete",
      table: boxes,
      id: `${"i".repeat(90)}${i}`,
      ts: "2026-01-01 00:00:00.000000",
      eventId: "e",
    }));
    await loadState(runner, ops, STATEMENT_TEXT_BYTES + 20_000);
    assert.ok(statements.length > 1);
    for (const st of statements) assert.ok(sent(st) <= STATEMENT_TEXT_BYTES + 20_000);
    assert.equal(statements.flatMap((st) => st.values?.[0] as string[]).length, 400);
  });
});

describe("tooLarge: a row that no statement can carry", () => {
  const MAX = 64 * 1024;
  const op = (label: string, contents: string[] = []): UpsertOp => ({
    kind: "upsert",
    table: boxes,
    id: "b1",
    ts: "2026-01-01 00:00:00.000000",
    eventId: "e",
    row: { box_id: "b1", label },
    update: ["label"],
    children: {
      table: slots,
      rows: contents.map((content, i) => ({ box_id: "b1", slot_key: `k${i}`, content })),
      mode: "replace",
      childKey: "slot_key",
      update: ["content"],
    },
  });
  /**
   * Bytes of the parent's packet around its label, as mysql2 frames it for MySQL 8.0 (query
   * attributes): the command byte and the attributes' two counts before the text.
   */
  const around = Buffer.byteLength(upsertRows(boxes, [{ box_id: "b1", label: "" }], ["label"]).sql) + 3;

  test("a statement one byte under max_allowed_packet fits; one of exactly that many is refused (the server refuses it), naming the sizes", () => {
    assert.equal(tooLarge(op("a".repeat(MAX - around - 1)), MAX), undefined);
    assert.equal(
      tooLarge(op("a".repeat(MAX - around)), MAX),
      "row for boxes is 65,536 bytes; the server's max_allowed_packet is 65,536",
    );
  });

  test("a write statement is refused before it is sent at the same size: its packet of max_allowed_packet bytes", async () => {
    const sent: number[] = [];
    const conn = withinPacket(
      {
        query: async (sql) => {
          // What a MySQL 8.0 server reads: the text after the command byte and the attributes' counts.
          sent.push(Buffer.byteLength(sql) + 3);
          return [[], []];
        },
      },
      MAX,
    );
    const statement = (label: string) => upsertRows(boxes, [{ box_id: "b1", label }], ["label"]);
    await run(conn, statement("a".repeat(MAX - around - 1)));
    await assert.rejects(run(conn, statement("a".repeat(MAX - around))), StatementTooLargeError);
    assert.deepEqual(sent, [MAX - 1]);
  });

  test("escapes count: a quote is two bytes", () => {
    const half = Math.floor((MAX - around - 1) / 2);
    assert.equal(tooLarge(op("'".repeat(half)), MAX), undefined);
    assert.match(tooLarge(op("'".repeat(half + 1)), MAX) ?? "", /^row for boxes is /);
  });

  test("a child row alone too large refuses the event; many children that fit only together do not", () => {
    assert.match(tooLarge(op("x", ["ok", "c".repeat(MAX)]), MAX) ?? "", /^row for box_slots is [\d,]+ bytes; /);
    assert.equal(
      tooLarge(
        op(
          "x",
          Array.from({ length: 20 }, () => "c".repeat(MAX / 4)),
        ),
        MAX,
      ),
      undefined,
    );
  });

  test("patches and deletes are measured too", () => {
    const patch: Op = {
      kind: "patch",
      table: boxes,
      id: "b1",
      ts: "2026-01-01 00:00:00.000000",
      eventId: "e",
      set: { label: "p".repeat(MAX) },
    };
    assert.match(tooLarge(patch, MAX) ?? "", /^row for boxes is /);
    assert.equal(tooLarge({ ...patch, set: { label: "p" } }, MAX), undefined);
    assert.equal(tooLarge({ kind: "delete", table: boxes, id: "b1", ts: "t", eventId: "e" }, MAX), undefined);
  });
});

describe("loadState takes its locks in one global order", () => {
  const orders = defineTable("orders", "order_id", ["order_id", "order_number", "event_timestamp"], {
    unique: ["order_number"],
  });
  const users = defineTable("users", "user_id", ["user_id", "event_timestamp"]);
  const upsert = (table: typeof orders, id: string, row: Record<string, string>): UpsertOp => ({
    kind: "upsert",
    table,
    id,
    ts: "2026-01-01 00:00:00.000000",
    eventId: "e",
    row,
    update: [],
  });

  test("owners of unique values are found without locks, then every row is locked by key: tables by name, keys sorted", async () => {
    const statements: { sql: string; values?: unknown[]; returned?: number }[] = [];
    const runner: SqlRunner = {
      query: async (sql, values) => {
        statements.push({ sql, values: values as unknown[] | undefined });
        // The number N-1 belongs to order a9; locked, it reads back with its number.
        if (sql.startsWith("SELECT `order_id` AS id FROM")) return [[{ id: "a9" }], []];
        if (sql.includes("FROM `orders`"))
          return [[{ id: "a9", ts: "2026-01-01 00:00:00.000000", order_number: "N-1" }], []];
        return [[], []];
      },
    };
    const ops: Op[] = [
      upsert(users, "u2", { user_id: "u2" }),
      upsert(orders, "b1", { order_id: "b1", order_number: "N-1" }),
      {
        kind: "patch",
        table: orders,
        lookup: { column: "order_number", value: "N-2" },
        ts: "t",
        eventId: "e",
        set: {},
      },
      upsert(users, "u1", { user_id: "u1" }),
    ];
    const state = await loadState(runner, ops, PACKET);
    assert.deepEqual(
      statements.map((s) => [s.sql.replace(/, event_timestamp AS ts.*? FROM/, " … FROM"), s.values]),
      [
        ["SELECT `order_id` AS id FROM `orders` WHERE `order_number` IN (?)", [["N-1", "N-2"]]],
        [
          "SELECT `order_id` AS id … FROM `orders` FORCE INDEX (PRIMARY) WHERE `order_id` IN (?) FOR UPDATE",
          [["a9", "b1"]],
        ],
        [
          "SELECT `user_id` AS id … FROM `users` FORCE INDEX (PRIMARY) WHERE `user_id` IN (?) FOR UPDATE",
          [["u1", "u2"]],
        ],
      ],
    );
    assert.ok(!statements[0]?.sql.includes("FOR UPDATE"), "no locking read by a secondary key");
    assert.equal(state.owners.get("orders\u0000order_number\u0000N-1"), "a9");
    assert.equal(state.rows.get("orders\u0000a9"), "2026-01-01 00:00:00.000000");
  });
});

describe("tombstones", () => {
  const things = defineTable("things", "thing_id", ["thing_id", "event_timestamp"], { tombstones: true });
  const T = (s: number) => `2026-01-01 00:00:0${s}.000000`;
  /** Answers the locking read of rows with `stored`; records every statement. */
  function runner(stored: string[]) {
    const statements: { sql: string; values?: unknown[] }[] = [];
    const r: SqlRunner = {
      query: async (sql, values) => {
        statements.push({ sql, values: values as unknown[] | undefined });
        if (sql.startsWith("SELECT `thing_id` AS id")) return [stored.map((id) => ({ id, ts: T(1) })), []];
        return [[], []];
      },
    };
    return { statements, r };
  }
  const del = (id: string): Op => ({ kind: "delete", table: things, id, ts: T(5), eventId: "e" });

  test("an absent row's tombstone is locked; a stored row's is read without locks (its row is locked)", async () => {
    const { statements, r } = runner(["s1"]);
    await loadState(r, [del("s1"), del("a1")], PACKET);
    const reads = statements.filter((s) => s.sql.includes("entity_tombstones"));
    assert.deepEqual(
      reads.map((s) => [s.sql.endsWith(" FOR UPDATE"), s.values?.[1]]),
      [
        [true, ["a1"]],
        [false, ["s1"]],
      ],
    );
  });

  test("once its tombstones are written, the rows of entities deleted while absent are locked and read again", async () => {
    const plan = (absent: boolean): Plan => ({
      outcomes: [],
      rounds: [],
      tombstones: [{ table: things, id: "x1", ts: T(5), eventId: "e", absent }],
    });
    const absent = runner([]);
    await executePlan(absent.r, plan(true), PACKET);
    assert.deepEqual(
      absent.statements.map((s) => s.sql.replace(/ VALUES .*/, "").replace(/, event_timestamp AS ts FROM/, " … FROM")),
      [
        "INSERT INTO entity_tombstones (entity_type, entity_id, deleted_event_timestamp, event_id)",
        "SELECT `thing_id` AS id … FROM `things` FORCE INDEX (PRIMARY) WHERE `thing_id` IN (?) FOR UPDATE",
      ],
    );
    // A row older than the delete appeared meanwhile: the transaction is run again.
    await assert.rejects(executePlan(runner(["x1"]).r, plan(true), PACKET), ConcurrentChangeError);
    // A stored row's delete was locked all along: nothing to read again.
    const stored = runner([]);
    await executePlan(stored.r, plan(false), PACKET);
    assert.equal(stored.statements.length, 1);
  });
});
