import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BadEventError } from "../errors.ts";
import {
  APPLIED,
  db,
  del,
  insertWrite,
  NO_ROW,
  patch,
  patchByCode,
  STALE,
  T,
  things,
  upsert,
  upsertWrite,
} from "../testing/plan-helpers.ts";
import type { Op, Outcome } from "./ops.ts";
import { plan } from "./plan.ts";

describe("timestamps against the existing row", () => {
  test("a new row is inserted", () => {
    const op = upsert("a", T(1));
    assert.deepEqual(plan([op], db()), { outcomes: [APPLIED], rounds: [[insertWrite(op)]], tombstones: [] });
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
    assert.deepEqual(plan([op], db({ tombstones: [["a", T(5)]] })).rounds, [[insertWrite(op)]]);
  });

  test("a delete for an absent row records its tombstone, said to be of an absent row, and is skipped as no_row", () => {
    const p = plan([del("a", T(3))], db());
    assert.deepEqual(p, {
      outcomes: [NO_ROW],
      rounds: [],
      tombstones: [{ table: things, id: "a", ts: T(3), eventId: `e@${T(3)}`, absent: true }],
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
      tombstones: [{ table: things, id: "a", ts: T(3), eventId: `e@${T(3)}`, absent: false }],
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

  describe("a row older than its tombstone (a create and a delete that crossed on two partitions)", () => {
    const crossed = () => db({ rows: [["a", T(1)]], tombstones: [["a", T(5)]] });
    const deleteRow = { kind: "delete", table: things, id: "a" } as const;

    test("is deleted: an event older than the tombstone is stale or no_row, and the row goes", () => {
      const p = plan([del("a", T(2)), upsert("a", T(3)), patch("a", T(4), { note: "x" })], crossed());
      assert.deepEqual(p, { outcomes: [NO_ROW, STALE, NO_ROW], rounds: [[deleteRow]], tombstones: [] });
    });

    test("an event at least as new as the tombstone creates it again, after the row is deleted", () => {
      const op = upsert("a", T(6));
      const p = plan([op], crossed());
      assert.deepEqual(p.outcomes, [APPLIED]);
      assert.deepEqual(p.rounds, [[deleteRow], [insertWrite(op)]]);
    });

    test("a newer delete moves the tombstone, and the row goes once", () => {
      const p = plan([del("a", T(7))], crossed());
      assert.deepEqual(p.outcomes, [NO_ROW]);
      assert.deepEqual(p.rounds, [[deleteRow]]);
      assert.deepEqual(
        p.tombstones.map((t) => t.ts),
        [T(7)],
      );
    });

    test("a row as new as its tombstone (restored by an event of that time) stays", () => {
      const p = plan([patch("a", T(6), { note: "x" })], db({ rows: [["a", T(5)]], tombstones: [["a", T(5)]] }));
      assert.deepEqual(p.outcomes, [APPLIED]);
    });
  });

  test("two deletes keep the newest tombstone", () => {
    const p = plan([del("a", T(5)), del("a", T(7))], db());
    assert.deepEqual(
      p.tombstones.map((t) => t.ts),
      [T(7)],
    );
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
    assert.deepEqual(p.rounds, [[insertWrite(op, { ...op.row, note: "x" })]]);
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

  test("an existing row's event keeps the value its update leaves out: another row's value there is neither checked nor written", () => {
    // `code` is not among UPDATE: b keeps C2. Refused only when a had taken C1 first, b's event
    // was applied or dead-lettered by the order in which two partitions were read, and a replay
    // of b's event after a's dead-lettered what the first run had applied.
    const owned = db({
      rows: [
        ["a", T(1)],
        ["b", T(1)],
      ],
      owners: [
        ["C1", "a"],
        ["C2", "b"],
      ],
    });
    const p = plan([upsert("b", T(2), { code: "C1", name: "shipped" })], owned);
    assert.deepEqual(p.outcomes, [APPLIED]);
    const [write] = p.rounds.flat();
    assert.ok(write?.kind === "upsert" && !write.absent && !write.update.includes("code"));
    const free = db({ rows: [["b", T(1)]], owners: [["C2", "b"]] });
    assert.deepEqual(plan([upsert("b", T(2), { code: "C1", name: "shipped" })], free).outcomes, [APPLIED]);
  });

  test("a row created in the batch keeps the value it was inserted with, whatever its later events name", () => {
    const p = plan(
      [upsert("b", T(1), { code: "C2" }), upsert("b", T(2), { code: "C1", name: "shipped" })],
      db({ rows: [["a", T(1)]], owners: [["C1", "a"]] }),
    );
    assert.deepEqual(p.outcomes, [APPLIED, APPLIED]);
    const written = p.rounds.flat().map((w) => (w.kind === "upsert" ? [w.id, w.absent, w.row.code, w.row.name] : []));
    assert.deepEqual(written, [["b", true, "C2", "shipped"]]);
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
