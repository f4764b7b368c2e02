import type { EventType } from "./emit.ts";
import { cancelOrder, createOrder, progressOrder } from "./orders.ts";
import { changePost, createPost } from "./posts.ts";
import { changeProduct, createProduct, deleteProduct, restoreProduct } from "./products.ts";
import {
  type Doc,
  type Entity,
  type Generated,
  type OrderDoc,
  objectId,
  type PostDoc,
  type ProductDoc,
  retire,
  type State,
  type SupplierDoc,
  send,
  type UserDoc,
} from "./state.ts";
import { createSupplier, updateSupplier } from "./suppliers.ts";
import { createUser, updateUser } from "./users.ts";

// The platform's own events, as opposed to what delivery and a messy upstream add (mix.ts): one
// action drawn by weight per message, over the domain modules.

/** A user, supplier or post deleted; a tenth of the deletes carry no id in their data. */
export function deleteEntity(s: State, kind: "user" | "post" | "supplier", e: Entity): Generated {
  retire(s, s.byKind[kind], e);
  const data = s.rnd.chance(0.9) ? { [`${kind}_id`]: e.id } : {};
  return send(s, e, `${kind}.deleted` as EventType, data, false);
}

/** A delete or cancel for something that never had a row: no change, counted (docs/events.md#bad-input). */
export function orphan(s: State): Generated {
  const kind = s.rnd.pick(["user", "supplier", "product", "order"] as const);
  const e: Entity = { kind, id: objectId(s), doc: {} as Doc, micros: s.clock, live: false, slot: -1, n: 0 };
  if (kind !== "order") return send(s, e, `${kind}.deleted` as EventType, { [`${kind}_id`]: e.id }, false);
  return send(s, e, "order.cancelled", { order_number: `ORD-GONE-${s.rnd.hex(8)}` }, false);
}

type Action = (s: State) => Generated;
/** `f` of a random entity of the pool, or `otherwise` while the pool is empty. */
const on =
  <D extends Doc>(pool: (s: State) => Entity<D>[], f: (s: State, e: Entity<D>) => Generated, otherwise: Action) =>
  (s: State) => {
    const p = pool(s);
    return p.length > 0 ? f(s, s.rnd.pick(p)) : otherwise(s);
  };

/** Weights of the platform's own events: ≈ 8 events per entity, deletes and cancels rare. The order is part of the stream. */
export const ACTIONS: readonly (readonly [number, Action])[] = [
  [1.5, createUser],
  [7, on((s) => s.users, updateUser, createUser)],
  [
    0.4,
    on(
      (s) => s.users,
      (s, e) => deleteEntity(s, "user", e),
      createUser,
    ),
  ],
  [0.4, createSupplier],
  [2.5, on((s) => s.suppliers, updateSupplier, createSupplier)],
  [
    0.2,
    on(
      (s) => s.suppliers,
      (s, e) => deleteEntity(s, "supplier", e),
      createSupplier,
    ),
  ],
  [2, createProduct],
  [20, on((s) => s.products, changeProduct, createProduct)],
  [0.6, on((s) => s.products, deleteProduct, createProduct)],
  [0.5, on((s) => s.deletedProducts, restoreProduct, createProduct)],
  [2.5, createOrder],
  [12, on((s) => s.orders, progressOrder, createOrder)],
  [1.2, on((s) => s.orders, cancelOrder, createOrder)],
  [2, createPost],
  [9, on((s) => s.posts, changePost, createPost)],
  [
    0.6,
    on(
      (s) => s.posts,
      (s, e) => deleteEntity(s, "post", e),
      createPost,
    ),
  ],
  [0.3, orphan],
];
const TOTAL_WEIGHT = ACTIONS.reduce((n, [w]) => n + w, 0);

/** One platform event, its action drawn by weight. */
export function normal(s: State): Generated {
  let r = s.rnd.next() * TOTAL_WEIGHT;
  for (const [w, action] of ACTIONS) {
    r -= w;
    if (r < 0) return action(s);
  }
  return orphan(s);
}

/**
 * Another change of the entity just written, in the same microsecond: equal timestamps apply in
 * order. Undefined when the last event was a delete, or the clock has moved since.
 */
export function twin(s: State): Generated | undefined {
  const e = s.lastNormal;
  if (!e?.live || e.last?.micros !== s.clock) return undefined;
  if (e.kind === "user") return updateUser(s, e as Entity<UserDoc>);
  if (e.kind === "supplier") return updateSupplier(s, e as Entity<SupplierDoc>);
  if (e.kind === "product") return changeProduct(s, e as Entity<ProductDoc>);
  if (e.kind === "order") return progressOrder(s, e as Entity<OrderDoc>);
  return changePost(s, e as Entity<PostDoc>);
}
