import type { SourceTopic } from "../kafka/topics.ts";
import type { TableSpec } from "../plan/ops.ts";
import type { EventHandler } from "./domain.ts";
import { orders } from "./orders/index.ts";
import { posts } from "./posts/index.ts";
import { products } from "./products/index.ts";
import { suppliers } from "./suppliers/index.ts";
import { users } from "./users/index.ts";

/**
 * Every domain the service knows. Adding one is its folder, one line here, its topic in
 * SOURCE_TOPICS (kafka/topics.ts) and a migration for its tables, among the steps of
 * docs/architecture.md#how-to-add-a-domain.
 */
export const DOMAINS = [users, suppliers, products, orders, posts] as const;

/** Where an event type belongs and what handles it. */
export interface Route {
  topic: SourceTopic;
  handler: EventHandler;
}

/** event_type → its topic and handler, over all domains (19 types, docs/events.md). */
export const ROUTES: ReadonlyMap<string, Route> = new Map(
  DOMAINS.flatMap((d) => Object.entries(d.events).map(([type, handler]) => [type, { topic: d.topic, handler }])),
);

export const TOPICS: readonly string[] = DOMAINS.map((d) => d.topic);

/** Every table the domains write. */
export const TABLES: readonly TableSpec[] = DOMAINS.flatMap((d) => d.tables);

/**
 * The table of each domain's entities: a row per entity_id, versioned by its event_timestamp (what
 * `repair` unfreezes, what a written database holds). Child tables, keyed by a surrogate row id, are not.
 */
export const ENTITY_TABLES: readonly TableSpec[] = TABLES.filter((t) => t.rowId === undefined);
