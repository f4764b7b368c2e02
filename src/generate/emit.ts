import { randomUUID } from "node:crypto";
import type { OrderDocument } from "../domains/orders/schema.ts";
import type { PostDocument } from "../domains/posts/schema.ts";
import type { ProductDocument } from "../domains/products/schema.ts";
import type { SupplierDocument } from "../domains/suppliers/schema.ts";
import type { UserDocument } from "../domains/users/schema.ts";

// The producer side of the contract, built as the upstream builds it: topic = the event type's
// prefix, key = entity id, a fresh UUID, and the time as Python's isoformat() writes it
// (microseconds, fraction omitted when zero, +00:00). Tests, the generator and the benchmark use
// it; so could a TypeScript backend.

/** What each of the 19 event types carries (docs/events.md); documents may carry more fields. */
export interface EventData {
  "user.created": UserDocument;
  "user.updated": UserDocument;
  "user.deleted": { user_id?: string };
  "supplier.created": SupplierDocument;
  "supplier.updated": SupplierDocument;
  "supplier.deleted": { supplier_id?: string };
  "product.created": ProductDocument;
  "product.updated": ProductDocument;
  "product.published": ProductDocument;
  "product.discontinued": ProductDocument;
  "product.out_of_stock": ProductDocument;
  "product.restored": ProductDocument;
  "product.deleted": { product_id?: string };
  "order.created": OrderDocument;
  "order.cancelled": { order_number: string };
  "post.created": PostDocument;
  "post.updated": PostDocument;
  "post.published": PostDocument;
  "post.deleted": { post_id?: string };
}
export type EventType = keyof EventData;

export interface EmittedEvent {
  topic: string;
  key: string;
  value: {
    event_type: string;
    event_id: string;
    entity_id: string;
    timestamp: string;
    data: unknown;
  };
}

/** Microseconds since the epoch, from the high-resolution clock. */
export function nowMicros(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}

/** `2026-02-11T09:38:25.123456+00:00`, or without the fraction when it is zero, as isoformat(). */
export function isoMicros(micros: bigint): string {
  // Floor division, so instants before 1970 keep their second and fraction consistent.
  const fraction = Number(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n);
  const seconds = (micros - BigInt(fraction)) / 1_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}${fraction === 0 ? "" : `.${String(fraction).padStart(6, "0")}`}+00:00`;
}

export function emit<T extends EventType>(
  eventType: T,
  entityId: string,
  data: EventData[T],
  options: { timestamp?: string; eventId?: string } = {},
): EmittedEvent {
  return {
    topic: eventType.slice(0, eventType.indexOf(".")),
    key: entityId,
    value: {
      event_type: eventType,
      event_id: options.eventId ?? randomUUID(),
      entity_id: entityId,
      timestamp: options.timestamp ?? isoMicros(nowMicros()),
      data,
    },
  };
}
