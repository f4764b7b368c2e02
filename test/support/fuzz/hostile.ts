import fc from "fast-check";
import { hexId } from "../helpers.ts";
import {
  ALL_VALID,
  envelope,
  type Json,
  LATE,
  type Msg,
  msg,
  orderDoc,
  orderNumber,
  type Parent,
  postDoc,
  productDoc,
  resetEventIds,
  supplierDoc,
  TAGS,
  TOPIC_OF,
  ts,
  userDoc,
  VALID,
  validStreams,
} from "./cases.ts";
import { edgeTimestamps, mutate, pickOf, RAW, type Recipe, recipe, toText } from "./mutations.ts";

// Hostile variants of the events, drawn by fast-check from a seed: aimed at the valid entities
// (which they must not change) or at entities no valid event names, at and past every limit.

const ghost = (r: Recipe, table: Parent): string => {
  switch (r.c % 4) {
    case 0:
      return hexId((r.c >> 2) % 6, "dead");
    case 1:
      return pickOf(VALID[table], r.c >> 2).toUpperCase();
    case 2:
      return pickOf(
        ALL_VALID.filter((id) => !VALID[table].includes(id)),
        r.c >> 2,
      ); // another table's id
    default:
      return hexId((r.c >> 2) % 6, "beef");
  }
};
const hostileTs = (r: Recipe) =>
  r.tsMode === 0 ? pickOf(edgeTimestamps, r.d) : r.tsMode === 1 ? LATE : ts(r.d % 3000);
const keyFor = (r: Recipe, entity: string, table: Parent): string | null => {
  switch (r.keyMode) {
    case 0:
      return pickOf(VALID[table], r.a);
    case 1:
      return null;
    case 2:
      return `${entity} `;
    case 3:
      return pickOf(ALL_VALID, r.b);
    default:
      return entity;
  }
};
const FULL: Record<Parent, string[]> = {
  users: ["user.created", "user.updated"],
  suppliers: ["supplier.created", "supplier.updated"],
  products: ["product.created", "product.updated", "product.restored", "product.published"],
  orders: ["order.created"],
  posts: ["post.created", "post.updated", "post.published"],
};
const DELETES: Record<string, [string, string]> = {
  users: ["user.deleted", "user_id"],
  suppliers: ["supplier.deleted", "supplier_id"],
  products: ["product.deleted", "product_id"],
  posts: ["post.deleted", "post_id"],
};
const PARENTS = Object.keys(TAGS) as Parent[];
function ghostDoc(table: Parent, id: string, r: Recipe): Json {
  switch (table) {
    case "users":
      return userDoc(id, 99);
    case "suppliers":
      return supplierDoc(id, 99);
    case "products": {
      // variant keys and ids of a valid product, or differing by case/space/normal form
      const i = r.a % 3;
      const TRICKY = [
        "S",
        "s",
        "S ",
        " S",
        "\u00e9",
        "e\u0301",
        "a\u0000b",
        "a",
        "😀",
        "😀 ",
        "\u2028",
        "x".repeat(200),
        "😀".repeat(200),
        "ﬁ",
        "fi",
        "Straße",
        "STRASSE",
        "İ",
        "i̇",
        "0",
        "00",
        "__proto__",
        "constructor",
      ];
      const keys =
        r.kind >= 10 && r.kind <= 16
          ? [pickOf(TRICKY, r.b), pickOf(TRICKY, r.b >> 5), pickOf(TRICKY, r.b >> 10)]
          : pickOf([["S", "M"], ["s", "M "], ["S\u0301", "M"], ["XL"], []], r.b);
      const d = productDoc(id, i, 9, keys);
      return d;
    }
    case "orders": {
      const i = r.a % 3;
      const d = orderDoc(id, i, 9, pickOf([["item-1"], ["item-2", "item-3"], ["ITEM-1", "item-1 "], []], r.b));
      d.order_number = pickOf(
        [orderNumber(i), `${orderNumber(i)} `, orderNumber(i).toLowerCase(), `G-${id}`, `G-${r.d % 4}`],
        r.d,
      );
      return d;
    }
    default:
      return postDoc(id, 99);
  }
}

/** What a hostile event is about: a kind of entity, its topic, one of its valid ids. */
interface Aim {
  table: Parent;
  topic: string;
  validId: string;
}

function hostile(r: Recipe, i: number): Msg {
  const table = pickOf(PARENTS, r.a >> 3);
  const aim = { table, topic: TOPIC_OF[table], validId: pickOf(VALID[table], r.b) };
  return r.kind <= 7 ? atValidEntity(r, i, aim) : atOtherEntities(r, aim);
}

/** Events a valid entity must not take: odd types, wrong topics, future times, deletes and cancels of others, broken documents. */
function atValidEntity(r: Recipe, i: number, { table, topic, validId }: Aim): Msg {
  const k = r.kind;
  // must-not-apply, aimed at a valid entity, stamped after everything valid
  if (k <= 2) {
    const types = [
      "User.Created",
      "USER.UPDATED",
      "user.created ",
      "user.Updated",
      "user.deleted\u0000",
      " user.deleted",
    ];
    const typ = pickOf(types, r.d).replace(/user/i, (m) => (m === "user" ? topic : topic.toUpperCase()));
    const d = table === "orders" ? orderDoc(validId, r.b % 3, 5, ["item-1"]) : ghostDoc(table, validId, r);
    return { ...msg(topic, validId, envelope(typ, validId, d, LATE), false, `odd-type ${typ}`), mustNotApply: true };
  }
  if (k === 3) {
    const other = pickOf(
      PARENTS.filter((p) => p !== table),
      r.d,
    );
    const d = ghostDoc(table, validId, r);
    return {
      ...msg(TOPIC_OF[other], validId, envelope(pickOf(FULL[table], r.c), validId, d, LATE), false, "wrong-topic"),
      mustNotApply: true,
    };
  }
  if (k === 4) {
    const d = ghostDoc(table, validId, r);
    return {
      ...msg(topic, validId, envelope(pickOf(FULL[table], r.c), validId, d, "2027-01-01T00:00:00Z"), false, "future"),
      mustNotApply: true,
    };
  }
  if (k === 5 && table !== "orders") {
    // delete naming another entity
    const [type, field] = DELETES[table] as [string, string];
    const victim = pickOf(VALID[table], r.b + 1);
    const self = r.c % 2 ? pickOf(VALID[table], r.b) : ghost(r, table);
    if (self === victim) return hostile({ ...r, kind: 10 }, i);
    return {
      ...msg(topic, self, envelope(type, self, { [field]: victim }, LATE), false, `delete-other ${self}->${victim}`),
      mustNotApply: true, // its document names another entity: refused whoever sends it
    };
  }
  if (k === 5 || k === 6) {
    // cancel naming another order's number
    const self = r.c % 2 ? pickOf(VALID.orders, r.b) : ghost(r, "orders");
    const victim = r.b % 3;
    if (self === VALID.orders[victim]) return hostile({ ...r, kind: 10 }, i);
    const num = pickOf([orderNumber(victim), `${orderNumber(victim)} `, orderNumber(victim).toLowerCase()], r.d);
    return {
      ...msg("order", self, envelope("order.cancelled", self, { order_number: num }, LATE), false, `cancel ${num}`),
      mustNotApply: VALID.orders.includes(self),
    };
  }
  if (k === 7) {
    // must-not-apply: broken document for a valid entity
    const d = ghostDoc(table, validId, r);
    const breakers: ((d: Json) => void)[] = [
      (d) => {
        d.created_at = "2026-02-30T00:00:00Z";
      },
      (d) => {
        d.updated_at = 5;
      },
      (d) => {
        delete d.created_at;
      },
      (d) => {
        d.created_at = `${RAW}"2026-03-01T00:00:00\\ud800Z"`;
      },
      (d) => {
        d.updated_at = "0999-12-31T23:59:59Z";
      },
    ];
    pickOf(breakers, r.d)(d);
    return {
      ...msg(
        topic,
        validId,
        toText(envelope(pickOf(FULL[table], r.c), validId, d, LATE)),
        false,
        `broken-doc ${r.d % 5}`,
      ),
      mustNotApply: true,
    };
  }
  throw new Error(`no hostile event of kind ${k}`);
}

/** Events of entities no valid event names: duplicate members, deletes, churn, mutated documents. */
function atOtherEntities(r: Recipe, { table, topic, validId }: Aim): Msg {
  const k = r.kind;
  if (k === 8) {
    // duplicate member names: the valid id first, a ghost last, plus maybe a number that forces a reparse
    const g = ghost(r, table);
    const d = ghostDoc(table, g, r);
    if (r.d % 2 && table === "products") {
      const v = Object.values(d.variants as Json)[0] as Json | undefined;
      if (v) v.attributes = [{ attribute_name: "n", attribute_value: `${RAW}123456789012345678901234567890` }];
    }
    if (r.d % 2 && table === "posts")
      (d.media as Json[]).push({ media_type: "x", media_url: "u", extra: `${RAW}1e400` });
    const env = envelope(pickOf(FULL[table], r.c), g, d, LATE);
    let text = toText(env);
    const variant = r.b % 3;
    if (variant === 0) text = text.replace(`"entity_id":"${g}"`, `"entity_id":"${validId}","entity_id":"${g}"`);
    else if (variant === 1) text = text.replace(/^\{/, `{"entity_id":"${validId}",`);
    else if (table === "orders")
      text = text.replace(`"order_number":`, `"order_number":"${orderNumber(r.a % 3)}","order_number":`);
    else text = text.replace(`"data":{`, `"data":{"id":"${validId}",`);
    return msg(topic, keyFor(r, g, table), text, false, `dup-members ${variant}`);
  }
  if (k === 9) {
    // ghost delete of a ghost or case-variant id
    const g = ghost(r, table);
    if (table === "orders") {
      return msg(
        "order",
        g,
        envelope("order.cancelled", g, { order_number: `G-${g}` }, hostileTs(r)),
        false,
        "cancel-own",
      );
    }
    const [type, field] = DELETES[table] as [string, string];
    const payload = r.d % 3 === 0 ? {} : r.d % 3 === 1 ? { [field]: null } : { [field]: g };
    return msg(topic, keyFor(r, g, table), envelope(type, g, payload, hostileTs(r)), false, "ghost-delete");
  }
  if (k >= 10 && k <= 16) {
    // churn of a few ghosts: creates, updates, deletes, restores at colliding times, on any partition
    const g = ghost({ ...r, c: r.c % 8 }, table);
    const at = ts(5000 + (r.d % 20));
    if (r.muts.length === 0 && table !== "orders") {
      const [type, field] = DELETES[table] as [string, string];
      return msg(topic, keyFor(r, g, table), envelope(type, g, { [field]: g }, at), false, "churn-delete");
    }
    if (table === "orders" && r.muts.length === 1) {
      const d = ghostDoc(table, g, r);
      return msg(
        topic,
        keyFor(r, g, table),
        envelope("order.cancelled", g, { order_number: d.order_number }, at),
        false,
        "churn-cancel",
      );
    }
    return msg(
      topic,
      keyFor(r, g, table),
      envelope(pickOf(FULL[table], r.b), g, ghostDoc(table, g, r), at),
      false,
      "churn",
    );
  }
  // mutated ghost documents
  const g = ghost(r, table);
  const d = ghostDoc(table, g, r);
  for (const m of r.muts) mutate(d, m);
  const env = envelope(pickOf(FULL[table], r.c), g, d, hostileTs(r));
  if (r.muts.length > 0 && r.muts[0] && r.muts[0].op === 6)
    mutate(env, { op: 1, pick: r.muts[0].pick, v: r.muts[0].v });
  return msg(topic, keyFor(r, g, table), toText(env), false, `mutated ${JSON.stringify(r.muts)}`);
}

export function hash(s: string): number {
  let h = 0;
  for (const ch of s) h = (Math.imul(h, 31) + (ch.codePointAt(0) ?? 0)) | 0;
  return Math.abs(h);
}

export function buildCases(seed: number, n: number): Msg[] {
  resetEventIds(seed);
  const streams = validStreams();
  const recipes = fc.sample(recipe, { seed, numRuns: n });
  const hostiles = recipes.map((r, i) => hostile(r, i));
  // FUZZ_SABOTAGE=1 shows the checks fail: a change of a valid user that the model does not know.
  if (process.env.FUZZ_SABOTAGE) {
    const id = VALID.users[0] as string;
    hostiles.push(msg("user", id, envelope("user.updated", id, userDoc(id, 7), LATE), false, "sabotage"));
  }
  // Interleave: each valid stream keeps its order; hostiles fall between at seeded positions.
  // The valid orders come first: a ghost may take a free order number before its owner (by rule).
  const out: Msg[] = streams.filter((s) => s[0]?.topic === "order").flat();
  const cursors = streams.map((s) => (s[0]?.topic === "order" ? s.length : 0));
  const order = fc.sample(fc.nat(1000), { seed: seed + 7, numRuns: n + 200 });
  let h = 0;
  let j = 0;
  while (h < hostiles.length || cursors.some((c, s) => c < (streams[s]?.length ?? 0))) {
    const r = order[j++ % order.length] ?? 0;
    const open = streams.map((_, s) => s).filter((s) => (cursors[s] ?? 0) < (streams[s]?.length ?? 0));
    if (h < hostiles.length && (open.length === 0 || r % 3 !== 0)) out.push(hostiles[h++] as Msg);
    else if (open.length > 0) {
      const s = open[r % open.length] as number;
      const at = cursors[s] ?? 0;
      cursors[s] = at + 1;
      out.push(streams[s]?.[at] as Msg);
    }
  }
  return out;
}
