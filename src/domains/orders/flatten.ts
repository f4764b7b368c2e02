import type { ParsedEvent } from "../../decode/envelope.ts";
import { datetime, jsonText, maybeDatetime } from "../../decode/schema-kit.ts";
import type { PatchOp, Row, UpsertOp } from "../../plan/ops.ts";
import { versionColumns } from "../common.ts";
import { checkEnum, type FlattenLimits, rejectDuplicate, type UnknownEnumValue } from "../domain.ts";
import { cancelPayload, FULFILLMENT_STATUSES, ORDER_STATUSES, orderDocument } from "./schema.ts";
import { orderItemsTable, orderItemUpdateColumns, ordersTable, orderUpdateColumns } from "./table.ts";

/** Order plus its items; on an existing order only status and fulfilment move (docs/events.md#what-each-event-does). */
export function flattenOrder(e: ParsedEvent, unknownEnums: UnknownEnumValue[], limits: FlattenLimits): UpsertOp {
  const d = orderDocument.parse(e.data, "data");
  rejectDuplicate(
    d.items.map((item) => item.item_id),
    (i) => `data.items.${i}.item_id`,
  );
  const items: Row[] = d.items.map((item, i) => {
    const s = item.product_snapshot;
    const at = `data.items.${i}`;
    return {
      order_id: e.entityId,
      item_id: item.item_id,
      product_id: s.product_id,
      supplier_id: s.supplier_id,
      product_name: s.product_name,
      variant_name: s.variant_name ?? null,
      variant_attributes_json: jsonText(
        s.variant_attributes ?? {},
        `${at}.product_snapshot.variant_attributes`,
        limits.maxJsonDepth,
        e.numberSources,
      ),
      image_url: s.image_url,
      supplier_name: s.supplier_name,
      quantity: item.quantity,
      unit_price_cents: item.unit_price_cents,
      final_price_cents: item.final_price_cents,
      total_cents: item.total_cents,
      fulfillment_status: checkEnum(
        item.fulfillment_status ?? "pending",
        FULFILLMENT_STATUSES,
        "order_items.fulfillment_status",
        unknownEnums,
      ),
      shipped_quantity: item.shipped_quantity ?? 0,
      tracking_number: item.tracking_number ?? null,
      carrier: item.carrier ?? null,
      shipped_at: maybeDatetime(item.shipped_at, `${at}.shipped_at`),
      delivered_at: maybeDatetime(item.delivered_at, `${at}.delivered_at`),
    };
  });
  const ship = d.shipping_address;
  return {
    kind: "upsert",
    table: ordersTable,
    id: e.entityId,
    ts: e.ts,
    eventId: e.eventId,
    update: orderUpdateColumns,
    row: {
      order_id: e.entityId,
      order_number: d.order_number,
      customer_user_id: d.customer.user_id,
      customer_display_name: d.customer.display_name,
      customer_email: d.customer.email,
      customer_phone: d.customer.phone ?? null,
      shipping_recipient_name: ship.recipient_name,
      shipping_phone: ship.phone ?? null,
      shipping_street_1: ship.street_address_1,
      shipping_street_2: ship.street_address_2 ?? null,
      shipping_city: ship.city,
      shipping_state: ship.state,
      shipping_zip_code: ship.zip_code,
      shipping_country: ship.country,
      status: checkEnum(d.status ?? "pending", ORDER_STATUSES, "orders.status", unknownEnums),
      created_at: datetime(d.created_at, "data.created_at"),
      updated_at: datetime(d.updated_at, "data.updated_at"),
      ...versionColumns(e),
    },
    children: {
      table: orderItemsTable,
      rows: items,
      mode: "merge",
      childKey: "item_id",
      update: orderItemUpdateColumns,
    },
  };
}

/** The order is found by its business key; items are untouched. */
export function cancelOrder(e: ParsedEvent): PatchOp {
  const { order_number } = cancelPayload.parse(e.data, "data");
  return {
    kind: "patch",
    table: ordersTable,
    lookup: { column: "order_number", value: order_number, expect: e.entityId },
    ts: e.ts,
    eventId: e.eventId,
    set: { status: "cancelled", ...versionColumns(e) },
  };
}
