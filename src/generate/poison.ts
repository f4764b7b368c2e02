import type { Random } from "./random.ts";

// The poison the generator mixes in: one message per class of docs/events.md#bad-input that ends in the
// dead-letter topic, built from a real event of the stream so it lands among real ones.

export type Kind = "user" | "supplier" | "product" | "order" | "post";
type Json = Record<string, unknown>;
const MIB = 1 << 20;

/** Every class of docs/events.md#bad-input that ends in the dead-letter topic. */
export const POISON_CLASSES = [
  "not_utf8",
  "not_json",
  "not_object",
  "missing_event_type",
  "missing_event_id",
  "bad_entity_id",
  "bad_timestamp",
  "data_not_object",
  "missing_field",
  "wrong_type",
  "non_integer",
  "int_out_of_range",
  "too_long",
  "bad_datetime",
  "too_large",
] as const;
export type PoisonClass = (typeof POISON_CLASSES)[number];

// Round robin over the classes so each shows up in a short stream; too_large (a MiB each, most
// of the bytes otherwise) only every fourth round.
const SMALL = POISON_CLASSES.filter((c) => c !== "too_large");
export const SCHEDULE: PoisonClass[] = [...SMALL, ...SMALL, ...SMALL, ...SMALL, "too_large"];

interface Fields {
  /** Required fields (missing_field, wrong_type). */
  required: string[];
  /** INT columns (non_integer, int_out_of_range). */
  ints: string[];
  /** Strings with their column's length (too_long); the first is padded past 1 MiB for too_large. */
  strings: [string, number][];
  /** Datetimes (bad_datetime). */
  times: string[];
}
// Paths inside `data`, per kind, from docs/events.md#documents-and-tables. Suppliers have no integer field.
const FIELDS: Record<Kind, Fields> = {
  user: {
    required: ["contact_info.primary_email", "profile.display_name", "created_at", "contact_info"],
    ints: ["version"],
    strings: [
      ["profile.bio", 500],
      ["profile.display_name", 100],
    ],
    times: ["created_at", "updated_at"],
  },
  supplier: {
    required: ["company_info.legal_name", "company_info.business_address.city", "contact_info.primary_phone"],
    ints: [],
    strings: [
      ["company_info.dba_name", 200],
      ["company_info.business_address.country", 2],
    ],
    times: ["updated_at"],
  },
  product: {
    required: ["name", "supplier_id", "metadata.base_sku", "variants", "base_price_cents"],
    ints: ["base_price_cents", "stats.view_count"],
    strings: [
      ["short_description", 500],
      ["name", 200],
      ["metadata.base_sku", 100],
    ],
    times: ["published_at", "created_at"],
  },
  order: {
    required: ["order_number", "customer.user_id", "items", "items.0.quantity"],
    ints: ["items.0.quantity", "items.0.total_cents"],
    strings: [
      ["items.0.product_snapshot.product_name", 200],
      ["order_number", 50],
    ],
    times: ["items.0.shipped_at", "created_at"],
  },
  post: {
    required: ["author.user_id", "text_content", "media", "author"],
    ints: ["stats.like_count", "stats.view_count"],
    strings: [
      ["text_content", 5000],
      ["author.display_name", 200],
    ],
    times: ["stats.last_comment_at", "published_at"],
  },
};
const BAD_TIMES = ["2026-02-30T10:00:00+00:00", "not a date", "2026-13-01T00:00:00Z", "13/02/2026 10:00", "2026-03-01"];
const long = (n: number) => "Lorem ipsum dolor sit amet ".repeat(Math.ceil(n / 27)).slice(0, n);

function at(root: Json, path: string): [Json, string] {
  const parts = path.split(".");
  const last = parts.pop() as string;
  let node = root;
  for (const p of parts) node = node[p] as Json;
  return [node, last];
}

export function poisonBytes(r: Random, cls: PoisonClass, env: Json, kind: Kind): Buffer {
  const id = env.entity_id as string;
  const data = env.data as Json;
  const f = FIELDS[kind];
  const set = (path: string, value: (old: unknown) => unknown) => {
    const [node, key] = at(data, path);
    node[key] = value(node[key]); // undefined removes the field: JSON.stringify drops it
  };
  switch (cls) {
    case "not_utf8": {
      // A Latin-1 byte where UTF-8 was expected, inside a string.
      const b = Buffer.from(JSON.stringify(env));
      b[b.indexOf(env.event_id as string)] = 0xe9;
      return b;
    }
    case "not_json": {
      const text = JSON.stringify(env);
      return Buffer.from(r.chance(0.5) ? text.slice(0, r.int(1, text.length - 1)) : text.replaceAll('"', "'"));
    }
    case "not_object":
      return Buffer.from(r.pick([JSON.stringify([env]), `"${kind}.updated"`, "42", "null", "true"]));
    case "missing_event_type":
      env.event_type = undefined;
      break;
    case "missing_event_id":
      env.event_id = r.chance(0.5) ? undefined : `${env.event_id}-${r.hex(8)}`;
      break;
    case "bad_entity_id":
      env.entity_id = r.pick([id.slice(0, 23), `${id}0`, `${kind}-${id.slice(0, 6)}`, `g${id.slice(1)}`]);
      break;
    case "bad_timestamp":
      env.timestamp = r.pick(["yesterday", "", "2026-02-30T10:00:00+00:00", 1772323200, "2026-03-01 25:00:00"]);
      break;
    case "data_not_object":
      env.data = r.pick([null, "{}", [data], 42]);
      break;
    case "missing_field":
      set(r.pick(f.required), () => undefined);
      break;
    case "wrong_type":
      set(r.pick(f.required), (old) => (typeof old === "string" ? 42 : `${JSON.stringify(old)}`));
      break;
    case "non_integer":
      set(r.pick(f.ints), (old) => Number(old) + 0.5);
      break;
    case "int_out_of_range":
      set(r.pick(f.ints), () => r.pick([3_000_000_000, -3_000_000_000]));
      break;
    case "too_long": {
      const [path, max] = r.pick(f.strings);
      // order.cancelled carries only the order number: one more way to send one too long.
      if (path === "order_number" && r.chance(0.5)) {
        Object.assign(env, { event_type: "order.cancelled", data: { order_number: long(max + 1) } });
      } else set(path, () => long(max + 1));
      break;
    }
    case "bad_datetime":
      set(r.pick(f.times), () => r.pick(BAD_TIMES));
      break;
    case "too_large":
      // Padding a bounded string keeps the event bad even where MAX_MESSAGE_BYTES is above 1 MiB.
      set((f.strings[0] as [string, number])[0], () => "x".repeat(MIB + r.int(1, 4096)));
      break;
  }
  return Buffer.from(JSON.stringify(env));
}
