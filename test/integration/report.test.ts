import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_REPORT_ROWS, REPORT_SECTIONS } from "../../src/commands/report.ts";
import { type EmittedEvent, emit } from "../../src/generate/emit.ts";
import { fixture, loadFixtures } from "../../src/testing/fixtures.ts";
import {
  caughtUp,
  hexId,
  produce,
  runCli,
  testConfig,
  testDatabase,
  testEnv,
  testProducer,
  testService,
  testTopics,
  testUser,
  waitFor,
} from "../support/helpers.ts";

// `analytics-service report` as the data team runs it: the lifecycle fixtures plus a small,
// hand-counted world of users, suppliers, products, orders and posts go through the real broker
// and the service; the report's numbers are then exactly the ones counted here.

const oid = (n: number) => hexId(n, "66b0000000000000000000");
const DAY = 86_400_000;
/** The UTC day `n` days before today, as YYYY-MM-DD. */
const dayAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString().slice(0, 10);
const noon = (day: string) => `${day}T12:00:00+00:00`;
/** The Monday of the week holding `day`. */
const monday = (day: string) => {
  const d = new Date(`${day}T00:00:00Z`);
  return new Date(d.getTime() - ((d.getUTCDay() + 6) % 7) * DAY).toISOString().slice(0, 10);
};

function user(id: string, day: string): EmittedEvent {
  const data = fixture("user.created").value.data as Record<string, unknown>;
  const created = noon(day);
  return emit("user.created", id, {
    ...data,
    contact_info: { primary_email: `${id}@example.com`, phone: null },
    created_at: created,
    updated_at: created,
  } as never);
}

function supplier(id: string, legalName: string): EmittedEvent {
  const data = structuredClone(fixture("supplier.created").value.data) as { company_info: { legal_name: string } };
  data.company_info.legal_name = legalName;
  return emit("supplier.created", id, data as never);
}

const variant = (id: string, price: number) => ({
  variant_id: id,
  variant_name: id,
  attributes: [],
  price_cents: price,
  cost_cents: null,
  quantity: 1,
  package_dimensions: { width_cm: 1, height_cm: 1, depth_cm: 1 },
  image_url: null,
});

function product(id: string, supplierId: string, name: string, category: string, status: string, prices: number[]) {
  const data = fixture("product.created").value.data as Record<string, unknown>;
  return emit("product.created", id, {
    ...data,
    supplier_id: supplierId,
    name,
    category,
    status,
    variants: Object.fromEntries(prices.map((p, i) => [`v${i}`, variant(`${id}-v${i}`, p)])),
  } as never);
}

function order(id: string, number: string, country: string, status: string, totals: number[]) {
  const data = structuredClone(fixture("order.created").value.data) as {
    items: Record<string, unknown>[];
    shipping_address: Record<string, unknown>;
  };
  const [template] = data.items;
  return emit("order.created", id, {
    ...data,
    order_number: number,
    status,
    shipping_address: { ...data.shipping_address, country },
    items: totals.map((total, i) => ({ ...template, item_id: `item-${i}`, total_cents: total })),
  } as never);
}

function post(id: string, author: [string, string], type: string, stats: number[]) {
  const data = structuredClone(fixture("post.updated").value.data) as { author: Record<string, unknown> };
  const [views, likes, comments, shares, rate] = stats;
  return emit("post.created", id, {
    ...data,
    post_type: type,
    author: { ...data.author, user_id: author[0], display_name: author[1] },
    stats: {
      view_count: views,
      like_count: likes,
      comment_count: comments,
      share_count: shares,
      save_count: 0,
      engagement_rate: rate,
      last_comment_at: null,
    },
  } as never);
}

test("report --json answers the data team's questions with exactly the counted numbers", async (t) => {
  const db = await testDatabase(t);
  const topics = await testTopics(t);
  const producer = await testProducer(t);
  const config = testConfig(db, topics);

  const [d1, d3, d10] = [dayAgo(1), dayAgo(3), dayAgo(10)];
  const [u1, u2, u3, u4] = [oid(1), oid(2), oid(3), oid(4)];
  const [s1, s2] = [oid(10), oid(11)];
  const [p1, p2, p3, p4] = [oid(20), oid(21), oid(22), oid(23)];
  const alice: [string, string] = [u1, "Alice 🌿"];
  const bob: [string, string] = [u2, "Bob"];
  const events: EmittedEvent[] = [
    // One user (deleted), one supplier (deleted), one draft product without variants, one
    // cancelled IL order of 4500, one soft-deleted post.
    ...loadFixtures(),
    user(u1, d1),
    user(u2, d1),
    user(u3, d3),
    user(u4, d10),
    emit("user.deleted", u4, { user_id: u4 }),
    supplier(s1, "Alpha Goods Ltd."),
    supplier(s2, "Beta Works Inc."),
    product(p1, s1, "Lamp", "electronics", "active", [1000, 1500, 2000]),
    product(p2, s1, "Cable", "electronics", "active", [500]),
    product(p3, s1, "Scarf", "fashion", "draft", []),
    product(p4, s2, "Speaker", "electronics", "out_of_stock", [3000, 9000]),
    order(oid(30), "R-1", "IL", "pending", [1000, 2000]),
    order(oid(31), "R-2", "IL", "delivered", [6000]),
    order(oid(32), "R-3", "US", "confirmed", [2500]),
    order(oid(33), "R-4", "US", "pending", [1000]),
    emit("order.cancelled", oid(33), { order_number: "R-4" }),
    // [views, likes, comments, shares, engagement rate]
    post(oid(40), alice, "text", [100, 10, 2, 1, 0.25]),
    post(oid(41), alice, "image", [200, 20, 4, 0, 0.75]),
    post(oid(42), bob, "text", [50, 5, 0, 0, 0.5]),
    post(oid(43), bob, "video", [999, 999, 9, 9, 0.9]),
    emit("post.deleted", oid(43), { post_id: oid(43) }),
  ];
  await produce(producer, topics.prefix, events);
  await testService(t, config);
  const sources = topics.all.filter((x) => x !== topics.dlq);
  await waitFor("every event applied and committed", () => caughtUp(config.kafkaGroupId, sources), 60000);

  const env = testEnv(db, topics);
  const { stdout } = await runCli(["report", "--json"], env);
  const report = JSON.parse(stdout);

  const weekly = new Map<string, number>();
  for (const day of [d10, d3, d1, d1]) weekly.set(monday(day), (weekly.get(monday(day)) ?? 0) + 1);
  assert.deepEqual(report, {
    // The fixture user signed up in February 2026: outside both windows.
    signups_daily: [
      { day: d10, signups: 1 },
      { day: d3, signups: 1 },
      { day: d1, signups: 2 },
    ],
    signups_weekly: [...weekly].map(([week_start, signups]) => ({ week_start, signups })),
    users_active_deleted: [{ active: 3, deleted: 2 }],
    orders_by_country: [
      { shipping_country: "IL", orders: 2, avg_order_value_cents: 4500 },
      { shipping_country: "US", orders: 1, avg_order_value_cents: 2500 },
    ],
    cancellation_rate: [{ orders: 5, cancelled: 2, cancellation_rate: 0.4 }],
    // The fixture supplier was deleted: its product counts for no one.
    top_suppliers: [
      { supplier_id: s1, legal_name: "Alpha Goods Ltd.", products: 3 },
      { supplier_id: s2, legal_name: "Beta Works Inc.", products: 1 },
    ],
    products_by_category_status: [
      { category: "electronics", status: "active", products: 2 },
      { category: "electronics", status: "out_of_stock", products: 1 },
      { category: "fashion", status: "draft", products: 1 },
      { category: "home_garden", status: "draft", products: 1 },
    ],
    variant_price_ranges: [
      { product_id: p4, name: "Speaker", variants: 2, min_price_cents: 3000, max_price_cents: 9000 },
      { product_id: p1, name: "Lamp", variants: 3, min_price_cents: 1000, max_price_cents: 2000 },
      { product_id: p2, name: "Cable", variants: 1, min_price_cents: 500, max_price_cents: 500 },
    ],
    posts_by_type: [
      { post_type: "text", posts: 2, views: 150, likes: 15, comments: 2, shares: 1, avg_engagement_rate: 0.375 },
      { post_type: "image", posts: 1, views: 200, likes: 20, comments: 4, shares: 0, avg_engagement_rate: 0.75 },
    ],
    top_authors: [
      { author_user_id: u1, author_display_name: "Alice 🌿", posts: 2, likes: 30, avg_engagement_rate: 0.5 },
      { author_user_id: u2, author_display_name: "Bob", posts: 1, likes: 5, avg_engagement_rate: 0.5 },
    ],
  });

  // For people: each section's title underlined to its length, then an aligned table.
  const human = (await runCli(["report"], env)).stdout;
  const titles = [...human.matchAll(/^(.+)\n(=+)$/gm)];
  assert.equal(titles.length, Object.keys(report).length, human);
  for (const [, title, rule] of titles) assert.equal(rule?.length, title?.length, title);
  assert.ok(
    human.includes(
      [
        "Orders and average order value by shipping country (cancelled orders left out)",
        "==============================================================================",
        "shipping_country  orders  avg_order_value_cents",
        "----------------  ------  ---------------------",
        "IL                     2                   4500",
        "US                     1                   2500",
      ].join("\n"),
    ),
    human,
  );
  assert.ok(
    human.includes(
      [
        "author_user_id            author_display_name  posts  likes  avg_engagement_rate",
        "------------------------  -------------------  -----  -----  -------------------",
        `${u1}  Alice 🌿                 2     30                  0.5`,
        `${u2}  Bob                      1      5                  0.5`,
      ].join("\n"),
    ),
    human,
  );
  assert.ok(!/password|banking|\$2b\$/i.test(stdout + human), "no secret in the report");
});

test("report on a database that holds none of the service's tables: one line, and the database left empty", async (t) => {
  const db = await testDatabase(t);
  const env = testEnv(db, { prefix: "unused.", dlq: "unused.dlq", all: [] });
  await assert.rejects(runCli(["report"], env), (err: { code?: number; stderr?: string }) => {
    assert.equal(err.code, 1);
    assert.match(
      err.stderr ?? "",
      /^analytics-service: report: database t_\w+ at [\w.]+:\d+ holds none of the service's tables; point MYSQL_DATABASE at the database the service writes, or run `analytics-service migrate` there first\n$/,
    );
    return true;
  });
  const tables = await db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()");
  assert.deepEqual(tables, [], "nothing created");
});

test("report as an account that may read only the report views, migrations left to MYSQL_MIGRATE_USER", async (t) => {
  const db = await testDatabase(t);
  const env = testEnv(db, { prefix: "unused.", dlq: "unused.dlq", all: [] });
  await runCli(["migrate"], env);
  const { user, password } = await testUser(t, db, null);
  for (const section of REPORT_SECTIONS)
    await db.conn.query(`GRANT SELECT ON \`${db.name}\`.\`report_${section.key}\` TO ?@'127.0.0.1'`, [user]);
  const asReader = {
    ...env,
    MYSQL_USER: user,
    MYSQL_PASSWORD: password,
    MYSQL_MIGRATE_USER: env.MYSQL_USER as string,
    MYSQL_MIGRATE_PASSWORD: env.MYSQL_PASSWORD as string,
  };
  const { stdout } = await runCli(["report", "--json"], asReader);
  assert.deepEqual(
    Object.keys(JSON.parse(stdout)),
    REPORT_SECTIONS.map((section) => section.key),
  );
});

test("report with a bad option: one line, exit status 2", async () => {
  await assert.rejects(runCli(["report", "--csv"], {}), (err: { code?: number; stderr?: string; stdout?: string }) => {
    assert.equal(err.code, 2);
    assert.equal(err.stdout, "");
    assert.equal(err.stderr, "analytics-service: report: unknown option --csv; try --help\n");
    return true;
  });
});

test("report over a view whose definer is gone names the definer, not the password that logged in", async (t) => {
  const db = await testDatabase(t);
  const env = testEnv(db, { prefix: "unused.", dlq: "unused.dlq", all: [] });
  await runCli(["migrate"], env);
  const [view] = await db.query<{ name: string }>(
    "SELECT TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME LIMIT 1",
  );
  const [created] = await db.query<Record<string, string>>(`SHOW CREATE VIEW \`${view?.name}\``);
  const sql = String(created?.["Create View"]).replace(/DEFINER=`[^`]*`@`[^`]*`/, "DEFINER=`gone`@`%`");
  await db.query(sql.replace(/^CREATE /, "CREATE OR REPLACE "));
  await assert.rejects(runCli(["report"], env), (err: { code?: number; stderr?: string }) => {
    assert.equal(err.code, 1);
    assert.match(
      err.stderr ?? "",
      /^analytics-service: report: the report_\* views can't run \(MySQL: The user specified as a definer \('gone'@'%'\) does not exist\): their definer is the account that applied the migrations \(\S+ if it still does\); create it again with SELECT on t_\w+, or recreate the views as an existing account\n$/,
    );
    return true;
  });
});

test("report lists at most MAX_REPORT_ROWS rows a section, the largest first, and says how many it left out", async (t) => {
  // Categories are stored as events send them: a producer can make as many as it likes, and the
  // report held every one in memory.
  const db = await testDatabase(t);
  const env = testEnv(db, { prefix: "unused.", dlq: "unused.dlq", all: [] });
  await runCli(["migrate"], env);
  const many = MAX_REPORT_ROWS + 5;
  const rows = Array.from({ length: many }, (_, i) => [hexId(i, "66c0"), `crafted-${String(i).padStart(5, "0")}`]);
  // One category with two products, which must be listed first whatever its name.
  rows.push([hexId(many, "66c0"), "zz-real"], [hexId(many + 1, "66c0"), "zz-real"]);
  await db.query(
    `INSERT INTO products (product_id, supplier_id, name, category, unit_type, base_price_cents, status, created_at, updated_at)
     VALUES ${rows.map(() => "(?, 's', 'n', ?, 'piece', 1, 'active', NOW(6), NOW(6))").join(", ")}`,
    rows.flat(),
  );
  const { stdout } = await runCli(["report", "--json"], env);
  const report = JSON.parse(stdout) as Record<string, unknown>;
  const listed = report.products_by_category_status as { category: string; products: number }[];
  assert.equal(listed.length, MAX_REPORT_ROWS);
  assert.deepEqual(listed[0], { category: "zz-real", status: "active", products: 2 });
  assert.deepEqual(report.rows_not_shown, { products_by_category_status: many + 1 - MAX_REPORT_ROWS });
  const { stdout: human } = await runCli(["report"], env);
  assert.match(
    human,
    new RegExp(
      `\\n… and ${many + 1 - MAX_REPORT_ROWS} more row\\(s\\) not listed \\(the first ${MAX_REPORT_ROWS} are\\)\\n`,
    ),
  );
});
