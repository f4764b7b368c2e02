import type { OrderDocument } from "../domains/orders/schema.ts";
import type { PostDocument } from "../domains/posts/schema.ts";
import type { ProductDocument } from "../domains/products/schema.ts";
import type { SupplierDocument } from "../domains/suppliers/schema.ts";
import type { UserDocument } from "../domains/users/schema.ts";
import { type EmittedEvent, type EventData, type EventType, emit, isoMicros } from "./emit.ts";
import type { Kind, PoisonClass } from "./poison.ts";
import { createRandom, type Random } from "./random.ts";

// What every part of the generator shares: the seeded random source, the simulated clock and the
// pools of entities that events are about. The domain modules (users.ts ... posts.ts) change it
// only through the helpers here, so that the order of draws from `rnd` — and with it the bytes of
// the stream — stays the one the options fix.

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

/** Where the simulated clock starts when the caller names no start: 2026-03-01T00:00:00Z. */
export const DEFAULT_START_MICROS = BigInt(Date.UTC(2026, 2, 1)) * 1000n;
/**
 * Every message but a twin moves the clock on by a whole number of microseconds drawn evenly from
 * this range, so a stream of n messages spans at most n × MAX_STEP_MICROS: what a caller that
 * wants the stream to end by a given time (`generate` without --start) has to allow for.
 */
export const MIN_STEP_MICROS = 500;
export const MAX_STEP_MICROS = 5000;
/** How many finished entities stay targets of "older" re-sends. */
export const GRAVEYARD = 2000;

type Extra = { id: string; [field: string]: unknown };
export type UserDoc = UserDocument & Extra;
export type SupplierDoc = SupplierDocument & Extra & { product_ids: string[] };
export type ProductDoc = ProductDocument & Extra;
export type OrderDoc = OrderDocument & Extra;
export type PostDoc = PostDocument & Extra;
export type Doc = UserDoc | SupplierDoc | ProductDoc | OrderDoc | PostDoc;

export interface Sent {
  micros: bigint;
  value: EmittedEvent["value"];
}
export interface Entity<D extends Doc = Doc> {
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

export interface State {
  readonly rnd: Random;
  /** The simulated clock, microseconds since the epoch. */
  clock: bigint;
  /** ObjectIds handed out so far: their counter bytes, and what keeps order numbers unique. */
  serial: number;
  /** Live entities of all kinds together never exceed this: the generator's memory is bounded. */
  readonly maxEntities: number;
  readonly users: Entity<UserDoc>[];
  readonly suppliers: Entity<SupplierDoc>[];
  readonly products: Entity<ProductDoc>[];
  readonly deletedProducts: Entity<ProductDoc>[];
  readonly orders: Entity<OrderDoc>[];
  readonly posts: Entity<PostDoc>[];
  /** The six pools above, in that order (the order random picks among them depend on). */
  readonly pools: Entity[][];
  /** The live pool of each kind, keyed in SOURCE_TOPICS order (poison picks a kind by that order). */
  readonly byKind: Record<Kind, Entity[]>;
  /** Deleted, cancelled, finished entities: still the target of "older" re-sends. */
  readonly graveyard: Entity[];
  /** The entity of the newest platform event: a twin changes it again. */
  lastNormal: Entity | undefined;
}

export function createState(seed: number, events: number, startMicros: bigint): State {
  const users: Entity<UserDoc>[] = [];
  const suppliers: Entity<SupplierDoc>[] = [];
  const products: Entity<ProductDoc>[] = [];
  const deletedProducts: Entity<ProductDoc>[] = [];
  const orders: Entity<OrderDoc>[] = [];
  const posts: Entity<PostDoc>[] = [];
  return {
    rnd: createRandom(seed),
    clock: startMicros,
    serial: 0,
    // About one live entity per ten events, and never fewer than 100.
    maxEntities: Math.max(100, Math.ceil(events / 10)),
    users,
    suppliers,
    products,
    deletedProducts,
    orders,
    posts,
    pools: [users, suppliers, products, deletedProducts, orders, posts] as Entity[][],
    byKind: { user: users, supplier: suppliers, product: products, order: orders, post: posts } as Record<
      Kind,
      Entity[]
    >,
    graveyard: [],
    lastNormal: undefined,
  };
}

/** Moves the clock on for the next message (a twin shares its pair's microsecond and does not call this). */
export function tick(s: State): void {
  s.clock += BigInt(s.rnd.int(MIN_STEP_MICROS, MAX_STEP_MICROS));
}

/** A MongoDB ObjectId: 4-byte seconds of the clock, 5 random bytes, 3-byte counter (unique below 2^24 ids). */
export function objectId(s: State): string {
  return (
    (s.clock / 1_000_000n).toString(16).padStart(8, "0") +
    s.rnd.hex(10) +
    (s.serial++ % 0xffffff).toString(16).padStart(6, "0")
  );
}

/** An event timestamp as Python's isoformat() writes it: +00:00, sometimes Z. */
export function stamp(s: State, micros: bigint): string {
  return s.rnd.chance(0.1) ? isoMicros(micros).replace("+00:00", "Z") : isoMicros(micros);
}

/** A document time (created_at, updated_at ...): now, sometimes in whole seconds. */
export function docTime(s: State): string {
  return isoMicros(s.rnd.chance(0.3) ? s.clock - (s.clock % 1_000_000n) : s.clock);
}

// Documents are never changed once sent (events and re-sends share them): change a copy. JSON is
// the fastest deep copy for plain data here, measured against structuredClone.
export const clone = <D>(d: D): D => JSON.parse(JSON.stringify(d));

/** Upstream documents carry fields the sink doesn't read: this keeps TypeScript's excess-property check off them. */
export const loose = <T extends object>(o: T): T => o;

export function add(pool: Entity[], e: Entity): void {
  e.slot = pool.length;
  pool.push(e);
}

/** Takes `e` out of `pool` in O(1): the last entity moves into its slot. */
export function remove(pool: Entity[], e: Entity): void {
  const last = pool.pop() as Entity;
  if (last !== e) {
    pool[e.slot] = last;
    last.slot = e.slot;
  }
}

/** The entity is gone (deleted, cancelled, finished): no more events, but "older" re-sends may still name it. */
export function retire(s: State, pool: Entity[], e: Entity): void {
  remove(pool, e);
  e.live = false;
  if (s.graveyard.length >= GRAVEYARD) s.graveyard[s.rnd.int(0, GRAVEYARD - 1)] = e;
  else s.graveyard.push(e);
}

/** A new entity joins its pool; when all pools are full, it takes the place of a random one of its kind. */
export function admit<D extends Doc>(s: State, kind: Kind, id: string, doc: D): Entity<D> {
  const e: Entity<D> = { kind, id, doc, micros: s.clock, live: true, slot: 0, n: 0 };
  const pool = s.byKind[kind];
  // Full: a random entity of the kind goes quiet (its rows stay; it just gets no more events).
  if (s.pools.reduce((n, p) => n + p.length, 0) >= s.maxEntities && pool.length > 0) {
    const old = s.rnd.pick(pool);
    old.live = false;
    e.slot = old.slot;
    pool[old.slot] = e as unknown as Entity;
  } else add(pool, e as unknown as Entity);
  return e;
}

/**
 * The platform's event about `e` now. A full-state event (`full`) becomes the entity's document
 * and is remembered for "older" re-sends; a delete or cancel carries only an id.
 */
export function send(s: State, e: Entity, type: EventType, data: EventData[EventType], full: boolean): Generated {
  const ev = emit(type, e.id, data, { timestamp: stamp(s, s.clock), eventId: s.rnd.uuid() });
  if (full) {
    e.doc = data as Doc;
    e.prev = e.last;
    e.last = { micros: s.clock, value: ev.value };
  }
  e.micros = s.clock;
  s.lastNormal = e;
  return { topic: ev.topic, key: ev.key, value: Buffer.from(JSON.stringify(ev.value)), event: ev };
}
