import { CATEGORIES, UNIT_TYPES } from "../domains/products/schema.ts";
import type { EventType } from "./emit.ts";
import {
  add,
  admit,
  clone,
  docTime,
  type Entity,
  type Generated,
  loose,
  objectId,
  type ProductDoc,
  remove,
  retire,
  type State,
  send,
} from "./state.ts";
import { createSupplier } from "./suppliers.ts";
import { BRANDS, COLORS, DESCRIPTIONS, productName, SIZES } from "./text.ts";

// Products: listed by a supplier with 1–6 variants, then changed the most of all entities
// (stats, price, variants, status), deleted now and then and sometimes restored after a delete.

/** One more size/colour variant, unless the pair drawn exists already. */
export function addVariant(s: State, e: Entity, d: ProductDoc): void {
  const { rnd } = s;
  const [size, color] = [rnd.pick(SIZES), rnd.pick(COLORS)];
  const key = `${size}-${color}`.toLowerCase();
  if (key in d.variants) return;
  const cm = (max: number) => rnd.int(10, max) / 10;
  d.variants[key] = {
    variant_id: `v-${String(++e.n).padStart(3, "0")}`,
    variant_name: `${size} / ${color}`,
    attributes: [
      { attribute_name: "Size", attribute_value: size },
      { attribute_name: "Color", attribute_value: color },
    ],
    price_cents: d.base_price_cents + rnd.int(0, 20) * 50,
    cost_cents: rnd.chance(0.7) ? Math.floor(d.base_price_cents * 0.4) : null,
    quantity: rnd.int(0, 200),
    package_dimensions: { width_cm: cm(600), height_cm: cm(600), depth_cm: cm(300) },
    image_url: rnd.chance(0.6) ? `https://cdn.example.com/v/${rnd.hex(10)}.jpg` : null,
  };
}

/** A product of a random supplier; with no supplier yet, the supplier comes first. */
export function createProduct(s: State): Generated {
  const { rnd } = s;
  if (s.suppliers.length === 0) return createSupplier(s);
  const supplier = rnd.pick(s.suppliers);
  const id = objectId(s);
  const published = rnd.chance(0.3);
  const doc: ProductDoc = {
    id,
    supplier_id: supplier.id,
    supplier_info: loose({
      name: supplier.doc.company_info.legal_name,
      email: supplier.doc.contact_info.primary_email,
    }),
    name: productName(rnd),
    short_description: rnd.chance(0.7) ? rnd.pick(DESCRIPTIONS) : null,
    topic_descriptions: [{ topic: "Care", description: "Handle with care.", display_order: 0 }],
    // Now and then a category added upstream later: applied as is (docs/events.md#bad-input), not poison.
    category: rnd.chance(0.01) ? "pet_supplies" : rnd.pick(CATEGORIES),
    unit_type: rnd.pick(UNIT_TYPES),
    metadata: { base_sku: `SKU-${rnd.hex(8).toUpperCase()}`, brand: rnd.chance(0.6) ? rnd.pick(BRANDS) : null },
    stock_locations: [
      { location_name: "Main WH", city: supplier.doc.company_info.business_address.city, quantity: 40 },
    ],
    variants: {},
    base_price_cents: rnd.int(1, 400) * 100 - rnd.pick([0, 1, 5]),
    stats: { view_count: 0, favorite_count: 0, purchase_count: 0, total_reviews: 0 },
    status: published ? "active" : "draft",
    published_at: published ? docTime(s) : null,
    created_at: docTime(s),
    updated_at: docTime(s),
  };
  const e = admit(s, "product", id, doc);
  const count = rnd.int(1, 6);
  for (let i = 0; i < 12 && Object.keys(doc.variants).length < count; i++) addVariant(s, e, doc);
  return send(s, e, "product.created", doc, true);
}

/** product.updated (most often), .published, .out_of_stock, .discontinued or .restored (back in stock). */
export function changeProduct(s: State, e: Entity<ProductDoc>): Generated {
  const { rnd } = s;
  const d = clone(e.doc);
  const action = rnd.pick(["updated", "updated", "updated", "published", "out_of_stock", "discontinued", "restored"]);
  if (action === "updated") updateProduct(s, e, d);
  else if (action === "published") {
    d.status = "active";
    d.published_at ??= docTime(s);
  } else if (action === "out_of_stock") {
    d.status = "out_of_stock";
    for (const v of Object.values(d.variants)) v.quantity = 0;
  } else if (action === "discontinued") d.status = "discontinued";
  else {
    d.status = "active";
    for (const v of Object.values(d.variants)) v.quantity = rnd.int(1, 100);
  }
  d.updated_at = docTime(s);
  return send(s, e, `product.${action}` as EventType, d, true);
}

/** The change of a product.updated: stats most often, else price, name, variants or supplier. */
function updateProduct(s: State, e: Entity<ProductDoc>, d: ProductDoc): void {
  const { rnd } = s;
  const variants = Object.values(d.variants);
  const change = rnd.int(0, 9);
  const st = d.stats ?? {};
  if (change <= 2) {
    st.view_count = (st.view_count ?? 0) + rnd.int(1, 500);
    st.favorite_count = (st.favorite_count ?? 0) + rnd.int(0, 20);
    st.purchase_count = (st.purchase_count ?? 0) + rnd.int(0, 5);
    st.total_reviews = (st.total_reviews ?? 0) + rnd.int(0, 2);
    d.stats = st;
  } else if (change === 3) d.base_price_cents = Math.max(0, d.base_price_cents + rnd.int(-10, 10) * 100);
  else if (change === 4) d.name = productName(rnd);
  else if (change === 5) addVariant(s, e, d);
  else if (change === 6 && variants.length > 0) delete d.variants[rnd.pick(Object.keys(d.variants))];
  else if (change === 7) d.variants = {};
  else if (change === 8 && variants.length > 0) rnd.pick(variants).price_cents += 100;
  // A move to another supplier: the sink keeps the supplier_id the product was created with.
  else if (s.suppliers.length > 0) d.supplier_id = rnd.pick(s.suppliers).id;
}

/** Deleted products wait in their own pool, for a restore. */
export function deleteProduct(s: State, e: Entity<ProductDoc>): Generated {
  retire(s, s.products as Entity[], e);
  add(s.deletedProducts as Entity[], e);
  return send(s, e, "product.deleted", s.rnd.chance(0.9) ? { product_id: e.id } : {}, false);
}

export function restoreProduct(s: State, e: Entity<ProductDoc>): Generated {
  const { rnd } = s;
  remove(s.deletedProducts as Entity[], e);
  add(s.products as Entity[], e);
  e.live = true;
  const d = clone(e.doc);
  d.status = rnd.pick(["draft", "active"]);
  if (rnd.chance(0.3)) addVariant(s, e, d);
  d.updated_at = docTime(s);
  return send(s, e, "product.restored", d, true);
}
