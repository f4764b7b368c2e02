import { fixture } from "../../../src/testing/fixtures.ts";
import { hexId } from "../helpers.ts";

// The end-to-end fuzz's events (test/integration/fuzz-e2e.test.ts): valid ones for three entities
// of each kind, whose tables the model of test/support/model.ts gives, and the message type the
// hostile ones (hostile.ts) share.

export type Json = Record<string, unknown>;
export const TAGS = { users: "aa01", suppliers: "aa02", products: "aa03", orders: "aa04", posts: "aa05" } as const;
export type Parent = keyof typeof TAGS;
export const TOPIC_OF: Record<Parent, string> = {
  users: "user",
  suppliers: "supplier",
  products: "product",
  orders: "order",
  posts: "post",
};
export const VALID: Record<Parent, string[]> = Object.fromEntries(
  Object.entries(TAGS).map(([t, tag]) => [t, [1, 2, 3].map((n) => hexId(n, tag))]),
) as Record<Parent, string[]>;
export const ALL_VALID = Object.values(VALID).flat();
export const doc = (type: string) => structuredClone(fixture(type).value.data) as Json;
export const ts = (sec: number) => {
  const d = new Date(Date.UTC(2026, 2, 1, 10, 0, 0) + sec * 1000);
  return `${d.toISOString().slice(0, 19)}.000001+00:00`;
};
export const LATE = "2026-06-01T00:00:00.000001+00:00"; // after every valid event, before the wall clock

export interface Msg {
  topic: string;
  key: string | null;
  value: string | null; // JSON text (may be crafted)
  partition?: number;
  valid: boolean;
  note: string;
  /** Hostile aimed at a valid entity: must not be applied. */
  mustNotApply?: boolean;
}

/** Event ids: the seed and a counter, so that a seed's cases are the same bytes each time. */
const ids = { prefix: "fz", counter: 0 };
export function resetEventIds(seed: number): void {
  ids.prefix = `fz-${seed}`;
  ids.counter = 0;
}
export const envelope = (type: string, id: string, data: unknown, timestamp: string, eventId?: string): Json => ({
  event_type: type,
  event_id: eventId ?? `${ids.prefix}-${++ids.counter}`,
  entity_id: id,
  timestamp,
  data,
});
export const msg = (
  topic: string,
  key: string | null,
  value: Json | string | null,
  valid: boolean,
  note: string,
): Msg => ({
  topic,
  key,
  value: value === null ? null : typeof value === "string" ? value : JSON.stringify(value),
  valid,
  note,
});

export function userDoc(id: string, n: number): Json {
  const d = doc("user.created");
  d.id = id;
  (d.profile as Json).bio = `bio ${n}`;
  d.version = n;
  return d;
}
export function supplierDoc(id: string, n: number): Json {
  const d = doc("supplier.created");
  d.id = id;
  (d.company_info as Json).dba_name = `dba ${n}`;
  return d;
}
function variant(key: string, vid: string, price: number): [string, Json] {
  const base = (doc("product.created").variants as Json)["small-white"] as Json;
  return [key, { ...base, variant_id: vid, variant_name: `V ${key}`, price_cents: price }];
}
export function productDoc(id: string, i: number, n: number, keys: string[]): Json {
  const d = doc("product.created");
  d.id = id;
  d.supplier_id = VALID.suppliers[0];
  d.name = `product ${i} v${n}`;
  d.variants = Object.fromEntries(keys.map((k, j) => variant(k, `v-${i}-${j}-${k}`, 100 * n)));
  return d;
}
export const orderNumber = (i: number) => `ORD-FZ-${i}`;
export function orderDoc(id: string, i: number, n: number, items: string[], status = "pending"): Json {
  const d = doc("order.created");
  d.id = id;
  d.order_number = orderNumber(i);
  d.status = status;
  const [item] = d.items as Json[];
  d.items = items.map((itemId, k) => ({
    ...item,
    item_id: itemId,
    quantity: k + 1,
    fulfillment_status: n > 1 ? "shipped" : "pending",
  }));
  return d;
}
export function postDoc(id: string, n: number): Json {
  const d = doc("post.created");
  d.id = id;
  d.text_content = `post text ${n}`;
  return d;
}

export function validStreams(): Msg[][] {
  const streams: Msg[][] = [];
  VALID.users.forEach((id, i) => {
    let s = 0;
    const at = () => ts(i * 1000 + ++s);
    const out = [
      msg("user", id, envelope("user.created", id, userDoc(id, 1), at()), true, "u-create"),
      msg("user", id, envelope("user.updated", id, userDoc(id, 2), at()), true, "u-update"),
    ];
    if (i === 1) out.push(msg("user", id, envelope("user.deleted", id, { user_id: id }, at()), true, "u-delete"));
    streams.push(out);
  });
  VALID.suppliers.forEach((id, i) => {
    let s = 0;
    const at = () => ts(100 + i * 1000 + ++s);
    const out = [msg("supplier", id, envelope("supplier.created", id, supplierDoc(id, 1), at()), true, "s-create")];
    if (i === 2) {
      out.push(msg("supplier", id, envelope("supplier.deleted", id, { supplier_id: id }, at()), true, "s-del"));
      out.push(msg("supplier", id, envelope("supplier.updated", id, supplierDoc(id, 3), at()), true, "s-back"));
    } else out.push(msg("supplier", id, envelope("supplier.updated", id, supplierDoc(id, 2), at()), true, "s-upd"));
    streams.push(out);
  });
  VALID.products.forEach((id, i) => {
    let s = 0;
    const at = () => ts(200 + i * 1000 + ++s);
    const out = [
      msg("product", id, envelope("product.created", id, productDoc(id, i, 1, ["S", "M", "L"]), at()), true, "p-c"),
      msg("product", id, envelope("product.updated", id, productDoc(id, i, 2, ["S", "M"]), at()), true, "p-u"),
    ];
    if (i === 1) {
      out.push(msg("product", id, envelope("product.deleted", id, { product_id: id }, at()), true, "p-d"));
      out.push(
        msg("product", id, envelope("product.restored", id, productDoc(id, i, 3, ["M", "XL"]), at()), true, "p-r"),
      );
    }
    streams.push(out);
  });
  VALID.orders.forEach((id, i) => {
    let s = 0;
    const at = () => ts(300 + i * 1000 + ++s);
    const out = [
      msg("order", id, envelope("order.created", id, orderDoc(id, i, 1, ["item-1", "item-2"]), at()), true, "o-c"),
      msg(
        "order",
        id,
        envelope("order.created", id, orderDoc(id, i, 2, ["item-2", "item-3"], "confirmed"), at()),
        true,
        "o-u",
      ),
    ];
    if (i === 2) {
      out.push(
        msg("order", id, envelope("order.cancelled", id, { order_number: orderNumber(i) }, at()), true, "o-cancel"),
      );
    }
    streams.push(out);
  });
  VALID.posts.forEach((id, i) => {
    let s = 0;
    const at = () => ts(400 + i * 1000 + ++s);
    const out = [
      msg("post", id, envelope("post.created", id, postDoc(id, 1), at()), true, "po-c"),
      msg("post", id, envelope("post.updated", id, postDoc(id, 2), at()), true, "po-u"),
    ];
    if (i === 0) out.push(msg("post", id, envelope("post.deleted", id, { post_id: id }, at()), true, "po-d"));
    streams.push(out);
  });
  return streams;
}
