import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UnknownEnumValue } from "../domains/domain.ts";
import { orders } from "../domains/orders/index.ts";
import { ordersTable } from "../domains/orders/table.ts";
import { BadEventError } from "../errors.ts";
import { LIMITS, parsedFixture } from "../testing/domain-helpers.ts";
import { type Children, type DeleteOp, defineTable, type Op, type PatchOp, type Row, type UpsertOp } from "./ops.ts";
import { type DbState, entityKey, type Outcome, plan, uniqueKey, type Write } from "./plan.ts";

// A parent with a unique business key and tombstones, and a child table keyed within its parent.
const things = defineTable(
  "things",
  "id",
  ["id", "code", "name", "note", "created_at", "event_id", "event_timestamp"],
  {
    unique: ["code"],
    tombstones: true,
  },
);
const parts = defineTable("parts", "id", ["id", "part_key", "qty", "label"]);
const UPDATE = ["name", "note", "event_id", "event_timestamp"] as const;

const T = (n: number) => `2026-02-11 10:00:${String(n).padStart(2, "0")}.000000`;
const APPLIED: Outcome = { kind: "applied" };
const STALE: Outcome = { kind: "skipped", reason: "stale" };
const NO_ROW: Outcome = { kind: "skipped", reason: "no_row" };

const rowOf = (id: string, ts: string, fields: Row = {}): Row => ({
  id,
  code: null,
  name: `name@${ts}`,
  note: null,
  created_at: ts,
  event_id: `e@${ts}`,
  event_timestamp: ts,
  ...fields,
});

function upsert(id: string, ts: string, fields: Row = {}, children?: Children): UpsertOp {
  return {
    kind: "upsert",
    table: things,
    id,
    ts,
    eventId: `e@${ts}`,
    row: rowOf(id, ts, fields),
    update: UPDATE,
    ...(children ? { children } : {}),
  };
}

const patch = (id: string, ts: string, set: Row): PatchOp => ({
  kind: "patch",
  table: things,
  id,
  ts,
  eventId: `e@${ts}`,
  set,
});

const patchByCode = (code: string, ts: string, set: Row): PatchOp => ({
  kind: "patch",
  table: things,
  lookup: { column: "code", value: code },
  ts,
  eventId: `e@${ts}`,
  set,
});

const del = (id: string, ts: string): DeleteOp => ({ kind: "delete", table: things, id, ts, eventId: `e@${ts}` });

function db(
  state: { rows?: [string, string][]; tombstones?: [string, string][]; owners?: [string, string][] } = {},
): DbState {
  return {
    rows: new Map((state.rows ?? []).map(([id, ts]) => [entityKey("things", id), ts])),
    tombstones: new Map((state.tombstones ?? []).map(([id, ts]) => [entityKey("things", id), ts])),
    owners: new Map((state.owners ?? []).map(([code, id]) => [uniqueKey("things", "code", code), id])),
  };
}

const upsertWrite = (op: UpsertOp, row: Row = op.row, children: Children | undefined = op.children): Write => ({
  kind: "upsert",
  table: op.table,
  id: op.id,
  row,
  update: op.update,
  children,
});

const partsOf = (mode: Children["mode"], rows: Row[]): Children => ({
  table: parts,
  rows,
  mode,
  childKey: "part_key",
  update: ["qty"],
});

describe("timestamps against the existing row", () => {
  test("a new row is inserted", () => {
    const op = upsert("a", T(1));
    assert.deepEqual(plan([op], db()), { outcomes: [APPLIED], rounds: [[upsertWrite(op)]], tombstones: [] });
  });

  test("newer than the row applies", () => {
    const op = upsert("a", T(2));
    assert.deepEqual(plan([op], db({ rows: [["a", T(1)]] })).outcomes, [APPLIED]);
  });

  test("equal to the row applies (a replay of the last event rewrites the same row)", () => {
    const op = upsert("a", T(2));
    const p = plan([op], db({ rows: [["a", T(2)]] }));
    assert.deepEqual(p.outcomes, [APPLIED]);
    assert.deepEqual(p.rounds, [[upsertWrite(op)]]);
  });

  test("older than the row is skipped as stale and writes nothing", () => {
    const p = plan([upsert("a", T(1))], db({ rows: [["a", T(2)]] }));
    assert.deepEqual(p, { outcomes: [STALE], rounds: [], tombstones: [] });
  });

  test("a row without event_timestamp takes any event", () => {
    assert.deepEqual(plan([upsert("a", T(0))], db({ rows: [["a", ""]] })).outcomes, [APPLIED]);
  });

  test("microseconds decide", () => {
    const p = plan([upsert("a", "2026-02-11 10:00:00.000001")], db({ rows: [["a", "2026-02-11 10:00:00.000002"]] }));
    assert.deepEqual(p.outcomes, [STALE]);
  });

  test("ids compare exactly: differing in case or a trailing space, they are other rows", () => {
    const upper = "65A1F0C2E4B0A1B2C3D4E5F6";
    const lower = upper.toLowerCase();
    // The stored row is newer, but it is another entity's: the older event still inserts its own.
    assert.deepEqual(plan([upsert(upper, T(1))], db({ rows: [[lower, T(2)]] })).outcomes, [APPLIED]);
    assert.deepEqual(plan([upsert("a ", T(1))], db({ rows: [["a", T(2)]] })).outcomes, [APPLIED]);
    const p = plan([upsert(lower, T(1)), upsert(upper, T(2)), upsert("a", T(1)), upsert("a ", T(1))], db());
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED, APPLIED, APPLIED]);
    assert.deepEqual(
      p.rounds.map((r) => r.map((w) => w.id)),
      [[lower, upper, "a", "a "]],
    );
  });

  test("a delete or patch of one spelling leaves the other", () => {
    const p = plan(
      [del("a ", T(3)), patch("A", T(3), { note: "x" })],
      db({
        rows: [
          ["a", T(1)],
          ["a ", T(1)],
          ["A", T(1)],
        ],
      }),
    );
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [
      [
        { kind: "delete", table: things, id: "a " },
        { kind: "patch", table: things, id: "A", set: { note: "x" } },
      ],
    ]);
    assert.deepEqual(
      p.tombstones.map((t) => t.id),
      ["a "],
    );
  });
});

describe("tombstones", () => {
  test("an upsert older than the tombstone of a deleted row is stale", () => {
    const p = plan([upsert("a", T(4))], db({ tombstones: [["a", T(5)]] }));
    assert.deepEqual(p, { outcomes: [STALE], rounds: [], tombstones: [] });
  });

  test("an upsert equal to or newer than the tombstone brings the row back", () => {
    assert.deepEqual(plan([upsert("a", T(5))], db({ tombstones: [["a", T(5)]] })).outcomes, [APPLIED]);
    const op = upsert("a", T(6));
    assert.deepEqual(plan([op], db({ tombstones: [["a", T(5)]] })).rounds, [[upsertWrite(op)]]);
  });

  test("a delete for an absent row records its tombstone and is skipped as no_row", () => {
    const p = plan([del("a", T(3))], db());
    assert.deepEqual(p, {
      outcomes: [NO_ROW],
      rounds: [],
      tombstones: [{ table: things, id: "a", ts: T(3), eventId: `e@${T(3)}` }],
    });
  });

  test("a delete older than the stored tombstone leaves it as it is", () => {
    const p = plan([del("a", T(3))], db({ tombstones: [["a", T(5)]] }));
    assert.deepEqual(p, { outcomes: [NO_ROW], rounds: [], tombstones: [] });
  });

  test("a delete of an existing row applies, and remembers its timestamp", () => {
    const p = plan([del("a", T(3))], db({ rows: [["a", T(2)]] }));
    assert.deepEqual(p, {
      outcomes: [APPLIED],
      rounds: [[{ kind: "delete", table: things, id: "a" }]],
      tombstones: [{ table: things, id: "a", ts: T(3), eventId: `e@${T(3)}` }],
    });
  });

  test("a delete older than the row is stale and leaves no tombstone", () => {
    assert.deepEqual(plan([del("a", T(1))], db({ rows: [["a", T(2)]] })), {
      outcomes: [STALE],
      rounds: [],
      tombstones: [],
    });
  });

  test("a delete equal to the row applies", () => {
    assert.deepEqual(plan([del("a", T(2))], db({ rows: [["a", T(2)]] })).outcomes, [APPLIED]);
  });

  test("in one batch: an older upsert after a delete is stale, a newer one restores", () => {
    const p = plan([del("a", T(5)), upsert("a", T(4)), upsert("a", T(6))], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, STALE, APPLIED]);
  });

  test("in one batch: a delete for an absent row, then an older create, is not resurrected", () => {
    const p = plan([del("a", T(5)), upsert("a", T(4))], db());
    assert.deepEqual(p.outcomes, [NO_ROW, STALE]);
    assert.deepEqual(p.rounds, []);
    assert.equal(p.tombstones.length, 1);
  });

  test("two deletes keep the newest tombstone", () => {
    const p = plan([del("a", T(5)), del("a", T(7))], db());
    assert.deepEqual(
      p.tombstones.map((t) => t.ts),
      [T(7)],
    );
  });
});

describe("coalescing one entity's writes", () => {
  test("two upserts: one write, the first row overlaid with the second's update columns", () => {
    const first = upsert("a", T(1), { code: "C1", name: "one", note: "n1", created_at: T(1) });
    const second = upsert("a", T(2), { code: "C2", name: "two", note: "n2", created_at: T(2) });
    const p = plan([first, second], db());
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [
      [
        upsertWrite(second, {
          id: "a",
          code: "C1",
          name: "two",
          note: "n2",
          created_at: T(1),
          event_id: `e@${T(2)}`,
          event_timestamp: T(2),
        }),
      ],
    ]);
  });

  test("three upserts collapse into one write", () => {
    const p = plan([upsert("a", T(1)), upsert("a", T(2)), upsert("a", T(3), { note: "last" })], db());
    assert.equal(p.rounds.length, 1);
    assert.equal(p.rounds[0]?.length, 1);
    const w = p.rounds[0]?.[0];
    assert.equal(w?.kind === "upsert" && w.row.note, "last");
    assert.equal(w?.kind === "upsert" && w.row.created_at, T(1));
  });

  test("merge-mode children: overlaid by child key, new ones added, old ones kept", () => {
    const first = upsert(
      "a",
      T(1),
      {},
      partsOf("merge", [
        { id: "a", part_key: "p1", qty: 1, label: "first" },
        { id: "a", part_key: "p2", qty: 2, label: "first" },
      ]),
    );
    const second = upsert(
      "a",
      T(2),
      {},
      partsOf("merge", [
        { id: "a", part_key: "p2", qty: 20, label: "second" },
        { id: "a", part_key: "p3", qty: 30, label: "second" },
      ]),
    );
    const w = plan([first, second], db()).rounds[0]?.[0];
    assert.ok(w?.kind === "upsert");
    assert.deepEqual(w.children?.rows, [
      { id: "a", part_key: "p1", qty: 1, label: "first" },
      { id: "a", part_key: "p2", qty: 20, label: "first" },
      { id: "a", part_key: "p3", qty: 30, label: "second" },
    ]);
  });

  test("replace-mode children: the newest set wins whole", () => {
    const first = upsert("a", T(1), {}, partsOf("replace", [{ id: "a", part_key: "p1", qty: 1, label: "x" }]));
    const second = upsert("a", T(2), {}, partsOf("replace", [{ id: "a", part_key: "p2", qty: 2, label: "y" }]));
    const w = plan([first, second], db()).rounds[0]?.[0];
    assert.ok(w?.kind === "upsert");
    assert.deepEqual(w.children, second.children);
    const emptied = upsert("a", T(3), {}, partsOf("replace", []));
    const w2 = plan([first, emptied], db()).rounds[0]?.[0];
    assert.ok(w2?.kind === "upsert");
    assert.deepEqual(w2.children?.rows, []);
  });

  test("a stale upsert's children are not written either", () => {
    const fresh = upsert("a", T(3), {}, partsOf("replace", [{ id: "a", part_key: "new", qty: 1, label: "x" }]));
    const old = upsert("a", T(2), {}, partsOf("replace", [{ id: "a", part_key: "old", qty: 1, label: "x" }]));
    const p = plan([fresh, old], db());
    assert.deepEqual(p.outcomes, [APPLIED, STALE]);
    assert.deepEqual(p.rounds, [[upsertWrite(fresh)]]);
  });

  test("a patch is folded into the upsert before it when the upsert's update columns cover it", () => {
    const op = upsert("a", T(1), { note: "before" });
    const p = plan([op, patch("a", T(2), { note: "after", event_timestamp: T(2) })], db());
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[upsertWrite(op, { ...op.row, note: "after", event_timestamp: T(2) })]]);
  });

  test("a patch the upsert does not cover stays its own write, in the next round", () => {
    const op = upsert("a", T(1));
    const p = plan([op, patch("a", T(2), { created_at: T(9) })], db());
    assert.deepEqual(p.rounds, [
      [upsertWrite(op)],
      [{ kind: "patch", table: things, id: "a", set: { created_at: T(9) } }],
    ]);
  });

  test("consecutive patches merge, the later value winning", () => {
    const p = plan(
      [patch("a", T(2), { note: "x", name: "n" }), patch("a", T(3), { note: "y" })],
      db({ rows: [["a", T(1)]] }),
    );
    assert.deepEqual(p.rounds, [[{ kind: "patch", table: things, id: "a", set: { note: "y", name: "n" } }]]);
  });

  test("an upsert after a patch it covers drops the patch", () => {
    const op = upsert("a", T(3));
    const p = plan([patch("a", T(2), { note: "x" }), op], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[upsertWrite(op)]]);
  });

  test("an upsert after a patch it does not cover keeps both, in order", () => {
    const op = upsert("a", T(3));
    const p = plan([patch("a", T(2), { created_at: T(0) }), op], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.rounds, [
      [{ kind: "patch", table: things, id: "a", set: { created_at: T(0) } }],
      [upsertWrite(op)],
    ]);
  });

  test("delete then upsert: two rounds, [delete] then [upsert]", () => {
    const op = upsert("a", T(3));
    const p = plan([del("a", T(2)), op], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }], [upsertWrite(op)]]);
    assert.deepEqual(p.tombstones, [{ table: things, id: "a", ts: T(2), eventId: `e@${T(2)}` }]);
  });

  test("upsert then delete: the delete discards the writes before it", () => {
    const p = plan([upsert("a", T(2)), patch("a", T(3), { note: "x" }), del("a", T(4))], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }]]);
  });

  test("delete, restore, delete: one delete", () => {
    const p = plan([del("a", T(2)), upsert("a", T(3)), del("a", T(4))], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }]]);
    assert.deepEqual(
      p.tombstones.map((t) => t.ts),
      [T(4)],
    );
  });

  test("round k holds each entity's k-th write; other entities are untouched by the order", () => {
    const b = upsert("b", T(5));
    const restore = upsert("a", T(3));
    const p = plan([del("a", T(2)), b, restore], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.rounds, [[{ kind: "delete", table: things, id: "a" }, upsertWrite(b)], [upsertWrite(restore)]]);
  });
});

describe("patches", () => {
  test("a patch of an existing row by id applies", () => {
    const p = plan([patch("a", T(2), { note: "x" })], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p, {
      outcomes: [APPLIED],
      rounds: [[{ kind: "patch", table: things, id: "a", set: { note: "x" } }]],
      tombstones: [],
    });
  });

  test("a patch of an absent row is no_row; an older one is stale", () => {
    assert.deepEqual(plan([patch("a", T(2), { note: "x" })], db()).outcomes, [NO_ROW]);
    assert.deepEqual(plan([patch("a", T(1), { note: "x" })], db({ rows: [["a", T(2)]] })).outcomes, [STALE]);
  });

  test("a patch after a delete in the same batch is no_row", () => {
    const p = plan([del("a", T(2)), patch("a", T(3), { note: "x" })], db({ rows: [["a", T(1)]] }));
    assert.deepEqual(p.outcomes, [APPLIED, NO_ROW]);
  });

  test("by lookup: resolved from the database's owners", () => {
    const p = plan([patchByCode("C1", T(2), { note: "x" })], db({ rows: [["a", T(1)]], owners: [["C1", "a"]] }));
    assert.deepEqual(p.outcomes, [APPLIED]);
    assert.deepEqual(p.rounds, [[{ kind: "patch", table: things, id: "a", set: { note: "x" } }]]);
  });

  test("by lookup: an unknown value is no_row", () => {
    const p = plan([patchByCode("C404", T(2), { note: "x" })], db({ rows: [["a", T(1)]], owners: [["C1", "a"]] }));
    assert.deepEqual(p, { outcomes: [NO_ROW], rounds: [], tombstones: [] });
  });

  test("by lookup: resolved from an upsert earlier in the batch, and folded into it", () => {
    const op = upsert("b", T(1), { code: "C2" });
    const p = plan([op, patchByCode("C2", T(2), { note: "x" })], db());
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.deepEqual(p.rounds, [[upsertWrite(op, { ...op.row, note: "x" })]]);
  });

  test("by lookup: before the upsert that creates the value, no_row", () => {
    const p = plan([patchByCode("C2", T(2), { note: "x" }), upsert("b", T(1), { code: "C2" })], db());
    assert.deepEqual(p.outcomes, [NO_ROW, APPLIED]);
  });

  test("by lookup: older than the row it finds is stale", () => {
    const p = plan([patchByCode("C1", T(1), { note: "x" })], db({ rows: [["a", T(2)]], owners: [["C1", "a"]] }));
    assert.deepEqual(p.outcomes, [STALE]);
  });
});

describe("unique keys", () => {
  test("a value owned by another row is rejected, naming the column and the owner", () => {
    const p = plan([upsert("b", T(2), { code: "C1" })], db({ rows: [["a", T(1)]], owners: [["C1", "a"]] }));
    assert.deepEqual(p.rounds, []);
    const [outcome] = p.outcomes;
    assert.ok(outcome?.kind === "rejected");
    assert.ok(outcome.error instanceof BadEventError);
    assert.equal(outcome.error.reason, "rejected_by_database");
    assert.equal(outcome.error.message, "data.code already belongs to things row a");
  });

  test("the owner itself may write the value; its id in another case is another row, and is refused", () => {
    const owned = db({ rows: [["a", T(1)]], owners: [["C1", "a"]] });
    assert.deepEqual(plan([upsert("a", T(2), { code: "C1" })], owned).outcomes, [APPLIED]);
    for (const other of ["A", "a "]) {
      const [outcome] = plan([upsert(other, T(2), { code: "C1" })], owned).outcomes;
      assert.ok(outcome?.kind === "rejected", other);
      assert.equal(outcome.error.message, "data.code already belongs to things row a");
    }
  });

  test("values that differ in case or a trailing space are different values, each with its owner", () => {
    const p = plan(
      [
        upsert("a", T(1), { code: "ORD-86" }),
        upsert("b", T(1), { code: "ORD-86 " }),
        upsert("c", T(1), { code: "ord-86" }),
        patchByCode("ORD-86 ", T(2), { note: "cancelled" }),
      ],
      db(),
    );
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED, APPLIED, APPLIED]);
    const written = p.rounds.flat().map((w) => (w.kind === "upsert" ? [w.id, w.row.code, w.row.note] : [w.id]));
    assert.deepEqual(written, [
      ["a", "ORD-86", null],
      ["b", "ORD-86 ", "cancelled"],
      ["c", "ord-86", null],
    ]);
  });

  test("a lookup finds only the exact value the database holds", () => {
    const stored = db({ rows: [["a", T(1)]], owners: [["ORD-86", "a"]] });
    assert.deepEqual(plan([patchByCode("ORD-86 ", T(2), { note: "x" })], stored).outcomes, [NO_ROW]);
    assert.deepEqual(plan([patchByCode("ord-86", T(2), { note: "x" })], stored).outcomes, [NO_ROW]);
    assert.deepEqual(plan([patchByCode("ORD-86", T(2), { note: "x" })], stored).outcomes, [APPLIED]);
  });

  test("a value taken earlier in the same batch is rejected for another row", () => {
    const p = plan([upsert("a", T(1), { code: "C9" }), upsert("b", T(1), { code: "C9" })], db());
    assert.equal(p.outcomes[0]?.kind, "applied");
    assert.equal(p.outcomes[1]?.kind, "rejected");
    assert.equal(p.rounds[0]?.length, 1);
  });

  test("a rejected upsert does not take the value for a later lookup", () => {
    const p = plan(
      [upsert("b", T(2), { code: "C1" }), patchByCode("C1", T(3), { note: "x" })],
      db({ rows: [["a", T(1)]], owners: [["C1", "a"]] }),
    );
    assert.equal(p.outcomes[0]?.kind, "rejected");
    assert.deepEqual(p.outcomes[1], APPLIED);
    assert.deepEqual(p.rounds, [[{ kind: "patch", table: things, id: "a", set: { note: "x" } }]]);
  });
});

describe("outcomes", () => {
  test("items that are already outcomes pass through unchanged, in place", () => {
    const unknown: Outcome = { kind: "skipped", reason: "unknown_type" };
    const tombstone: Outcome = { kind: "skipped", reason: "null_value" };
    const rejected: Outcome = { kind: "rejected", error: new BadEventError("bad_field", "data.x is bad") };
    const items: (Op | Outcome)[] = [unknown, upsert("a", T(1)), rejected, tombstone];
    const p = plan(items, db());
    assert.equal(p.outcomes.length, 4);
    assert.equal(p.outcomes[0], unknown);
    assert.deepEqual(p.outcomes[1], APPLIED);
    assert.equal(p.outcomes[2], rejected);
    assert.equal(p.outcomes[3], tombstone);
    assert.equal(p.rounds.flat().length, 1);
  });

  test("a batch of outcomes only plans nothing", () => {
    const only: Outcome = { kind: "skipped", reason: "unknown_type" };
    assert.deepEqual(plan([only], db()), { outcomes: [only], rounds: [], tombstones: [] });
  });
});

describe("with the real order handlers", () => {
  const decode = (type: string, data: Record<string, unknown> = {}, envelope: Record<string, unknown> = {}): Op => {
    const unknownEnums: UnknownEnumValue[] = [];
    const handler = orders.events[type];
    assert.ok(handler);
    return handler(parsedFixture(type, data, envelope), unknownEnums, LIMITS);
  };
  const ordersDb = (state: { rows?: [string, string][]; owners?: [string, string][] }): DbState => ({
    rows: new Map((state.rows ?? []).map(([id, ts]) => [entityKey("orders", id), ts])),
    tombstones: new Map(),
    owners: new Map((state.owners ?? []).map(([n, id]) => [uniqueKey("orders", "order_number", n), id])),
  });
  const ORDER_ID = "65a1f0c2e4b0a1b2c3d4e5f9";

  test("order.cancelled naming another order's number is rejected; that order is not changed", () => {
    const other = "0123456789abcdef01234567";
    const p = plan(
      [decode("order.cancelled", {}, { entity_id: other })],
      ordersDb({ rows: [[ORDER_ID, "2026-02-11 10:00:00.000000"]], owners: [["ORD-20260211-A7K2", ORDER_ID]] }),
    );
    const [outcome] = p.outcomes;
    assert.equal(outcome?.kind, "rejected");
    assert.equal(
      outcome?.kind === "rejected" ? outcome.error.message : "",
      `data.order_number belongs to orders row ${ORDER_ID}, not to the event's entity_id ${other}`,
    );
    assert.deepEqual(p.rounds, []);
  });

  test("created then cancelled in one batch: one insert, already cancelled", () => {
    const p = plan([decode("order.created"), decode("order.cancelled")], ordersDb({}));
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    assert.equal(p.rounds.length, 1);
    const w = p.rounds[0]?.[0];
    assert.ok(w?.kind === "upsert");
    assert.equal(w.table, ordersTable);
    assert.equal(w.row.status, "cancelled");
    assert.equal(w.row.event_id, "3f1c2b7e-0000-4000-8000-000000000013");
    assert.equal(w.children?.rows.length, 1);
  });

  test("a cancel for an order held by the database patches it by id; items untouched", () => {
    const p = plan(
      [decode("order.cancelled")],
      ordersDb({ rows: [[ORDER_ID, "2026-02-11 11:00:00.000200"]], owners: [["ORD-20260211-A7K2", ORDER_ID]] }),
    );
    assert.deepEqual(p.rounds, [
      [
        {
          kind: "patch",
          table: ordersTable,
          id: ORDER_ID,
          set: {
            status: "cancelled",
            event_id: "3f1c2b7e-0000-4000-8000-000000000013",
            event_timestamp: "2026-02-11 11:30:00.000000",
          },
        },
      ],
    ]);
  });

  test("a replayed order.created after the cancel is stale", () => {
    const p = plan(
      [decode("order.created")],
      ordersDb({ rows: [[ORDER_ID, "2026-02-11 11:30:00.000000"]], owners: [["ORD-20260211-A7K2", ORDER_ID]] }),
    );
    assert.deepEqual(p.outcomes, [STALE]);
  });

  test("a cancel for an unknown order_number is no_row", () => {
    assert.deepEqual(plan([decode("order.cancelled")], ordersDb({})).outcomes, [NO_ROW]);
  });

  test("an order whose number belongs to another order is rejected", () => {
    const p = plan(
      [decode("order.created")],
      ordersDb({ owners: [["ORD-20260211-A7K2", "0123456789abcdef01234567"]] }),
    );
    assert.equal(p.outcomes[0]?.kind, "rejected");
    assert.deepEqual(p.rounds, []);
  });
});
