import type { ParsedEvent } from "../../src/decode/envelope.ts";
import { toUtcDatetime6 } from "../../src/decode/timestamp.ts";
import type { FlattenLimits } from "../../src/domains/domain.ts";
import { flattenOrder } from "../../src/domains/orders/flatten.ts";
import { flattenPost } from "../../src/domains/posts/flatten.ts";
import { flattenProduct } from "../../src/domains/products/flatten.ts";
import { flattenSupplier } from "../../src/domains/suppliers/flatten.ts";
import { flattenUser } from "../../src/domains/users/flatten.ts";
import type { Generated } from "../../src/generate/stream.ts";
import { LIMITS } from "../../src/testing/domain-helpers.ts";

// An independent, in-memory reading of docs/events.md#what-each-event-does (what each event does) and docs/guarantees.md (never
// backwards), applied to a generated stream in order. It shares nothing with the sink's planner
// (src/write/): the benchmark compares what MySQL holds with these rows. Column values for one
// event come from the domains' flatten steps, which are unit-tested against docs/events.md#documents-and-tables on their
// own (src/domains/*/flatten.test.ts); which rows and columns an event may change is decided
// here. Poison and skipped messages are recognised by the generator's marks.

export type Row = Record<string, unknown>;

export const TABLES = ["users", "suppliers", "products", "product_variants", "orders", "order_items", "posts"] as const;
export type TableName = (typeof TABLES)[number];
type Parent = "users" | "suppliers" | "products" | "orders" | "posts";

export interface Model {
  parents: Record<Parent, Map<string, Row>>;
  /** product_id → variant_key → row. */
  variants: Map<string, Map<string, Row>>;
  /** order_id → item_id → row. */
  items: Map<string, Map<string, Row>>;
  /** "table id" → newest hard-delete timestamp, whether or not a row was there. */
  tombstones: Map<string, string>;
  /** order_number → order_id. */
  orderNumbers: Map<string, string>;
  /** What happened to each message, for reports and tests. */
  counts: Record<"applied" | "stale" | "no_row" | "poison" | "skipped", number>;
}

/** docs/events.md#what-each-event-does: the columns an upsert never changes on an existing row. */
const KEEP: Record<Parent, readonly string[]> = {
  users: ["user_id", "created_at"],
  suppliers: ["supplier_id", "created_at"],
  products: ["product_id", "supplier_id", "created_at"],
  orders: [], // orders list what does change instead
  posts: ["post_id", "author_user_id", "author_type", "created_at"],
};
const ORDER_CHANGES = ["status", "updated_at", "event_id", "event_timestamp"];
const ITEM_CHANGES = [
  "fulfillment_status",
  "shipped_quantity",
  "tracking_number",
  "carrier",
  "shipped_at",
  "delivered_at",
];
/** JSON columns come back from mysql2 parsed: the model holds them parsed too. */
const JSON_COLUMNS = ["attributes_json", "variant_attributes_json", "media_json"];

type Flatten = (
  e: ParsedEvent,
  unknownEnums: never[],
  limits: FlattenLimits,
) => { row: Row; children?: { rows: Row[] } };
const UPSERTS: Record<string, [Parent, Flatten]> = {
  "user.created": ["users", flattenUser],
  "user.updated": ["users", flattenUser],
  "supplier.created": ["suppliers", flattenSupplier],
  "supplier.updated": ["suppliers", flattenSupplier],
  "order.created": ["orders", flattenOrder],
  "post.created": ["posts", flattenPost],
  "post.updated": ["posts", flattenPost],
  "post.published": ["posts", flattenPost],
};
for (const action of ["created", "updated", "published", "discontinued", "out_of_stock", "restored"]) {
  UPSERTS[`product.${action}`] = ["products", flattenProduct];
}
const SOFT_DELETES: Record<string, [Parent, string]> = {
  "user.deleted": ["users", "user_id"],
  "post.deleted": ["posts", "post_id"],
};
const HARD_DELETES: Record<string, [Parent, string]> = {
  "supplier.deleted": ["suppliers", "supplier_id"],
  "product.deleted": ["products", "product_id"],
};

export function emptyModel(): Model {
  return {
    parents: { users: new Map(), suppliers: new Map(), products: new Map(), orders: new Map(), posts: new Map() },
    variants: new Map(),
    items: new Map(),
    tombstones: new Map(),
    orderNumbers: new Map(),
    counts: { applied: 0, stale: 0, no_row: 0, poison: 0, skipped: 0 },
  };
}

export function applyModel(generated: Iterable<Generated>, model: Model = emptyModel()): Model {
  for (const g of generated) applyOne(model, g);
  return model;
}

function applyOne(m: Model, g: Generated): void {
  if (g.poison !== undefined) {
    m.counts.poison++;
    return;
  }
  if (g.value === null || g.skip !== undefined) {
    m.counts.skipped++;
    return;
  }
  // The bytes are the truth (not g.event): they are what the sink receives.
  const v = JSON.parse(g.value.toString("utf8")) as Record<string, unknown>;
  const ts = toUtcDatetime6(v.timestamp as string);
  if (ts === null) throw new Error(`model: unparseable timestamp in a non-poison event: ${v.timestamp}`);
  const e: ParsedEvent = {
    type: v.event_type as string,
    eventId: v.event_id as string,
    entityId: v.entity_id as string,
    ts,
    data: v.data as Record<string, unknown>,
  };
  const outcome = dispatch(m, e);
  m.counts[outcome]++;
}

type Outcome = "applied" | "stale" | "no_row" | "skipped";

function dispatch(m: Model, e: ParsedEvent): Outcome {
  const upsert = UPSERTS[e.type];
  if (upsert) {
    const [table, flatten] = upsert;
    const op = flatten(e, [], LIMITS);
    return applyUpsert(m, table, e.entityId, parseJson(op.row), (op.children?.rows ?? []).map(parseJson), e.ts);
  }
  const soft = SOFT_DELETES[e.type];
  if (soft) {
    const id = (e.data[soft[1]] as string | null | undefined) ?? e.entityId;
    return patch(m, soft[0], id, e, { deleted_at: e.ts });
  }
  const hard = HARD_DELETES[e.type];
  if (hard) return hardDelete(m, hard[0], (e.data[hard[1]] as string | null | undefined) ?? e.entityId, e.ts);
  if (e.type === "order.cancelled") {
    const id = m.orderNumbers.get(e.data.order_number as string);
    return id === undefined ? "no_row" : patch(m, "orders", id, e, { status: "cancelled" });
  }
  return "skipped"; // an event type outside the catalogue
}

const parseJson = (row: Row): Row => {
  const out = { ...row };
  for (const c of JSON_COLUMNS) if (typeof out[c] === "string") out[c] = JSON.parse(out[c] as string);
  return out;
};
const tombstoneKey = (table: Parent, id: string) => `${table} ${id}`;

function applyUpsert(m: Model, table: Parent, id: string, row: Row, children: Row[], ts: string): Outcome {
  const rows = m.parents[table];
  const existing = rows.get(id);
  if (existing) {
    if (ts < (existing.event_timestamp as string)) return "stale";
    const columns = table === "orders" ? ORDER_CHANGES : Object.keys(row).filter((c) => !KEEP[table].includes(c));
    for (const c of columns) existing[c] = row[c];
  } else {
    const tombstone = m.tombstones.get(tombstoneKey(table, id));
    if (tombstone !== undefined && ts < tombstone) return "stale";
    rows.set(id, row);
    if (table === "orders") {
      const number = row.order_number as string;
      const owner = m.orderNumbers.get(number);
      if (owner !== undefined && owner !== id) throw new Error(`model: order_number ${number} on two orders`);
      m.orderNumbers.set(number, id);
    }
  }
  if (table === "products") {
    // Exactly the document's variants: an empty object removes them all.
    m.variants.set(id, new Map(children.map((v) => [v.variant_key as string, v])));
  } else if (table === "orders") {
    // New items are inserted; on existing ones only fulfilment moves.
    const items = m.items.get(id) ?? new Map<string, Row>();
    m.items.set(id, items);
    for (const item of children) {
      const old = items.get(item.item_id as string);
      if (old) for (const c of ITEM_CHANGES) old[c] = item[c];
      else items.set(item.item_id as string, item);
    }
  }
  return "applied";
}

/** Soft delete and cancel: only an existing row, only when the event is not older than it. */
function patch(m: Model, table: Parent, id: string, e: ParsedEvent, set: Row): Outcome {
  const row = m.parents[table].get(id);
  if (!row) return "no_row";
  if (e.ts < (row.event_timestamp as string)) return "stale";
  Object.assign(row, set, { event_id: e.eventId, event_timestamp: e.ts });
  return "applied";
}

function hardDelete(m: Model, table: Parent, id: string, ts: string): Outcome {
  const row = m.parents[table].get(id);
  if (row && ts < (row.event_timestamp as string)) return "stale";
  const key = tombstoneKey(table, id);
  const previous = m.tombstones.get(key);
  if (previous === undefined || ts > previous) m.tombstones.set(key, ts);
  if (!row) return "no_row";
  m.parents[table].delete(id);
  if (table === "products") m.variants.delete(id); // ON DELETE CASCADE
  return "applied";
}

/** Every table as `SELECT *` returns it through mysql2 with dateStrings (no surrogate ids), sorted by key. */
export function modelRows(model: Model): Record<TableName, Row[]> {
  const sorted = (rows: Iterable<Row>, key: string[]) =>
    [...rows]
      .map((r) => structuredClone(r))
      .sort((a, b) => {
        const ka = key.map((k) => a[k]).join("\u0000");
        const kb = key.map((k) => b[k]).join("\u0000");
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
  const children = (map: Map<string, Map<string, Row>>) => [...map.values()].flatMap((c) => [...c.values()]);
  const p = model.parents;
  return {
    users: sorted(p.users.values(), ["user_id"]),
    suppliers: sorted(p.suppliers.values(), ["supplier_id"]),
    products: sorted(p.products.values(), ["product_id"]),
    product_variants: sorted(children(model.variants), ["product_id", "variant_key"]),
    orders: sorted(p.orders.values(), ["order_id"]),
    order_items: sorted(children(model.items), ["order_id", "item_id"]),
    posts: sorted(p.posts.values(), ["post_id"]),
  };
}
