import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UnknownEnumValue } from "../domains/domain.ts";
import { orders } from "../domains/orders/index.ts";
import { ordersTable } from "../domains/orders/table.ts";
import { LIMITS, parsedFixture } from "../testing/domain-helpers.ts";
import { APPLIED, NO_ROW, STALE } from "../testing/plan-helpers.ts";
import type { Op } from "./ops.ts";
import { type DbState, entityKey, plan, uniqueKey } from "./plan.ts";

// The planner with the real order handlers: business keys, cancels, items.

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

  test("an order's event carrying another number does not take it: the row keeps its own, another order may", () => {
    const newcomer = "0123456789abcdef01234567";
    const p = plan(
      [
        decode(
          "order.created",
          { order_number: "ORD-20260211-NEW1", status: "shipped" },
          {
            timestamp: "2026-02-11T12:00:00+00:00",
          },
        ),
        decode("order.created", { order_number: "ORD-20260211-NEW1" }, { entity_id: newcomer }),
        decode("order.cancelled", { order_number: "ORD-20260211-A7K2" }, { timestamp: "2026-02-11T13:00:00+00:00" }),
      ],
      ordersDb({ rows: [[ORDER_ID, "2026-02-11 10:00:00.000000"]], owners: [["ORD-20260211-A7K2", ORDER_ID]] }),
    );
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ["applied", "applied", "applied"],
    );
  });
});
