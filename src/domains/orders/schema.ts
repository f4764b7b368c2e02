import {
  compile,
  Defaulted,
  Int,
  Maybe,
  ObjectId,
  type Static,
  Str,
  StringMap,
  Text,
  Timestamp,
  Type,
} from "../../decode/schema-kit.ts";

export const ORDER_STATUSES = [
  "pending",
  "confirmed",
  "processing",
  "shipped",
  "delivered",
  "cancelled",
  "refunded",
  "failed",
] as const;
export const FULFILLMENT_STATUSES = ["pending", "processing", "shipped", "delivered", "cancelled", "returned"] as const;

export const OrderItem = Type.Object({
  item_id: Str(50, 1),
  product_snapshot: Type.Object({
    product_id: ObjectId(),
    supplier_id: ObjectId(),
    product_name: Str(200),
    variant_name: Maybe(Str(200)),
    variant_attributes: Maybe(StringMap(Type.String())),
    image_url: Text(),
    supplier_name: Str(200),
  }),
  quantity: Int(1),
  unit_price_cents: Int(),
  final_price_cents: Int(),
  total_cents: Int(),
  fulfillment_status: Maybe(Str(20)),
  shipped_quantity: Defaulted(Int()),
  tracking_number: Maybe(Str(100)),
  carrier: Maybe(Str(100)),
  shipped_at: Maybe(Timestamp()),
  delivered_at: Maybe(Timestamp()),
});

// docs/events.md#documents-and-tables Order. Statuses are plain strings: a value added upstream is applied as is and counted.
export const OrderDocument = Type.Object({
  order_number: Str(50, 1),
  customer: Type.Object({
    user_id: ObjectId(),
    display_name: Str(200),
    email: Str(255),
    phone: Maybe(Str(50)),
  }),
  shipping_address: Type.Object({
    recipient_name: Str(200),
    phone: Maybe(Str(50)),
    street_address_1: Str(200),
    street_address_2: Maybe(Str(200)),
    city: Str(100),
    state: Str(100),
    zip_code: Str(20),
    country: Str(2),
  }),
  items: Type.Array(OrderItem),
  status: Maybe(Str(20)),
  created_at: Timestamp(),
  updated_at: Timestamp(),
});
export type OrderDocument = Static<typeof OrderDocument>;
export const orderDocument = compile(OrderDocument);

/** order.cancelled carries only the business key (docs/events.md#topics-and-event-types). */
export const CancelPayload = Type.Object({ order_number: Str(50, 1) });
export const cancelPayload = compile(CancelPayload);
