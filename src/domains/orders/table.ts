import { defineTable } from "../../plan/ops.ts";

export const ordersTable = defineTable(
  "orders",
  "order_id",
  [
    "order_id",
    "order_number",
    "customer_user_id",
    "customer_display_name",
    "customer_email",
    "customer_phone",
    "shipping_recipient_name",
    "shipping_phone",
    "shipping_street_1",
    "shipping_street_2",
    "shipping_city",
    "shipping_state",
    "shipping_zip_code",
    "shipping_country",
    "status",
    "created_at",
    "updated_at",
    "event_id",
    "event_timestamp",
  ],
  { unique: ["order_number"], exact: ["customer_user_id"] },
);

export const orderItemsTable = defineTable(
  "order_items",
  "order_id",
  [
    "order_id",
    "item_id",
    "product_id",
    "supplier_id",
    "product_name",
    "variant_name",
    "variant_attributes_json",
    "image_url",
    "supplier_name",
    "quantity",
    "unit_price_cents",
    "final_price_cents",
    "total_cents",
    "fulfillment_status",
    "shipped_quantity",
    "tracking_number",
    "carrier",
    "shipped_at",
    "delivered_at",
  ],
  { rowId: "id", json: ["variant_attributes_json"], exact: ["item_id", "product_id", "supplier_id"] },
);

/** docs/events.md#what-each-event-does: on an existing order only these change. */
export const orderUpdateColumns = ["status", "updated_at", "event_id", "event_timestamp"] as const;
/** docs/events.md#what-each-event-does: on an existing item only these change. */
export const orderItemUpdateColumns = [
  "fulfillment_status",
  "shipped_quantity",
  "tracking_number",
  "carrier",
  "shipped_at",
  "delivered_at",
] as const;
