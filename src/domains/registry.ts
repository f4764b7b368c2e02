import type { EventHandler } from "./domain.ts";
import { orders } from "./orders/index.ts";
import { posts } from "./posts/index.ts";
import { products } from "./products/index.ts";
import { suppliers } from "./suppliers/index.ts";
import { users } from "./users/index.ts";

/** Every domain the service knows. Adding one is its folder plus one line here. */
export const DOMAINS = [users, suppliers, products, orders, posts] as const;

/** event_type → handler, over all domains (SPEC §3: 19 types). */
export const HANDLERS: ReadonlyMap<string, EventHandler> = new Map(DOMAINS.flatMap((d) => Object.entries(d.events)));

export const TOPICS: readonly string[] = DOMAINS.map((d) => d.topic);
