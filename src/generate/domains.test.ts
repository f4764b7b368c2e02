import assert from "node:assert/strict";
import { test } from "node:test";
import { cancelOrder, createOrder, NEXT_STATUS, progressOrder } from "./orders.ts";
import { normal, twin } from "./platform.ts";
import { createPost } from "./posts.ts";
import { createProduct, deleteProduct, restoreProduct } from "./products.ts";
import { createState, type Entity, type OrderDoc, type State, tick } from "./state.ts";

const START = 1_767_225_600_000_000n;
const typeOf = (g: { event?: { value: { event_type: string } } }) => g.event?.value.event_type;

test("an entity that needs another first makes that one: product → supplier, order → user, post → user", () => {
  const s = createState(1, 1000, START);
  assert.equal(typeOf(createProduct(s)), "supplier.created");
  assert.equal(typeOf(createPost(s)), "user.created");
  assert.equal(typeOf(createOrder(s)), "product.created", "users exist now, products don't");
  assert.equal(typeOf(createOrder(s)), "order.created");
});

test("an order goes pending → confirmed → processing → shipped → delivered, and leaves the pool when finished", () => {
  const s = createState(2, 1000, START);
  createProduct(s);
  createProduct(s);
  createPost(s);
  createOrder(s);
  const order = s.orders[0] as Entity<OrderDoc>;
  const seen = [order.doc.status];
  while (order.live) {
    tick(s);
    progressOrder(s, order);
    seen.push(order.doc.status);
  }
  assert.deepEqual(
    seen,
    ["pending", "confirmed", "processing", "shipped", "delivered", "refunded"].slice(0, seen.length),
  );
  assert.ok(seen.at(-1) === "delivered" || seen.at(-1) === "refunded");
  assert.ok(
    order.doc.items.every((i) => i.fulfillment_status === (seen.at(-1) === "refunded" ? "returned" : "delivered")),
  );
  assert.equal(s.orders.length, 0);
  assert.ok(s.graveyard.includes(order as unknown as Entity));
  assert.equal(NEXT_STATUS.refunded, undefined, "refunded is the end");
});

test("a cancelled order is finished; a deleted product waits in its own pool and comes back on restore", () => {
  const s = createState(3, 1000, START);
  createProduct(s);
  createProduct(s);
  createPost(s);
  createOrder(s);
  const order = s.orders[0] as Entity<OrderDoc>;
  assert.equal(typeOf(cancelOrder(s, order)), "order.cancelled");
  assert.equal(order.live, false);

  const product = s.products[0];
  assert.ok(product);
  assert.equal(typeOf(deleteProduct(s, product)), "product.deleted");
  assert.deepEqual(
    [s.products.includes(product), s.deletedProducts.includes(product), product.live],
    [false, true, false],
  );
  assert.equal(typeOf(restoreProduct(s, product)), "product.restored");
  assert.deepEqual(
    [s.products.includes(product), s.deletedProducts.includes(product), product.live],
    [true, false, true],
  );
});

test("a twin changes the entity just written in the same microsecond, and only then", () => {
  const s: State = createState(4, 1000, START);
  let twins = 0;
  for (let i = 0; i < 2000; i++) {
    tick(s);
    const g = normal(s);
    const t = twin(s);
    if (t === undefined) continue;
    twins++;
    assert.equal(t.key, g.key);
    const utc = (x: typeof g) => x.event?.value.timestamp.replace("Z", "+00:00");
    assert.equal(utc(t), utc(g));
    tick(s);
    assert.equal(twin(s), undefined, "the clock moved on");
  }
  assert.ok(twins > 1500, `${twins}`);
});
