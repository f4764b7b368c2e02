import { hash } from "node:crypto";
import type { Generated } from "../../src/generate/stream.ts";
import { normaliseRows } from "../../test/support/compare.ts";
import { applyModel, emptyModel, type Model, type Row, type TableName } from "../../test/support/model.ts";

// The model of test/support/model.ts, applied as it is, but keeping its rows compact enough for a
// 10,000,000-event drain. Its maps are replaced by ones that hold each row as one short string:
// the normalised values of the few columns the model reads or changes on their own (SMALL), then
// a digest of all the other columns ("the body"), which an event only ever writes all together.
// A row the model asks for is decoded into an object holding those columns and the digest; the
// model changes it in place, as it would a full row; after each chunk of events every row it
// touched is encoded again (a body it rewrote gets a new digest). The check (check.ts) encodes
// each row MySQL holds the same way and compares the strings.

/** Per table: the key, the columns kept by the model (KEEP), and the ones set without the rest. */
export const SMALL: Readonly<Record<TableName, readonly string[]>> = {
  users: ["user_id", "created_at", "deleted_at", "event_id", "event_timestamp"],
  suppliers: ["supplier_id", "created_at", "event_id", "event_timestamp"],
  products: ["product_id", "supplier_id", "created_at", "event_id", "event_timestamp"],
  product_variants: ["product_id", "variant_key"],
  orders: ["order_id", "status", "updated_at", "event_id", "event_timestamp"],
  order_items: [
    "order_id",
    "item_id",
    "fulfillment_status",
    "shipped_quantity",
    "tracking_number",
    "carrier",
    "shipped_at",
    "delivered_at",
  ],
  posts: ["post_id", "author_user_id", "author_type", "created_at", "deleted_at", "event_id", "event_timestamp"],
};
const SMALL_SETS = Object.fromEntries(Object.entries(SMALL).map(([t, c]) => [t, new Set(c)])) as Record<
  TableName,
  Set<string>
>;
/** 96 bits of SHA-1: a changed body goes unnoticed with odds of 2^-96. */
const DIGEST_CHARS = 16;
const BODY = Symbol("body digest");
type Held = Row & { [BODY]?: string };

const digest = (text: string) => hash("sha1", text, "base64").slice(0, DIGEST_CHARS);

/** A normalised row (every column, as normaliseRows gives it) as the compact model holds it. */
export function encodeRow(table: TableName, row: Row): string {
  const small = SMALL_SETS[table];
  const body: Row = {};
  for (const column of Object.keys(row)) if (!small.has(column)) body[column] = row[column];
  return encodeParts(table, row, digest(JSON.stringify(body)));
}

function encodeParts(table: TableName, row: Row, bodyDigest: string): string {
  const values = SMALL[table].map((c) => {
    if (!(c in row)) throw new Error(`compact model: ${table} row without ${c}`);
    return row[c];
  });
  values.push(bodyDigest);
  return JSON.stringify(values);
}

/** The row the model works on: the small columns' values and, out of sight, the body's digest. */
export function decodeRow(table: TableName, encoded: string): Held {
  const values = JSON.parse(encoded) as unknown[];
  const row: Held = {};
  SMALL[table].forEach((c, i) => {
    row[c] = values[i];
  });
  row[BODY] = values[values.length - 1] as string;
  return row;
}

/** The small columns that differ between two encoded rows, or "other columns" when the digests do. */
export function differingColumns(table: TableName, expected: string, found: string): string[] {
  const [e, f] = [JSON.parse(expected) as unknown[], JSON.parse(found) as unknown[]];
  const out = SMALL[table].filter((_, i) => JSON.stringify(e[i]) !== JSON.stringify(f[i]));
  if (e[e.length - 1] !== f[f.length - 1]) out.push("(other columns)");
  return out;
}

/** Encodes a row the model may have changed: a rewritten body must be complete. */
class Encoder {
  readonly #bodies = new Map<TableName, number>();

  encode(table: TableName, held: Held): string {
    const row = normaliseRows(table, [held])[0] as Row;
    const small = SMALL_SETS[table];
    const bodyColumns = Object.keys(row).filter((c) => !small.has(c));
    if (bodyColumns.length === 0) {
      const kept = held[BODY];
      if (kept === undefined) throw new Error(`compact model: a ${table} row without columns`);
      return encodeParts(table, row, kept);
    }
    const known = this.#bodies.get(table) ?? bodyColumns.length;
    if (bodyColumns.length !== known) {
      // The model changed part of a body this model no longer holds: it can't be digested.
      throw new Error(`compact model: ${table} row with ${bodyColumns.length} of its ${known} other columns`);
    }
    this.#bodies.set(table, known);
    return encodeRow(table, row);
  }
}

const unsupported = (what: string): never => {
  throw new Error(`compact model: the model used ${what}, which the compact maps do not offer`);
};

/** id → row; rows handed to the model stay in the base Map until flush() encodes them. */
export class CompactRows extends Map<string, Row> {
  readonly stored = new Map<string, string>();
  readonly table: TableName;
  readonly encoder: Encoder;
  constructor(table: TableName, encoder: Encoder) {
    super();
    this.table = table;
    this.encoder = encoder;
  }
  override get(id: string): Row | undefined {
    let row = super.get(id);
    if (row === undefined) {
      const encoded = this.stored.get(id);
      if (encoded === undefined) return undefined;
      row = decodeRow(this.table, encoded);
      super.set(id, row);
    }
    return row;
  }
  override has(id: string): boolean {
    return super.has(id) || this.stored.has(id);
  }
  override delete(id: string): boolean {
    const held = super.delete(id);
    return this.stored.delete(id) || held;
  }
  flush(): void {
    for (const [id, row] of super.entries()) this.stored.set(id, this.encoder.encode(this.table, row));
    super.clear();
  }
  override keys(): MapIterator<string> {
    return unsupported("keys()");
  }
  override values(): MapIterator<Row> {
    return unsupported("values()");
  }
  override entries(): MapIterator<[string, Row]> {
    return unsupported("entries()");
  }
  override forEach(_callback: (row: Row, id: string, map: Map<string, Row>) => void): void {
    unsupported("forEach()");
  }
}

/** parent id → (child key → row), each parent's rows stored as their encodings, one a line. */
export class CompactChildren extends Map<string, Map<string, Row>> {
  readonly stored = new Map<string, string>();
  readonly table: TableName;
  readonly childKey: string;
  readonly encoder: Encoder;
  constructor(table: TableName, childKey: string, encoder: Encoder) {
    super();
    this.table = table;
    this.childKey = childKey;
    this.encoder = encoder;
  }
  override get(id: string): Map<string, Row> | undefined {
    let children = super.get(id);
    if (children === undefined) {
      const encoded = this.stored.get(id);
      if (encoded === undefined) return undefined;
      children = new Map();
      for (const line of encoded === "" ? [] : encoded.split("\n")) {
        const row = decodeRow(this.table, line);
        children.set(row[this.childKey] as string, row);
      }
      super.set(id, children);
    }
    return children;
  }
  override has(id: string): boolean {
    return super.has(id) || this.stored.has(id);
  }
  override delete(id: string): boolean {
    const held = super.delete(id);
    return this.stored.delete(id) || held;
  }
  flush(): void {
    for (const [id, children] of super.entries()) {
      this.stored.set(id, [...children.values()].map((r) => this.encoder.encode(this.table, r)).join("\n"));
    }
    super.clear();
  }
  override keys(): MapIterator<string> {
    return unsupported("keys()");
  }
  override values(): MapIterator<Map<string, Row>> {
    return unsupported("values()");
  }
  override entries(): MapIterator<[string, Map<string, Row>]> {
    return unsupported("entries()");
  }
  override forEach(_callback: (rows: Map<string, Row>, id: string, map: Map<string, Map<string, Row>>) => void): void {
    unsupported("forEach()");
  }
}

export interface CompactModel {
  readonly model: Model;
  readonly parents: Record<"users" | "suppliers" | "products" | "orders" | "posts", CompactRows>;
  readonly variants: CompactChildren;
  readonly items: CompactChildren;
  /** Applies a chunk of the stream in order and encodes every row it touched. */
  apply(chunk: Iterable<Generated>): void;
  /** Rows per table in the final state. */
  rows(): Record<TableName, number>;
}

export function compactModel(): CompactModel {
  const encoder = new Encoder();
  const parents = {
    users: new CompactRows("users", encoder),
    suppliers: new CompactRows("suppliers", encoder),
    products: new CompactRows("products", encoder),
    orders: new CompactRows("orders", encoder),
    posts: new CompactRows("posts", encoder),
  };
  const variants = new CompactChildren("product_variants", "variant_key", encoder);
  const items = new CompactChildren("order_items", "item_id", encoder);
  const model: Model = { ...emptyModel(), parents, variants, items };
  const lines = (c: CompactChildren) => {
    let n = 0;
    for (const s of c.stored.values()) if (s !== "") n += s.split("\n").length;
    return n;
  };
  return {
    model,
    parents,
    variants,
    items,
    apply(chunk) {
      applyModel(chunk, model);
      for (const rows of Object.values(parents)) rows.flush();
      variants.flush();
      items.flush();
    },
    rows: () => ({
      users: parents.users.stored.size,
      suppliers: parents.suppliers.stored.size,
      products: parents.products.stored.size,
      product_variants: lines(variants),
      orders: parents.orders.stored.size,
      order_items: lines(items),
      posts: parents.posts.stored.size,
    }),
  };
}
