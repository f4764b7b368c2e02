import { isoMicros } from "./emit.ts";
import { createProduct } from "./products.ts";
import {
  admit,
  clone,
  docTime,
  type Entity,
  type Generated,
  type OrderDoc,
  objectId,
  retire,
  type State,
  send,
} from "./state.ts";
import { address, email, phone, productName } from "./text.ts";
import { createUser } from "./users.ts";

// Orders: placed by a user with 1–5 items of live products, then moved along
// pending → confirmed → processing → shipped → delivered (→ refunded), each step a full
// order.created again, as the platform sends it; or cancelled.

type Item = OrderDoc["items"][number];

/** The status each step moves an order to. */
export const NEXT_STATUS: Record<string, string> = {
  pending: "confirmed",
  confirmed: "processing",
  processing: "shipped",
  shipped: "delivered",
  delivered: "refunded",
};

/** An item of a random live product, with a snapshot of the product as it is now. */
export function orderItem(s: State, o: Entity): Item {
  const { rnd } = s;
  const p = rnd.pick(s.products).doc;
  const keys = Object.keys(p.variants);
  const v = keys.length > 0 && rnd.chance(0.9) ? p.variants[rnd.pick(keys)] : undefined;
  const [quantity, unit] = [rnd.int(1, 4), v?.price_cents ?? p.base_price_cents];
  const final = Math.floor(unit * (1 - rnd.int(0, 4) * 0.05));
  o.n++;
  return {
    item_id: rnd.chance(0.5) ? `item-${o.n}` : rnd.hex(24),
    product_snapshot: {
      product_id: p.id,
      supplier_id: p.supplier_id,
      product_name: p.name,
      variant_name: v?.variant_name ?? null,
      variant_attributes: Object.fromEntries((v?.attributes ?? []).map((a) => [a.attribute_name, a.attribute_value])),
      image_url: v?.image_url ?? "https://cdn.example.com/p/placeholder.jpg",
      supplier_name: p.supplier_info.name ?? "",
    },
    quantity,
    unit_price_cents: unit,
    final_price_cents: final,
    total_cents: final * quantity,
    fulfillment_status: "pending",
    shipped_quantity: 0,
    tracking_number: null,
    carrier: null,
    shipped_at: null,
    delivered_at: null,
  };
}

/** An order of a random user; with no user or no product yet, that comes first. */
export function createOrder(s: State): Generated {
  const { rnd } = s;
  if (s.users.length === 0) return createUser(s);
  if (s.products.length === 0) return createProduct(s);
  const u = rnd.pick(s.users);
  const id = objectId(s);
  const day = isoMicros(s.clock).slice(0, 10).replaceAll("-", "");
  const { city, state, zip_code, country, street_address_1, street_address_2 } = address(rnd);
  const doc: OrderDoc = {
    id,
    // Unique by construction: the serial is (docs/events.md: order_number is UNIQUE).
    order_number: `ORD-${day}-${s.serial.toString(36).toUpperCase()}${rnd.hex(3).toUpperCase()}`,
    customer: {
      user_id: u.id,
      display_name: u.doc.profile.display_name,
      email: u.doc.contact_info.primary_email,
      phone: u.doc.contact_info.phone,
    },
    items: [],
    shipping_address: {
      recipient_name: u.doc.profile.display_name,
      phone: rnd.chance(0.6) ? phone(rnd) : null,
      street_address_1,
      street_address_2,
      city,
      state,
      zip_code,
      country,
    },
    status: "pending",
    created_at: docTime(s),
    updated_at: docTime(s),
  };
  const e = admit(s, "order", id, doc);
  for (let i = rnd.int(1, 5); i > 0; i--) doc.items.push(orderItem(s, e));
  return send(s, e, "order.created", doc, true);
}

/** The order's next status; a refunded order, and most delivered ones, are finished. */
export function progressOrder(s: State, e: Entity<OrderDoc>): Generated {
  const { rnd } = s;
  const d = clone(e.doc);
  const status = NEXT_STATUS[d.status ?? "pending"] ?? "delivered";
  const now = docTime(s);
  d.status = status;
  for (const item of d.items) fulfil(s, item, status, now);
  // Re-sends that also touch what the sink keeps as first inserted (docs/events.md#what-each-event-does), and a new item.
  if (status === "confirmed" && rnd.chance(0.1) && s.products.length > 0) d.items.push(orderItem(s, e));
  if (rnd.chance(0.03)) d.customer.email = email(rnd, "changed");
  if (rnd.chance(0.02) && d.items[0]) d.items[0].product_snapshot.product_name = productName(rnd);
  d.updated_at = now;
  const g = send(s, e, "order.created", d, true);
  if (status === "refunded" || (status === "delivered" && rnd.chance(0.9))) retire(s, s.orders as Entity[], e);
  return g;
}

/** An item follows its order's status; some ship already while the order is processing. */
function fulfil(s: State, item: Item, status: string, now: string): void {
  const { rnd } = s;
  if (status === "processing") item.fulfillment_status = "processing";
  if (status === "shipped" || (status === "processing" && rnd.chance(0.2))) {
    Object.assign(item, { fulfillment_status: "shipped", shipped_quantity: item.quantity, shipped_at: now });
    item.carrier = rnd.pick(["UPS", "DHL", "Israel Post", "FedEx"]);
    item.tracking_number = `1Z${rnd.hex(16).toUpperCase()}`;
  }
  if (status === "delivered") Object.assign(item, { fulfillment_status: "delivered", delivered_at: now });
  if (status === "refunded") item.fulfillment_status = "returned";
}

export function cancelOrder(s: State, e: Entity<OrderDoc>): Generated {
  retire(s, s.orders as Entity[], e);
  return send(s, e, "order.cancelled", { order_number: e.doc.order_number }, false);
}
