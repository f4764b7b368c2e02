import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asPatch, assertBadField, asUpsert, handle } from "../../testing/domain-helpers.ts";
import { itemRow, orderRow } from "../../testing/fixture-rows.ts";
import { orders } from "./index.ts";
import { orderItemsTable, ordersTable } from "./table.ts";

const ORDER_ID = "65a1f0c2e4b0a1b2c3d4e5f9";

/** docs/events.md#what-each-event-does: on an existing order only these change. */
const ORDER_UPDATE = ["status", "updated_at", "event_id", "event_timestamp"];
/** docs/events.md#what-each-event-does: on an existing item only these change. */
const ITEM_UPDATE = [
  "fulfillment_status",
  "shipped_quantity",
  "tracking_number",
  "carrier",
  "shipped_at",
  "delivered_at",
];

// The flatten step hands JSON columns to MySQL as text.
const ITEM_1 = { ...itemRow, variant_attributes_json: '{"Size":"Small","Color":"White"}' };

describe("order.created", () => {
  test("flattens to exactly the docs/events.md#documents-and-tables order row plus one item row per entry", () => {
    const { op, unknownEnums } = handle(orders, "order.created");
    assert.deepEqual(op, {
      kind: "upsert",
      table: ordersTable,
      id: ORDER_ID,
      ts: "2026-02-11 11:00:00.000200",
      eventId: "3f1c2b7e-0000-4000-8000-000000000012",
      update: ORDER_UPDATE,
      row: orderRow,
      children: {
        table: orderItemsTable,
        rows: [ITEM_1],
        mode: "merge",
        childKey: "item_id",
        update: ITEM_UPDATE,
      },
    });
    assert.deepEqual(unknownEnums, []);
  });

  test("rows have every column of their table, in the table's order", () => {
    const op = asUpsert(handle(orders, "order.created").op);
    assert.deepEqual(Object.keys(op.row), [...ordersTable.columns]);
    assert.deepEqual(Object.keys(op.children?.rows[0] ?? {}), [...orderItemsTable.columns]);
  });

  test("status absent or null → pending", () => {
    assert.equal(asUpsert(handle(orders, "order.created", { status: undefined }).op).row.status, "pending");
    assert.equal(asUpsert(handle(orders, "order.created", { status: null }).op).row.status, "pending");
  });

  test("item defaults: fulfillment_status → pending, variant_attributes → {}, shipped_quantity → 0", () => {
    const { op, unknownEnums } = handle(orders, "order.created", {
      "items.0.fulfillment_status": undefined,
      "items.0.product_snapshot.variant_attributes": undefined,
      "items.0.product_snapshot.variant_name": undefined,
      "items.0.shipped_quantity": undefined,
    });
    const item = asUpsert(op).children?.rows[0];
    assert.equal(item?.fulfillment_status, "pending");
    assert.equal(item?.variant_attributes_json, "{}");
    assert.equal(item?.variant_name, null);
    assert.equal(item?.shipped_quantity, 0);
    assert.deepEqual(unknownEnums, []);
  });

  test("a shipped item carries its fulfilment columns, datetimes converted", () => {
    const op = asUpsert(
      handle(orders, "order.created", {
        "items.0.fulfillment_status": "shipped",
        "items.0.shipped_quantity": 2,
        "items.0.tracking_number": "1Z999",
        "items.0.carrier": "UPS",
        "items.0.shipped_at": "2026-02-12T08:00:00.5Z",
        "items.0.delivered_at": "2026-02-13T10:00:00+02:00",
      }).op,
    );
    const item = op.children?.rows[0];
    assert.deepEqual(
      [item?.fulfillment_status, item?.shipped_quantity, item?.tracking_number, item?.carrier],
      ["shipped", 2, "1Z999", "UPS"],
    );
    assert.equal(item?.shipped_at, "2026-02-12 08:00:00.500000");
    assert.equal(item?.delivered_at, "2026-02-13 08:00:00.000000");
  });

  test("several items give one row each, in order", () => {
    const second = {
      item_id: "item-2",
      product_snapshot: {
        product_id: "65a1f0c2e4b0a1b2c3d4e5f8",
        supplier_id: "65a1f0c2e4b0a1b2c3d4e5f7",
        product_name: "Saucer",
        variant_attributes: {},
        image_url: "https://cdn.example.com/saucer.jpg",
        supplier_name: "Cedar Supply Ltd.",
      },
      quantity: 1,
      unit_price_cents: 900,
      final_price_cents: 900,
      total_cents: 900,
    };
    const { op } = handle(orders, "order.created", { "items.1": second });
    const rows = asUpsert(op).children?.rows ?? [];
    assert.deepEqual(
      rows.map((r) => [r.item_id, r.product_name, r.variant_attributes_json, r.fulfillment_status]),
      [
        ["item-1", "Handmade Ceramic Mug", '{"Size":"Small","Color":"White"}', "pending"],
        ["item-2", "Saucer", "{}", "pending"],
      ],
    );
  });

  test("unknown order and fulfilment statuses are applied as they are and recorded", () => {
    const { op, unknownEnums } = handle(orders, "order.created", {
      status: "on_hold",
      "items.0.fulfillment_status": "lost",
    });
    const upsert = asUpsert(op);
    assert.equal(upsert.row.status, "on_hold");
    assert.equal(upsert.children?.rows[0]?.fulfillment_status, "lost");
    assert.deepEqual(unknownEnums, [
      { field: "order_items.fulfillment_status", value: "lost" },
      { field: "orders.status", value: "on_hold" },
    ]);
  });

  test("fields the service does not read are ignored", () => {
    const plain = handle(orders, "order.created").op;
    const extra = handle(orders, "order.created", {
      payment: { method: "card", last4: "4242" },
      "customer.loyalty_id": "L-1",
      "items.0.gift_wrap": true,
      "shipping_address.instructions": "leave at door",
    }).op;
    assert.deepEqual(extra, plain);
  });
});

describe("bad order documents are BadEventErrors naming the field", () => {
  const created = (data: Record<string, unknown>) => () => handle(orders, "order.created", data);

  test("order_number empty or longer than 50", () => {
    assertBadField(created({ order_number: "" }), "data.order_number");
    assertBadField(created({ order_number: "O".repeat(51) }), "data.order_number");
  });

  test("item quantity below 1 or not an integer", () => {
    assertBadField(created({ "items.0.quantity": 0 }), "data.items.0.quantity");
    assertBadField(created({ "items.0.quantity": 1.5 }), "data.items.0.quantity", /integer/);
  });

  test("a variant attribute value that is not a string", () => {
    assertBadField(
      created({ "items.0.product_snapshot.variant_attributes.Size": 12 }),
      "data.items.0.product_snapshot.variant_attributes.Size",
    );
  });

  test("unparseable shipped_at names the item", () => {
    assertBadField(created({ "items.0.shipped_at": "tomorrow" }), "data.items.0.shipped_at");
  });

  test("a status too long for its column is rejected, not applied", () => {
    assertBadField(created({ status: "s".repeat(21) }), "data.status");
  });

  test("a malformed customer user_id", () => {
    assertBadField(created({ "customer.user_id": "noa" }), "data.customer.user_id");
  });

  test("shipping country longer than 2", () => {
    assertBadField(created({ "shipping_address.country": "ISR" }), "data.shipping_address.country");
  });
});

describe("order.cancelled", () => {
  test("a patch of status, event_id, event_timestamp on the order found by order_number", () => {
    const { op } = handle(orders, "order.cancelled");
    assert.deepEqual(op, {
      kind: "patch",
      table: ordersTable,
      lookup: { column: "order_number", value: "ORD-20260211-A7K2", expect: "65a1f0c2e4b0a1b2c3d4e5f9" },
      ts: "2026-02-11 11:30:00.000000",
      eventId: "3f1c2b7e-0000-4000-8000-000000000013",
      set: {
        status: "cancelled",
        event_id: "3f1c2b7e-0000-4000-8000-000000000013",
        event_timestamp: "2026-02-11 11:30:00.000000",
      },
    });
    assert.equal(asPatch(op).id, undefined);
  });

  test("order_number missing or empty is a bad field", () => {
    assertBadField(
      () => handle(orders, "order.cancelled", { order_number: undefined }),
      "data.order_number",
      /is required/,
    );
    assertBadField(() => handle(orders, "order.cancelled", { order_number: "" }), "data.order_number");
  });
});
