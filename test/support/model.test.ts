import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Connection } from "mysql2/promise";
import { type EventType, emit } from "../../src/generate/emit.ts";
import { type Generated, generateStream } from "../../src/generate/stream.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { compareTables, type Queryable } from "./compare.ts";
import { applyModel, modelRows, type Row } from "./model.ts";

// The model on small hand-made streams (each rule of docs/events.md once), on a generated stream
// (what the generator promises about re-sends and poison), and compareTables on fake servers.

// mysql2's promise connection is what the benchmark passes to compareTables: checked by tsc.
const _fits = (c: Connection): Queryable => c;
void _fits;

type Doc = Record<string, unknown>;
const ids = {
  user: "65a1f0c2e4b0a1b2c3d4e5f6",
  supplier: "65a1f0c2e4b0a1b2c3d4e5f7",
  product: "65a1f0c2e4b0a1b2c3d4e5f8",
  order: "65a1f0c2e4b0a1b2c3d4e5f9",
  post: "65a1f0c2e4b0a1b2c3d4e5fa",
};
const at = (second: number) => `2026-03-01T00:00:${String(second).padStart(2, "0")}.000001+00:00`;
const dbAt = (second: number) => `2026-03-01 00:00:${String(second).padStart(2, "0")}.000001`;
/** The fixture document of `type`, with top-level fields replaced. */
const doc = (type: string, fields: Doc = {}): Doc => ({
  ...(structuredClone(fixture(type).value.data) as Doc),
  ...fields,
});
let serial = 0;
function event(type: EventType, data: Doc, second: number, id?: string): Generated {
  const entity = id ?? ids[type.split(".")[0] as keyof typeof ids];
  const eventId = `00000000-0000-4000-8000-${String(++serial).padStart(12, "0")}`;
  const e = emit(type, entity, data as never, { timestamp: at(second), eventId });
  return { topic: e.topic, key: e.key, value: Buffer.from(JSON.stringify(e.value)), event: e };
}
const rows = (stream: Generated[]) => modelRows(applyModel(stream));
const smallWhite = () => (doc("product.created").variants as Record<string, Doc>)["small-white"] as Doc;

describe("model: docs/events.md", () => {
  test("an older event changes nothing; an equal one applies", () => {
    const r = rows([
      event("user.created", doc("user.created", { version: 1 }), 20),
      event("user.updated", doc("user.updated", { version: 2 }), 10),
    ]);
    assert.equal(r.users[0]?.version, 1);
    assert.equal(r.users[0]?.event_timestamp, dbAt(20));
    const equal = rows([
      event("user.created", doc("user.created", { version: 1 }), 20),
      event("user.updated", doc("user.updated", { version: 3 }), 20),
    ]);
    assert.equal(equal.users[0]?.version, 3);
  });

  test("an upsert keeps the columns docs/events.md#what-each-event-does keeps", () => {
    const later = { created_at: "2030-01-01T00:00:00+00:00", supplier_id: "0123456789abcdef01234567" };
    const r = rows([
      event("product.created", doc("product.created"), 1),
      event("product.updated", doc("product.updated", { ...later, name: "Renamed" }), 2),
      event("post.created", doc("post.created"), 1),
      event(
        "post.updated",
        {
          ...doc("post.updated"),
          author: { ...(doc("post.updated").author as Doc), author_type: "leader", user_id: later.supplier_id },
        },
        2,
      ),
    ]);
    assert.equal(r.products[0]?.name, "Renamed");
    assert.equal(r.products[0]?.supplier_id, ids.supplier);
    assert.equal(r.products[0]?.created_at, "2026-02-11 09:45:00.000000");
    assert.equal(r.posts[0]?.author_type, "user");
    assert.equal(r.posts[0]?.author_user_id, ids.user);
    assert.equal(r.posts[0]?.text_content, "New glaze test, round two");
  });

  test("a hard delete leaves a tombstone: it blocks an older create, a newer restore brings the row back", () => {
    const deleted = [
      event("product.deleted", { product_id: ids.product }, 20),
      event("product.created", doc("product.created"), 10),
    ];
    assert.equal(rows(deleted).products.length, 0);
    assert.equal(rows(deleted).product_variants.length, 0);
    const restored = rows([...deleted, event("product.restored", doc("product.created"), 30)]);
    assert.equal(restored.products[0]?.event_timestamp, dbAt(30));
    assert.deepEqual(
      restored.product_variants.map((v) => v.variant_key),
      ["large-blue", "small-white"],
    );
    // At the tombstone's own timestamp it applies (equal timestamps apply).
    assert.equal(rows([...deleted, event("product.restored", doc("product.created"), 20)]).products.length, 1);
  });

  test("a delete older than the row changes nothing; a newer one removes the row and its variants", () => {
    const created = event("product.created", doc("product.created"), 10);
    assert.equal(rows([created, event("product.deleted", {}, 5)]).products.length, 1);
    const r = rows([created, event("product.deleted", {}, 15), event("product.updated", doc("product.updated"), 12)]);
    assert.equal(r.products.length, 0);
    assert.equal(r.product_variants.length, 0);
  });

  test("order.cancelled finds the order by order_number; items untouched; unknown or older does nothing", () => {
    const created = event("order.created", doc("order.created"), 10);
    const cancel = event("order.cancelled", { order_number: "ORD-20260211-A7K2" }, 20);
    const r = rows([created, cancel]);
    assert.equal(r.orders[0]?.status, "cancelled");
    assert.equal(r.orders[0]?.event_id, cancel.event?.value.event_id);
    assert.equal(r.orders[0]?.event_timestamp, dbAt(20));
    assert.equal(r.order_items[0]?.fulfillment_status, "pending");
    const model = applyModel([created, event("order.cancelled", { order_number: "ORD-NONE" }, 20)]);
    assert.equal(modelRows(model).orders[0]?.status, "pending");
    assert.equal(model.counts.no_row, 1);
    assert.equal(
      rows([created, event("order.cancelled", { order_number: "ORD-20260211-A7K2" }, 5)]).orders[0]?.status,
      "pending",
    );
  });

  test("a product upsert replaces the variants with exactly the document's", () => {
    const base = doc("product.created");
    const one = { "xl-red": { ...smallWhite(), variant_id: "v-009" } };
    const r = rows([event("product.created", base, 1), event("product.updated", { ...base, variants: one }, 2)]);
    assert.deepEqual(
      r.product_variants.map((v) => [v.variant_key, v.variant_id]),
      [["xl-red", "v-009"]],
    );
    const none = rows([event("product.created", base, 1), event("product.updated", { ...base, variants: {} }, 2)]);
    assert.equal(none.product_variants.length, 0);
  });

  test("an order re-sent merges items: new ones inserted, existing ones change only fulfilment", () => {
    const first = doc("order.created");
    const item = (first.items as Doc[])[0] as Doc;
    const shipped = {
      ...item,
      fulfillment_status: "shipped",
      shipped_quantity: 2,
      tracking_number: "1Z999",
      carrier: "UPS",
      shipped_at: at(15),
      product_snapshot: { ...(item.product_snapshot as Doc), product_name: "Renamed" },
    };
    const second = {
      ...first,
      status: "shipped",
      customer: { ...(first.customer as Doc), email: "new@example.com" },
      items: [shipped, { ...item, item_id: "item-2", quantity: 1 }],
    };
    const r = rows([event("order.created", first, 10), event("order.created", second, 20)]);
    assert.equal(r.orders[0]?.status, "shipped");
    assert.equal(r.orders[0]?.customer_email, "noa.levi@example.com");
    assert.deepEqual(
      r.order_items.map((i) => [
        i.item_id,
        i.fulfillment_status,
        i.tracking_number,
        i.shipped_at,
        i.product_name,
        i.quantity,
      ]),
      [
        ["item-1", "shipped", "1Z999", dbAt(15), "Handmade Ceramic Mug", 2],
        ["item-2", "pending", null, null, "Handmade Ceramic Mug", 1],
      ],
    );
  });

  test("a soft delete stamps deleted_at with the event's timestamp, only on an existing row", () => {
    const created = event("user.created", doc("user.created"), 10);
    const r = rows([created, event("user.deleted", { user_id: ids.user }, 20), event("user.deleted", {}, 15)]);
    assert.equal(r.users[0]?.deleted_at, dbAt(20));
    assert.equal(r.users[0]?.event_timestamp, dbAt(20));
    assert.equal(rows([event("user.deleted", {}, 20)]).users.length, 0);
  });

  test("rows are shaped as mysql2 returns them: JSON parsed, DATETIME(6) text, no surrogate id", () => {
    const r = rows([
      event("product.created", doc("product.created"), 1),
      event("post.created", doc("post.created"), 1),
    ]);
    assert.ok(Array.isArray(r.product_variants[0]?.attributes_json));
    assert.ok(Array.isArray(r.posts[0]?.media_json));
    assert.equal("id" in (r.product_variants[0] as Row), false);
    assert.match(String(r.products[0]?.created_at), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
  });
});

describe("model on a generated stream", () => {
  const stream = generateStream({ seed: 11, events: 8000, poisonRate: 0.02 });
  const full = rows(stream);

  test("fills every table and sees stale events", () => {
    for (const [table, list] of Object.entries(full)) assert.ok(list.length > 0, table);
    assert.ok(applyModel(stream).counts.stale > 100);
  });

  test("poison and skipped messages change nothing", () => {
    assert.deepEqual(rows(stream.filter((g) => !g.poison && !g.skip)), full);
  });

  test("duplicates and older re-sends change nothing", () => {
    assert.deepEqual(rows(stream.filter((g) => !g.resend)), full);
  });
});

describe("compareTables", () => {
  /** A fake server: JSON columns as text (as MariaDB sends them), keys reordered, surrogate ids added. */
  function server(tables: Record<string, Row[]>): Queryable {
    return {
      async query(sql: string) {
        const table = /FROM `(\w+)`/.exec(sql)?.[1] ?? "";
        const out = (tables[table] ?? []).map((row, i) => {
          const text = Object.entries(row).map(([k, v]) => [
            k,
            k.endsWith("_json") && v !== null ? JSON.stringify(v) : v,
          ]);
          const surrogate = table === "product_variants" || table === "order_items" ? [["id", i + 1]] : [];
          return Object.fromEntries([...surrogate, ...text.reverse()]);
        });
        return [out.reverse(), []];
      },
    };
  }

  test("equal tables compare equal", async () => {
    const { equal, report } = await compareTables(server(full()), full());
    assert.equal(equal, true, report);
    assert.match(report, /^product_variants: 1 rows, sha256 [0-9a-f]{16}, equal$/m);
  });

  test("a difference is reported as missing rows, extra rows and changed columns", async () => {
    const actual = full();
    const user = actual.users?.[0] as Row;
    actual.users = [
      { ...user, bio: "changed" },
      { ...user, user_id: "ffffffffffffffffffffffff" },
    ];
    actual.product_variants = [];
    const { equal, report } = await compareTables(server(actual), full());
    assert.equal(equal, false);
    assert.match(report, /^users: DIFFERENT: expected 1 rows .*found 2/m);
    assert.match(report, /~ 65a1f0c2e4b0a1b2c3d4e5f6 bio: expected "Ceramics, coffee, Haifa\.", found "changed"/);
    assert.match(report, /\+ extra ffffffffffffffffffffffff: /);
    assert.match(report, /- missing 65a1f0c2e4b0a1b2c3d4e5f8\/small-white: /);
    assert.match(report, /^posts: 1 rows, .*equal$/m);
  });

  test("the diff is capped", async () => {
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ user_id: String(i).padStart(24, "0"), bio: "x" }));
    const { report } = await compareTables(server({ users: many(50) }), { users: [] });
    assert.equal(report.split("\n").filter((l) => l.startsWith("  + extra")).length, 20);
    assert.match(report, /\.\.\. and 30 more differences/);
  });

  test("a connection without dateStrings is refused rather than compared loosely", async () => {
    const conn = server({ users: [{ user_id: "a", created_at: new Date() }] });
    await assert.rejects(compareTables(conn, {}), /dateStrings/);
  });

  const FULL = rows([
    event("user.created", doc("user.created"), 1),
    event("product.created", { ...doc("product.created"), variants: { "small-white": smallWhite() } }, 1),
    event("post.created", doc("post.created"), 1),
  ]);
  function full(): Record<string, Row[]> {
    return structuredClone(FULL);
  }
});
