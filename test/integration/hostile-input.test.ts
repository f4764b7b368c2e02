import assert from "node:assert/strict";
import { test } from "node:test";
import { DLQ_HEADERS } from "../../src/dead-letter/letter.ts";
import { emit } from "../../src/generate/emit.ts";
import { LABELS_PER_FIELD } from "../../src/observability/metrics.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import {
  caughtUp,
  hexId,
  privatePort,
  produce,
  readTopic,
  testConfig,
  testDatabase,
  testProducer,
  testService,
  testTopics,
  waitFor,
} from "../support/helpers.ts";

// Messages crafted as a hostile upstream would, each between valid events of the same entity on
// the same partition (docs/guarantees.md): each ends applied, skipped or dead-lettered as the
// rules say, its neighbours are applied, and the service is still consuming afterwards.

type Json = Record<string, unknown>;
const doc = (type: string) => structuredClone(fixture(type).value.data) as Json;
const at = (second: number) => `2026-04-01T00:00:${String(second).padStart(2, "0")}.000001+00:00`;
/** An event whose `data` holds the text "NESTED" where `levels` nested arrays go: JSON.stringify would recurse too deep. */
const withNesting = (event: ReturnType<typeof emit>, levels: number) => ({
  topic: event.topic,
  key: event.key,
  value: Buffer.from(JSON.stringify(event.value).replace('"NESTED"', `${"[".repeat(levels)}${"]".repeat(levels)}`)),
});

const POST = hexId(1, "c1");
const PRODUCT = hexId(1, "c2");
const USER = hexId(1, "c3");
const ORDER = hexId(1, "c4");
const BIG_POST = hexId(2, "c1");

function post(second: number, edit: (d: Json) => void = () => {}) {
  const d = doc("post.created");
  edit(d);
  return emit(second === 1 ? "post.created" : "post.updated", POST, d as never, { timestamp: at(second) });
}
function product(
  type: "product.created" | "product.updated" | "product.restored",
  second: number,
  edit: (d: Json) => void = () => {},
) {
  const d = doc("product.created");
  edit(d);
  return emit(type, PRODUCT, d as never, { timestamp: at(second) });
}
const user = (type: "user.created" | "user.updated", second: number, bio: string, timestamp = at(second)) => {
  const d = doc("user.created");
  d.profile = { ...(d.profile as Json), bio };
  return emit(type, USER, d as never, { timestamp });
};

test("crafted messages are isolated: dead-lettered or applied by rule, neighbours applied, service still consuming", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 1);
  const producer = await testProducer(t);
  const port = await privatePort();
  const config = testConfig(db, topics, { METRICS_PORT: String(port) });

  const media = Array.from({ length: 1000 }, (_, i) => ({
    media_type: "image",
    media_url: `https://cdn.example.com/${"m".repeat(80)}/${i}.jpg`,
  }));
  const order = doc("order.created");
  const items = order.items as Json[];
  const wrongTopic = emit("user.created", hexId(9, "c3"), doc("user.created") as never);
  const categories = Array.from({ length: 300 }, (_, i) =>
    emit("product.created", hexId(100 + i, "c5"), { ...doc("product.created"), category: `new-${i}` } as never),
  );
  await produce(producer, topics.prefix, [
    // 1. 10,000 nested arrays in a post's media and in a variant's attributes (a crash loop before).
    post(1),
    withNesting(
      post(2, (d) => Object.assign((d.media as Json[])[0] as Json, { extra: "NESTED" })),
      10_000,
    ),
    post(3, (d) => Object.assign(d, { text_content: "after the nesting" })),
    product("product.created", 1),
    withNesting(
      product("product.updated", 2, (d) => {
        const [variant] = Object.values(d.variants as Record<string, { attributes: Json[] }>);
        Object.assign(variant?.attributes[0] as Json, { extra: "NESTED" });
      }),
      10_000,
    ),
    product("product.updated", 3, (d) => Object.assign(d, { name: "after the nesting" })),
    // 2. A post whose media is 110 KB: a JSON column, not a 64 KB TEXT.
    emit("post.created", BIG_POST, { ...doc("post.created"), media } as never, { timestamp: at(1) }),
    // 3. Stamped in year 9999: dead-lettered; later real events of the entity still apply.
    user("user.created", 1, "first"),
    user("user.updated", 2, "from the future", "9999-12-31T23:59:59.999999+00:00"),
    user("user.updated", 3, "after the future"),
    emit("product.deleted", PRODUCT, { product_id: PRODUCT }, { timestamp: "9999-12-31T23:59:59.999999+00:00" }),
    product("product.restored", 4, (d) => Object.assign(d, { name: "restored", status: "active" })),
    // 4. Two items with one item_id.
    emit("order.created", ORDER, { ...order, order_number: "ORD-C4-1" } as never, { timestamp: at(1) }),
    emit(
      "order.created",
      ORDER,
      { ...order, order_number: "ORD-C4-1", items: [...items, { ...items[0], quantity: 9 }] } as never,
      { timestamp: at(2) },
    ),
    emit("order.created", ORDER, { ...order, order_number: "ORD-C4-1", status: "shipped" } as never, {
      timestamp: at(3),
    }),
    // 5. A user event on the product topic.
    { ...wrongTopic, topic: "product" },
    // 6. A key that is not the entity_id: applied by entity_id, counted.
    { ...user("user.updated", 4, "keyed oddly"), key: hexId(8, "c3") },
    // 7. 300 categories nobody has seen before.
    ...categories,
  ]);
  await testService(t, config);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, sources, 1), 60_000);

  const letters = await readTopic(topics.dlq, 6);
  const byCode = letters.map((l) => [l.headers.get(DLQ_HEADERS.code), l.headers.get(DLQ_HEADERS.reason)]);
  const skewed = byCode.filter(([code]) => code === "clock_skew");
  assert.equal(skewed.length, 2, "the user and the product stamped in 9999");
  for (const [, reason] of skewed) {
    assert.match(
      reason ?? "",
      /^timestamp 9999-12-31 23:59:59\.999999 is \d+ s ahead of the Kafka record's 20\d\d-.+; MAX_CLOCK_SKEW_MS allows 300000 ms$/,
    );
  }
  const [variantKey] = Object.keys(doc("product.created").variants as Json);
  assert.deepEqual(
    byCode.filter(([code]) => code !== "clock_skew").sort(),
    [
      ["bad_field", "data.media is nested deeper than 16 levels (MAX_JSON_DEPTH)"],
      [
        "bad_field",
        `data.items.${items.length}.item_id ${JSON.stringify(items[0]?.item_id)} repeats data.items.0.item_id: two children with one key`,
      ],
      ["bad_field", `data.variants.${variantKey}.attributes is nested deeper than 16 levels (MAX_JSON_DEPTH)`],
      ["wrong_topic", `user.created belongs on topic ${topics.prefix}user, not ${topics.prefix}product`],
    ].sort(),
  );

  assert.deepEqual(await db.query("SELECT text_content FROM posts WHERE post_id = ?", [POST]), [
    { text_content: "after the nesting" },
  ]);
  const [big] = await db.query<{ n: number }>("SELECT LENGTH(media_json) AS n FROM posts WHERE post_id = ?", [
    BIG_POST,
  ]);
  assert.ok(Number(big?.n) > 100_000, `media_json holds ${big?.n} bytes`);
  assert.deepEqual(
    await db.query("SELECT name, status, event_timestamp FROM products WHERE product_id = ?", [PRODUCT]),
    [{ name: "restored", status: "active", event_timestamp: "2026-04-01 00:00:04.000001" }],
  );
  assert.deepEqual(await db.query("SELECT bio, event_timestamp FROM users WHERE user_id = ?", [USER]), [
    { bio: "keyed oddly", event_timestamp: "2026-04-01 00:00:04.000001" },
  ]);
  assert.deepEqual(await db.query("SELECT status FROM orders WHERE order_id = ?", [ORDER]), [{ status: "shipped" }]);
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM order_items WHERE order_id = ?", [ORDER]), [
    { n: String(items.length) },
  ]);
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM users WHERE user_id = ?", [hexId(9, "c3")]), [{ n: "0" }]);
  assert.deepEqual(await db.query("SELECT COUNT(*) AS n FROM products WHERE category LIKE 'new-%'"), [{ n: "300" }]);

  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.ok(
    metrics.includes(`analytics_key_mismatches_total{topic="${topics.prefix}user"} 1`),
    "the odd key is counted",
  );
  const categorySeries = metrics
    .split("\n")
    .filter((l) => l.startsWith('analytics_unknown_enum_values_total{field="products.category"'));
  assert.equal(categorySeries.length, LABELS_PER_FIELD + 1, "category values past the budget fold into `other`");

  // Still consuming: a later event of the user lands.
  await produce(producer, topics.prefix, [user("user.updated", 5, "still here")]);
  await waitFor("the last event applied", async () => {
    const [row] = await db.query<{ bio: string }>("SELECT bio FROM users WHERE user_id = ?", [USER]);
    return row?.bio === "still here";
  });
});

test("a header without a value, and a 300 KB key on a bad event: applied, dead-lettered on its source partition, neighbours applied", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t, 3);
  const producer = await testProducer(t);
  const config = testConfig(db, topics);
  const topic = `${topics.prefix}user`;
  const first = user("user.created", 1, "with a header without a value");
  const value = (e: ReturnType<typeof user>) => Buffer.from(JSON.stringify(e.value));
  await producer.send({
    messages: [
      // Kafka allows a header whose value is null; the client gives it as undefined.
      {
        topic,
        partition: 2,
        key: Buffer.from(USER),
        value: value(first),
        headers: new Map([[Buffer.from("trace"), undefined as unknown as Buffer]]),
      },
      // The client's own partitioner hashes a key at a cost that grows faster than the key: a
      // letter keyed so took minutes of the event loop.
      { topic, partition: 2, key: Buffer.alloc(300_000, "k"), value: Buffer.from("not json") },
      { topic, partition: 2, key: Buffer.from(USER), value: value(user("user.updated", 2, "after both")) },
    ],
  });
  await testService(t, config);
  await waitFor("every offset committed", () => caughtUp(config.kafkaGroupId, [topic], 3), 60_000);
  assert.deepEqual(await db.query("SELECT bio FROM users WHERE user_id = ?", [USER]), [{ bio: "after both" }]);
  const [letter] = await readTopic(topics.dlq, 1);
  assert.equal(letter?.headers.get(DLQ_HEADERS.code), "not_json");
  assert.equal(letter?.key?.length, 300_000);
  assert.equal(letter?.partition, 2, "the source partition, not a hash of the key");
});
