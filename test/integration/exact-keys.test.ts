import assert from "node:assert/strict";
import { test } from "node:test";
import { type EmittedEvent, emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  caughtUp,
  hexId,
  produce,
  testConfig,
  testDatabase,
  testProducer,
  testService,
  testTopics,
  topicSize,
  waitFor,
} from "../support/helpers.ts";

// docs/events.md#bad-input: keys compare exactly. Order numbers, item ids, variant keys and ids that differ only
// in a trailing space or in case are different rows, through the real broker and the service:
// each keeps its own columns, and an event for one never touches the other.

const at = (minute: number) => `2026-03-01T10:${String(minute).padStart(2, "0")}:00.000001+00:00`;
const ORDER_A = hexId(1, "e0");
const ORDER_B = hexId(2, "e0");
const PRODUCT = hexId(3, "e0");
const USER = hexId(4, "e0ab");
const USER_UPPER = USER.toUpperCase();

function order(id: string, orderNumber: string, status: string, itemIds: string[]): EmittedEvent {
  const data = structuredClone(fixture("order.created").value.data) as Record<string, unknown>;
  const [item] = data.items as Record<string, unknown>[];
  data.id = id;
  data.order_number = orderNumber;
  data.status = status;
  data.items = itemIds.map((itemId, i) => ({ ...item, item_id: itemId, quantity: i + 1 }));
  return emit("order.created", id, data as never, { timestamp: at(1) });
}

function product(variants: Record<string, number>, minute: number): EmittedEvent {
  const data = structuredClone(fixture("product.created").value.data) as Record<string, unknown>;
  const [template] = Object.values(data.variants as Record<string, Record<string, unknown>>);
  data.id = PRODUCT;
  data.variants = Object.fromEntries(
    Object.entries(variants).map(([key, price]) => [
      key,
      { ...template, variant_id: `v[${key}]`, variant_name: `variant ${JSON.stringify(key)}`, price_cents: price },
    ]),
  );
  return emit(minute === 1 ? "product.created" : "product.updated", PRODUCT, data as never, {
    timestamp: at(minute),
  });
}

function user(id: string, name: string): EmittedEvent {
  const data = structuredClone(fixture("user.created").value.data) as Record<string, unknown>;
  data.id = id;
  data.profile = { ...(data.profile as object), display_name: name };
  return emit("user.created", id, data as never, { timestamp: at(1) });
}

test("ids, order numbers, item ids and variant keys differing in a trailing space or case are other rows", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const config = testConfig(db, topics);
  const producer = await testProducer(t);
  await testService(t, config);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  const settled = (what: string) => waitFor(what, () => caughtUp(config.kafkaGroupId, sources));

  await produce(producer, topics.prefix, [
    order(ORDER_A, "ORD-86", "pending", ["item-1", "item-1 ", "ITEM-1"]),
    order(ORDER_B, "ORD-86 ", "confirmed", ["item-1"]),
    product({ S: 1000, "S ": 2000, s: 3000 }, 1),
    user(USER, "lower"),
    user(USER_UPPER, "UPPER"),
  ]);
  await settled("the first events");

  const orders = () => db.query("SELECT order_id, order_number, status, event_timestamp FROM orders ORDER BY order_id");
  assert.deepEqual(await orders(), [
    { order_id: ORDER_A, order_number: "ORD-86", status: "pending", event_timestamp: "2026-03-01 10:01:00.000001" },
    { order_id: ORDER_B, order_number: "ORD-86 ", status: "confirmed", event_timestamp: "2026-03-01 10:01:00.000001" },
  ]);
  assert.deepEqual(await db.query("SELECT order_id, item_id, quantity FROM order_items ORDER BY order_id, quantity"), [
    { order_id: ORDER_A, item_id: "item-1", quantity: 1 },
    { order_id: ORDER_A, item_id: "item-1 ", quantity: 2 },
    { order_id: ORDER_A, item_id: "ITEM-1", quantity: 3 },
    { order_id: ORDER_B, item_id: "item-1", quantity: 1 },
  ]);
  const variants = () =>
    db.query<{ id: number; variant_key: string; price_cents: number }>(
      "SELECT id, variant_key, price_cents FROM product_variants ORDER BY price_cents",
    );
  const before = await variants();
  assert.deepEqual(
    before.map(({ variant_key, price_cents }) => ({ variant_key, price_cents })),
    [
      { variant_key: "S", price_cents: 1000 },
      { variant_key: "S ", price_cents: 2000 },
      { variant_key: "s", price_cents: 3000 },
    ],
  );
  const users = () => db.query("SELECT user_id, display_name, deleted_at FROM users ORDER BY user_id");
  assert.deepEqual(await users(), [
    { user_id: USER_UPPER, display_name: "UPPER", deleted_at: null },
    { user_id: USER, display_name: "lower", deleted_at: null },
  ]);

  // Each event touches only its own spelling; a cancel for a number no order has changes nothing.
  await produce(producer, topics.prefix, [
    emit("order.cancelled", ORDER_B, { order_number: "ORD-86 " }, { timestamp: at(2) }),
    emit("order.cancelled", ORDER_A, { order_number: "ord-86" }, { timestamp: at(3) }),
    product({ "S ": 2500 }, 2),
    emit("user.deleted", USER_UPPER, { user_id: USER_UPPER } as never, { timestamp: at(2) }),
  ]);
  await settled("the second events");

  assert.deepEqual(await orders(), [
    { order_id: ORDER_A, order_number: "ORD-86", status: "pending", event_timestamp: "2026-03-01 10:01:00.000001" },
    { order_id: ORDER_B, order_number: "ORD-86 ", status: "cancelled", event_timestamp: "2026-03-01 10:02:00.000001" },
  ]);
  // Replace mode kept exactly "S " (updated in place, same row id); "S" and "s" are gone.
  const spaced = before.find((v) => v.variant_key === "S ");
  assert.deepEqual(await variants(), [{ id: spaced?.id, variant_key: "S ", price_cents: 2500 }]);
  assert.deepEqual(await users(), [
    { user_id: USER_UPPER, display_name: "UPPER", deleted_at: "2026-03-01 10:02:00.000001" },
    { user_id: USER, display_name: "lower", deleted_at: null },
  ]);
  assert.equal(await topicSize(topics.dlq), 0, "nothing was dead-lettered");
});
