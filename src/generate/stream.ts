import type { OrderDocument } from "../domains/orders/schema.ts";
import type { PostDocument } from "../domains/posts/schema.ts";
import { CATEGORIES, type ProductDocument, UNIT_TYPES } from "../domains/products/schema.ts";
import type { SupplierDocument } from "../domains/suppliers/schema.ts";
import type { UserDocument } from "../domains/users/schema.ts";
import { type EmittedEvent, type EventData, type EventType, emit, isoMicros } from "../events/emit.ts";
import { type Kind, POISON_CLASSES, type PoisonClass, poisonBytes, SCHEDULE } from "./poison.ts";
import { createRandom } from "./random.ts";
import {
  address,
  BIOS,
  BRANDS,
  banking,
  COLORS,
  COMPANY,
  COMPANY_SUFFIX,
  DESCRIPTIONS,
  email,
  linkPreview,
  media,
  personName,
  phone,
  postText,
  productName,
  SIZES,
  TIMEZONES,
  TITLES,
  withEmoji,
} from "./text.ts";

// A pure, seeded stream of events as the live platform publishes them: entities of all five
// domains created, then changed many times, plus what at-least-once delivery and a messy
// upstream add (exact re-sends, older events re-emitted, poison, unknown types, tombstones).
// Same options → same bytes. State is bounded by the live entities (≈ events/10), so a million
// events can be produced lazily.

export { POISON_CLASSES, type PoisonClass };
export type SkipClass = "unknown_type" | "null_value";

export interface Generated {
  topic: string;
  key: string;
  /** Exactly the bytes to produce; null is a Kafka tombstone. */
  value: Buffer | null;
  /** The envelope, for every message that is a well-formed event (absent for poison). */
  event?: EmittedEvent;
  poison?: PoisonClass;
  skip?: SkipClass;
  /** duplicate: an earlier message again, byte for byte. older: an earlier full-state event re-emitted with its old timestamp and a fresh event_id. Neither may change the tables. */
  resend?: "duplicate" | "older";
}

export interface StreamOptions {
  seed: number;
  /** How many messages, everything included. */
  events: number;
  /** Share of poison messages (default 0.01). */
  poisonRate?: number;
  /** Start of the simulated clock, microseconds since the epoch (default 2026-03-01T00:00:00Z). */
  startMicros?: bigint;
}

/**
 * The mix, as shares of all messages (poison: options.poisonRate); the rest are the platform's
 * own events, weighted in ACTIONS below. A twin is a second change of an entity in the same
 * microsecond; it is never re-sent, since a re-send would reorder it against its pair.
 */
export const MIX = { duplicate: 0.03, older: 0.02, unknownType: 0.002, nullValue: 0.002, twin: 0.005 } as const;
const RING = 1024;
const GRAVEYARD = 2000;

type Extra = { id: string; [field: string]: unknown };
type UserDoc = UserDocument & Extra;
type SupplierDoc = SupplierDocument & Extra & { product_ids: string[] };
type ProductDoc = ProductDocument & Extra;
type OrderDoc = OrderDocument & Extra;
type PostDoc = PostDocument & Extra;
type Doc = UserDoc | SupplierDoc | ProductDoc | OrderDoc | PostDoc;
type Json = Record<string, unknown>;
type Item = OrderDoc["items"][number];

interface Sent {
  micros: bigint;
  value: EmittedEvent["value"];
}
interface Entity<D extends Doc = Doc> {
  kind: Kind;
  id: string;
  doc: D;
  /** Time of the entity's newest event: the version its row holds. */
  micros: bigint;
  live: boolean;
  /** Index in the pool that holds it (O(1) removal). */
  slot: number;
  /** The last two full-state events, for "older" re-sends. */
  last?: Sent;
  prev?: Sent;
  /** Counter for variant ids and item ids. */
  n: number;
}

/** The whole stream in memory: for tests and small runs (a million events is ~2 GB of values). */
export function generateStream(options: StreamOptions): Generated[] {
  return [...generateEvents(options)];
}

/** The same stream, one message at a time; the same options give the same messages as generateStream. */
export function* generateEvents(options: StreamOptions): Generator<Generated> {
  const step = createGenerator(options);
  for (let i = 0; i < options.events; i++) yield step();
}

function createGenerator(options: StreamOptions): () => Generated {
  const rnd = createRandom(options.seed);
  const poisonRate = options.poisonRate ?? 0.01;
  const maxEntities = Math.max(100, Math.ceil(options.events / 10));
  let clock = options.startMicros ?? BigInt(Date.UTC(2026, 2, 1)) * 1000n;
  let serial = 0;
  let poisonCount = 0;
  let lastNormal: Entity | undefined;

  const users: Entity<UserDoc>[] = [];
  const suppliers: Entity<SupplierDoc>[] = [];
  const products: Entity<ProductDoc>[] = [];
  const deletedProducts: Entity<ProductDoc>[] = [];
  const orders: Entity<OrderDoc>[] = [];
  const posts: Entity<PostDoc>[] = [];
  const pools = [users, suppliers, products, deletedProducts, orders, posts] as Entity[][];
  const byKind = { user: users, supplier: suppliers, product: products, order: orders, post: posts } as Record<
    Kind,
    Entity[]
  >;
  /** Deleted, cancelled, finished entities: still the target of "older" re-sends. */
  const graveyard: Entity[] = [];
  /** The last RING events of the platform, for exact re-sends. */
  const ring: { g: Generated; twin: boolean }[] = [];
  let ringSize = 0;

  // ObjectId layout: 4-byte seconds, 5 random bytes, 3-byte counter (unique below 2^24 ids).
  const objectId = () =>
    (clock / 1_000_000n).toString(16).padStart(8, "0") +
    rnd.hex(10) +
    (serial++ % 0xffffff).toString(16).padStart(6, "0");
  // As isoformat() writes it: +00:00, sometimes Z; document times sometimes whole seconds.
  const stamp = (micros: bigint) => (rnd.chance(0.1) ? isoMicros(micros).replace("+00:00", "Z") : isoMicros(micros));
  const docTime = () => isoMicros(rnd.chance(0.3) ? clock - (clock % 1_000_000n) : clock);
  // Documents are never changed once sent (events and re-sends share them): change a copy. JSON
  // is the fastest deep copy for plain data here, measured against structuredClone.
  const clone = <D>(d: D): D => JSON.parse(JSON.stringify(d));
  const add = (pool: Entity[], e: Entity) => {
    e.slot = pool.length;
    pool.push(e);
  };
  const remove = (pool: Entity[], e: Entity) => {
    const last = pool.pop() as Entity;
    if (last !== e) {
      pool[e.slot] = last;
      last.slot = e.slot;
    }
  };
  const retire = (pool: Entity[], e: Entity) => {
    remove(pool, e);
    e.live = false;
    if (graveyard.length >= GRAVEYARD) graveyard[rnd.int(0, GRAVEYARD - 1)] = e;
    else graveyard.push(e);
  };
  function admit<D extends Doc>(kind: Kind, id: string, doc: D): Entity<D> {
    const e: Entity<D> = { kind, id, doc, micros: clock, live: true, slot: 0, n: 0 };
    const pool = byKind[kind];
    // Full: a random entity of the kind goes quiet (its rows stay; it just gets no more events).
    if (pools.reduce((n, p) => n + p.length, 0) >= maxEntities && pool.length > 0) {
      const old = rnd.pick(pool);
      old.live = false;
      e.slot = old.slot;
      pool[old.slot] = e as unknown as Entity;
    } else add(pool, e as unknown as Entity);
    return e;
  }
  function send(e: Entity, type: EventType, data: EventData[EventType], full: boolean): Generated {
    const ev = emit(type, e.id, data, { timestamp: stamp(clock), eventId: rnd.uuid() });
    if (full) {
      e.doc = data as Doc;
      e.prev = e.last;
      e.last = { micros: clock, value: ev.value };
    }
    e.micros = clock;
    lastNormal = e;
    return { topic: ev.topic, key: ev.key, value: Buffer.from(JSON.stringify(ev.value)), event: ev };
  }

  function createUser(): Generated {
    const id = objectId();
    const name = personName(rnd);
    const doc: UserDoc = {
      id,
      password_hash: `$2b$12$${rnd.hex(53)}`,
      contact_info: loose({
        primary_email: email(rnd, name),
        additional_emails: [],
        phone: rnd.chance(0.7) ? phone(rnd) : null,
      }),
      profile: loose({
        display_name: withEmoji(rnd, name),
        avatar: rnd.chance(0.5)
          ? "https://cdn.example.com/avatars/default.jpg"
          : `https://cdn.example.com/a/${rnd.hex(12)}.jpg`,
        bio: rnd.chance(0.6) ? rnd.pick(BIOS) : null,
        date_of_birth: rnd.chance(0.5) ? `19${rnd.int(60, 99)}-0${rnd.int(1, 9)}-1${rnd.int(0, 9)}` : null,
      }),
      deleted_at: null,
      version: 1,
      created_at: docTime(),
      updated_at: docTime(),
    };
    return send(admit("user", id, doc), "user.created", doc, true);
  }
  function updateUser(e: Entity<UserDoc>): Generated {
    const d = clone(e.doc);
    const change = rnd.int(0, 4);
    if (change === 0) d.profile.bio = rnd.chance(0.8) ? rnd.pick(BIOS) : null;
    else if (change === 1) d.profile.display_name = withEmoji(rnd, personName(rnd));
    else if (change === 2) d.contact_info.phone = rnd.chance(0.8) ? phone(rnd) : null;
    else if (change === 3) d.profile.avatar = `https://cdn.example.com/a/${rnd.hex(12)}.jpg`;
    else d.contact_info.primary_email = email(rnd, d.profile.display_name);
    d.version = (d.version ?? 1) + 1;
    d.updated_at = docTime();
    return send(e, "user.updated", d, true);
  }

  function createSupplier(): Generated {
    const id = objectId();
    const legal = `${rnd.pick(COMPANY)} ${rnd.pick(COMPANY_SUFFIX)}`;
    const site = `${rnd.hex(6)}.example`;
    const maybe = <V>(p: number, v: () => V) => (rnd.chance(p) ? v() : null);
    const doc: SupplierDoc = {
      id,
      password_hash: `$2b$12$${rnd.hex(53)}`,
      contact_info: loose({
        primary_email: `ops@${site}`,
        additional_emails: [],
        primary_phone: phone(rnd),
        contact_person_name: maybe(0.8, () => personName(rnd)),
        contact_person_title: maybe(0.6, () => rnd.pick(TITLES)),
        contact_person_email: maybe(0.6, () => `contact@${site}`),
        contact_person_phone: maybe(0.3, () => phone(rnd)),
      }),
      company_info: loose({
        legal_name: legal,
        dba_name: maybe(0.5, () => legal.split(" ")[0] ?? legal),
        business_address: address(rnd),
        shipping_address: null,
      }),
      business_info: {
        facebook_url: maybe(0.3, () => `https://facebook.com/${rnd.hex(8)}`),
        instagram_handle: maybe(0.5, () => `shop_${rnd.hex(6)}`),
        twitter_handle: maybe(0.2, () => `@${rnd.hex(6)}`),
        linkedin_url: maybe(0.3, () => `https://www.linkedin.com/company/${rnd.hex(8)}`),
        timezone: maybe(0.8, () => rnd.pick(TIMEZONES)),
        support_email: maybe(0.6, () => `help@${site}`),
        support_phone: maybe(0.4, () => phone(rnd)),
      },
      banking_info: maybe(0.8, () => banking(rnd, legal)),
      product_ids: [],
      created_at: docTime(),
      updated_at: docTime(),
    };
    return send(admit("supplier", id, doc), "supplier.created", doc, true);
  }
  function updateSupplier(e: Entity<SupplierDoc>): Generated {
    const d = clone(e.doc);
    const change = rnd.int(0, 4);
    if (change === 0) d.contact_info.contact_person_name = rnd.chance(0.8) ? personName(rnd) : null;
    else if (change === 1) d.company_info.dba_name = rnd.chance(0.5) ? rnd.pick(COMPANY) : null;
    else if (change === 2) d.business_info.support_phone = phone(rnd);
    else if (change === 3) d.banking_info = banking(rnd, d.company_info.legal_name);
    else d.company_info.business_address = address(rnd);
    d.updated_at = docTime();
    return send(e, "supplier.updated", d, true);
  }

  function addVariant(e: Entity, d: ProductDoc): void {
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
  function createProduct(): Generated {
    if (suppliers.length === 0) return createSupplier();
    const s = rnd.pick(suppliers);
    const id = objectId();
    const published = rnd.chance(0.3);
    const doc: ProductDoc = {
      id,
      supplier_id: s.id,
      supplier_info: loose({ name: s.doc.company_info.legal_name, email: s.doc.contact_info.primary_email }),
      name: productName(rnd),
      short_description: rnd.chance(0.7) ? rnd.pick(DESCRIPTIONS) : null,
      topic_descriptions: [{ topic: "Care", description: "Handle with care.", display_order: 0 }],
      // Now and then a category added upstream later: applied as is (SPEC §9), not poison.
      category: rnd.chance(0.01) ? "pet_supplies" : rnd.pick(CATEGORIES),
      unit_type: rnd.pick(UNIT_TYPES),
      metadata: { base_sku: `SKU-${rnd.hex(8).toUpperCase()}`, brand: rnd.chance(0.6) ? rnd.pick(BRANDS) : null },
      stock_locations: [{ location_name: "Main WH", city: s.doc.company_info.business_address.city, quantity: 40 }],
      variants: {},
      base_price_cents: rnd.int(1, 400) * 100 - rnd.pick([0, 1, 5]),
      stats: { view_count: 0, favorite_count: 0, purchase_count: 0, total_reviews: 0 },
      status: published ? "active" : "draft",
      published_at: published ? docTime() : null,
      created_at: docTime(),
      updated_at: docTime(),
    };
    const e = admit("product", id, doc);
    const count = rnd.int(1, 6);
    for (let i = 0; i < 12 && Object.keys(doc.variants).length < count; i++) addVariant(e, doc);
    return send(e, "product.created", doc, true);
  }
  function changeProduct(e: Entity<ProductDoc>): Generated {
    const d = clone(e.doc);
    const variants = Object.values(d.variants);
    const action = rnd.pick(["updated", "updated", "updated", "published", "out_of_stock", "discontinued", "restored"]);
    if (action === "updated") {
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
      else if (change === 5) addVariant(e, d);
      else if (change === 6 && variants.length > 0) delete d.variants[rnd.pick(Object.keys(d.variants))];
      else if (change === 7) d.variants = {};
      else if (change === 8 && variants.length > 0) rnd.pick(variants).price_cents += 100;
      // A move to another supplier: the sink keeps the supplier_id the product was created with.
      else if (suppliers.length > 0) d.supplier_id = rnd.pick(suppliers).id;
    } else if (action === "published") {
      d.status = "active";
      d.published_at ??= docTime();
    } else if (action === "out_of_stock") {
      d.status = "out_of_stock";
      for (const v of variants) v.quantity = 0;
    } else if (action === "discontinued") d.status = "discontinued";
    else {
      d.status = "active";
      for (const v of variants) v.quantity = rnd.int(1, 100);
    }
    d.updated_at = docTime();
    return send(e, `product.${action}` as EventType, d, true);
  }
  function deleteProduct(e: Entity<ProductDoc>): Generated {
    retire(products as Entity[], e);
    add(deletedProducts as Entity[], e);
    return send(e, "product.deleted", rnd.chance(0.9) ? { product_id: e.id } : {}, false);
  }
  function restoreProduct(e: Entity<ProductDoc>): Generated {
    remove(deletedProducts as Entity[], e);
    add(products as Entity[], e);
    e.live = true;
    const d = clone(e.doc);
    d.status = rnd.pick(["draft", "active"]);
    if (rnd.chance(0.3)) addVariant(e, d);
    d.updated_at = docTime();
    return send(e, "product.restored", d, true);
  }

  function orderItem(o: Entity): Item {
    const p = rnd.pick(products).doc;
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
  function createOrder(): Generated {
    if (users.length === 0) return createUser();
    if (products.length === 0) return createProduct();
    const u = rnd.pick(users);
    const id = objectId();
    const day = isoMicros(clock).slice(0, 10).replaceAll("-", "");
    const { city, state, zip_code, country, street_address_1, street_address_2 } = address(rnd);
    const doc: OrderDoc = {
      id,
      // Unique by construction: the serial is (SPEC: order_number is UNIQUE).
      order_number: `ORD-${day}-${serial.toString(36).toUpperCase()}${rnd.hex(3).toUpperCase()}`,
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
      created_at: docTime(),
      updated_at: docTime(),
    };
    const e = admit("order", id, doc);
    for (let i = rnd.int(1, 5); i > 0; i--) doc.items.push(orderItem(e));
    return send(e, "order.created", doc, true);
  }
  function progressOrder(e: Entity<OrderDoc>): Generated {
    const d = clone(e.doc);
    const status = NEXT_STATUS[d.status ?? "pending"] ?? "delivered";
    const now = docTime();
    d.status = status;
    for (const item of d.items) {
      if (status === "processing") item.fulfillment_status = "processing";
      if (status === "shipped" || (status === "processing" && rnd.chance(0.2))) {
        Object.assign(item, { fulfillment_status: "shipped", shipped_quantity: item.quantity, shipped_at: now });
        item.carrier = rnd.pick(["UPS", "DHL", "Israel Post", "FedEx"]);
        item.tracking_number = `1Z${rnd.hex(16).toUpperCase()}`;
      }
      if (status === "delivered") Object.assign(item, { fulfillment_status: "delivered", delivered_at: now });
      if (status === "refunded") item.fulfillment_status = "returned";
    }
    // Re-sends that also touch what the sink keeps as first inserted (SPEC §7), and a new item.
    if (status === "confirmed" && rnd.chance(0.1) && products.length > 0) d.items.push(orderItem(e));
    if (rnd.chance(0.03)) d.customer.email = email(rnd, "changed");
    if (rnd.chance(0.02) && d.items[0]) d.items[0].product_snapshot.product_name = productName(rnd);
    d.updated_at = now;
    const g = send(e, "order.created", d, true);
    if (status === "refunded" || (status === "delivered" && rnd.chance(0.9))) retire(orders as Entity[], e);
    return g;
  }
  function cancelOrder(e: Entity<OrderDoc>): Generated {
    retire(orders as Entity[], e);
    return send(e, "order.cancelled", { order_number: e.doc.order_number }, false);
  }

  function createPost(): Generated {
    if (users.length === 0) return createUser();
    const u = rnd.pick(users);
    const id = objectId();
    const type = rnd.pick(["text", "text", "image", "image", "video", "link", "poll"]);
    const doc: PostDoc = {
      id,
      post_type: type,
      author: {
        user_id: u.id,
        display_name: u.doc.profile.display_name,
        avatar: u.doc.profile.avatar,
        author_type: rnd.chance(0.1) ? "leader" : "user",
      },
      text_content: postText(rnd),
      media: type === "image" || type === "video" ? media(rnd, type) : [],
      link_preview: type === "link" || rnd.chance(0.05) ? linkPreview(rnd) : null,
      stats: { view_count: 0, like_count: 0, comment_count: 0, share_count: 0, save_count: 0, engagement_rate: 0 },
      deleted_at: null,
      published_at: rnd.chance(0.5) ? docTime() : null,
      created_at: docTime(),
      updated_at: docTime(),
    };
    return send(admit("post", id, doc), "post.created", doc, true);
  }
  function changePost(e: Entity<PostDoc>): Generated {
    const d = clone(e.doc);
    d.updated_at = docTime();
    if (d.published_at == null && rnd.chance(0.4)) {
      d.published_at = d.updated_at;
      return send(e, "post.published", d, true);
    }
    const s = d.stats ?? {};
    const change = rnd.int(0, 9);
    if (change <= 4) {
      s.view_count = (s.view_count ?? 0) + rnd.int(1, 1000);
      s.like_count = (s.like_count ?? 0) + rnd.int(0, 50);
      s.share_count = (s.share_count ?? 0) + rnd.int(0, 3);
      s.save_count = (s.save_count ?? 0) + rnd.int(0, 3);
      const comments = rnd.int(0, 5);
      s.comment_count = (s.comment_count ?? 0) + comments;
      if (comments > 0) s.last_comment_at = d.updated_at;
      s.engagement_rate = Math.round(((s.like_count + s.comment_count) / s.view_count) * 1e6) / 1e4;
      d.stats = s;
    } else if (change <= 6) d.text_content = postText(rnd);
    else if (change === 7) d.link_preview = d.link_preview ? null : linkPreview(rnd);
    else if (change === 8) d.media = d.media.length > 0 ? d.media.slice(1) : media(rnd, "image");
    // Upstream may re-label the author; the sink keeps the author_type the post was created with.
    else d.author.author_type = d.author.author_type === "user" ? "leader" : "user";
    return send(e, "post.updated", d, true);
  }

  function remove_(kind: "user" | "post" | "supplier", e: Entity): Generated {
    retire(byKind[kind], e);
    const data = rnd.chance(0.9) ? { [`${kind}_id`]: e.id } : {};
    return send(e, `${kind}.deleted` as EventType, data, false);
  }
  /** A delete or cancel for something that never had a row: no change, counted (SPEC §9). */
  function orphan(): Generated {
    const kind = rnd.pick(["user", "supplier", "product", "order"] as const);
    const e: Entity = { kind, id: objectId(), doc: {} as Doc, micros: clock, live: false, slot: -1, n: 0 };
    if (kind !== "order") return send(e, `${kind}.deleted` as EventType, { [`${kind}_id`]: e.id }, false);
    return send(e, "order.cancelled", { order_number: `ORD-GONE-${rnd.hex(8)}` }, false);
  }

  const on =
    <D extends Doc>(pool: Entity<D>[], f: (e: Entity<D>) => Generated, otherwise: () => Generated) =>
    () =>
      pool.length > 0 ? f(rnd.pick(pool)) : otherwise();
  // Weights of the platform's own events: ≈ 8 events per entity, deletes and cancels rare.
  const ACTIONS: [number, () => Generated][] = [
    [1.5, createUser],
    [7, on(users, updateUser, createUser)],
    [0.4, on(users, (e) => remove_("user", e), createUser)],
    [0.4, createSupplier],
    [2.5, on(suppliers, updateSupplier, createSupplier)],
    [0.2, on(suppliers, (e) => remove_("supplier", e), createSupplier)],
    [2, createProduct],
    [20, on(products, changeProduct, createProduct)],
    [0.6, on(products, deleteProduct, createProduct)],
    [0.5, on(deletedProducts, restoreProduct, createProduct)],
    [2.5, createOrder],
    [12, on(orders, progressOrder, createOrder)],
    [1.2, on(orders, cancelOrder, createOrder)],
    [2, createPost],
    [9, on(posts, changePost, createPost)],
    [0.6, on(posts, (e) => remove_("post", e), createPost)],
    [0.3, orphan],
  ];
  const totalWeight = ACTIONS.reduce((n, [w]) => n + w, 0);
  function normal(): Generated {
    let r = rnd.next() * totalWeight;
    for (const [w, action] of ACTIONS) {
      r -= w;
      if (r < 0) return action();
    }
    return orphan();
  }

  /** Another change of the entity just written, in the same microsecond: equal timestamps apply in order. */
  function twin(): Generated | undefined {
    const e = lastNormal;
    if (!e?.live || e.last?.micros !== clock) return undefined;
    if (e.kind === "user") return updateUser(e as Entity<UserDoc>);
    if (e.kind === "supplier") return updateSupplier(e as Entity<SupplierDoc>);
    if (e.kind === "product") return changeProduct(e as Entity<ProductDoc>);
    if (e.kind === "order") return progressOrder(e as Entity<OrderDoc>);
    return changePost(e as Entity<PostDoc>);
  }
  function older(): Generated | undefined {
    for (let i = 0; i < 8; i++) {
      const pool = rnd.chance(0.3) ? graveyard : rnd.pick(pools);
      if (pool.length === 0) continue;
      const e = rnd.pick(pool);
      const old = [e.prev, e.last].find((s) => s !== undefined && s.micros < e.micros);
      if (old === undefined) continue;
      const value = { ...old.value, event_id: rnd.uuid() };
      const event = { topic: e.kind, key: e.id, value };
      return { topic: e.kind, key: e.id, value: Buffer.from(JSON.stringify(value)), event, resend: "older" };
    }
    return undefined;
  }
  function duplicate(): Generated | undefined {
    // A re-send of one of a same-microsecond pair would reorder it against its twin: not a no-op.
    for (let i = 0; i < 8 && ringSize > 0; i++) {
      const x = rnd.pick(ring);
      if (!x.twin) return { ...x.g, resend: "duplicate" };
    }
    return undefined;
  }
  function skip(): Generated | undefined {
    const live = pools.filter((p) => p.length > 0);
    if (live.length === 0) return undefined;
    const e = rnd.pick(rnd.pick(live));
    if (rnd.chance(0.5)) return { topic: e.kind, key: e.id, value: null, skip: "null_value" };
    const value = {
      ...emit("user.updated", e.id, e.doc as UserDoc, { timestamp: stamp(clock), eventId: rnd.uuid() }).value,
    };
    value.event_type = `${e.kind}.${rnd.pick(UNKNOWN_ACTIONS)}`;
    const event = { topic: e.kind, key: e.id, value };
    return { topic: e.kind, key: e.id, value: Buffer.from(JSON.stringify(value)), event, skip: "unknown_type" };
  }
  function poison(): Generated | undefined {
    const cls = SCHEDULE[poisonCount % SCHEDULE.length] as PoisonClass;
    const needsInts = cls === "non_integer" || cls === "int_out_of_range";
    const kinds = (Object.keys(byKind) as Kind[]).filter(
      (k) => byKind[k].length > 0 && (!needsInts || k !== "supplier"),
    );
    if (kinds.length === 0) return undefined;
    poisonCount++;
    const e = rnd.pick(byKind[rnd.pick(kinds)]);
    const env: Json = {
      event_type: "",
      event_id: rnd.uuid(),
      entity_id: e.id,
      timestamp: stamp(clock),
      data: clone(e.doc),
    };
    env.event_type = e.kind === "order" ? "order.created" : `${e.kind}.updated`;
    return { topic: e.kind, key: e.id, value: poisonBytes(rnd, cls, env, e.kind), poison: cls };
  }
  const remember = (g: Generated, twin: boolean) => {
    ring[ringSize++ % RING] = { g, twin };
    return g;
  };

  const duplicateAt = poisonRate;
  const olderAt = duplicateAt + MIX.duplicate;
  const skipAt = olderAt + MIX.older;
  const normalAt = skipAt + MIX.unknownType + MIX.nullValue;
  return () => {
    const r = rnd.next();
    if (r >= 1 - MIX.twin) {
      const t = twin();
      if (t !== undefined) {
        const first = ring[(ringSize - 1) % RING];
        if (first) first.twin = true;
        return remember(t, true);
      }
    }
    clock += BigInt(rnd.int(500, 5000));
    let g: Generated | undefined;
    if (r < duplicateAt) g = poison();
    else if (r < olderAt) g = duplicate();
    else if (r < skipAt) g = older();
    else if (r < normalAt) g = skip();
    return g ?? remember(normal(), false);
  };
}

/** Upstream documents carry fields the sink doesn't read: this keeps TypeScript's excess-property check off them. */
const loose = <T extends object>(o: T): T => o;

const NEXT_STATUS: Record<string, string> = {
  pending: "confirmed",
  confirmed: "processing",
  processing: "shipped",
  shipped: "delivered",
  delivered: "refunded",
};
const UNKNOWN_ACTIONS = ["merged", "reviewed", "archived", "flagged"];
