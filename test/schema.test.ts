import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { migrate, readMigrations } from "../src/db/migrate.ts";
import { MigrationError } from "../src/errors.ts";
import { testDatabase, testPool } from "./helpers.ts";

// The seven tables of SPEC §5, column by column, as the server reports them after the migrations.
// int(11) and longtext are how MariaDB spells INT and JSON; they are normalised to SPEC's words.

const SPEC_TABLES: Record<string, string> = {
  users:
    "user_id varchar(24) NOT NULL, email varchar(255) NOT NULL, phone varchar(50), display_name varchar(100) NOT NULL, avatar text, bio varchar(500), version int DEFAULT 1, deleted_at datetime(6), created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL, event_id varchar(36), event_timestamp datetime(6)",
  suppliers:
    "supplier_id varchar(24) NOT NULL, email varchar(255) NOT NULL, primary_phone varchar(50) NOT NULL, contact_person_name varchar(200), contact_person_title varchar(200), contact_person_email varchar(255), contact_person_phone varchar(50), legal_name varchar(200) NOT NULL, dba_name varchar(200), street_address_1 varchar(200), street_address_2 varchar(200), city varchar(100), state varchar(100), zip_code varchar(20), country varchar(2), support_email varchar(255), support_phone varchar(50), facebook_url text, instagram_handle varchar(100), twitter_handle varchar(100), linkedin_url text, timezone varchar(50), created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL, event_id varchar(36), event_timestamp datetime(6)",
  products:
    "product_id varchar(24) NOT NULL, supplier_id varchar(24) NOT NULL, supplier_name varchar(200), name varchar(200) NOT NULL, short_description varchar(500), category varchar(50) NOT NULL, unit_type varchar(20) NOT NULL, base_sku varchar(100), brand varchar(100), base_price_cents int NOT NULL, status varchar(20) NOT NULL, view_count int DEFAULT 0, favorite_count int DEFAULT 0, purchase_count int DEFAULT 0, total_reviews int DEFAULT 0, published_at datetime(6), created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL, event_id varchar(36), event_timestamp datetime(6)",
  product_variants:
    "id int NOT NULL auto_increment, product_id varchar(24) NOT NULL, variant_key varchar(200) NOT NULL, variant_id varchar(100) NOT NULL, variant_name varchar(200) NOT NULL, attributes_json json, price_cents int NOT NULL, cost_cents int, quantity int DEFAULT 0, width_cm double, height_cm double, depth_cm double, image_url text",
  orders:
    "order_id varchar(24) NOT NULL, order_number varchar(50) NOT NULL, customer_user_id varchar(24) NOT NULL, customer_display_name varchar(200), customer_email varchar(255), customer_phone varchar(50), shipping_recipient_name varchar(200), shipping_phone varchar(50), shipping_street_1 varchar(200), shipping_street_2 varchar(200), shipping_city varchar(100), shipping_state varchar(100), shipping_zip_code varchar(20), shipping_country varchar(2), status varchar(20) NOT NULL, created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL, event_id varchar(36), event_timestamp datetime(6)",
  order_items:
    "id int NOT NULL auto_increment, order_id varchar(24) NOT NULL, item_id varchar(50) NOT NULL, product_id varchar(24) NOT NULL, supplier_id varchar(24) NOT NULL, product_name varchar(200), variant_name varchar(200), variant_attributes_json json, image_url text, supplier_name varchar(200), quantity int NOT NULL, unit_price_cents int NOT NULL, final_price_cents int NOT NULL, total_cents int NOT NULL, fulfillment_status varchar(20), shipped_quantity int DEFAULT 0, tracking_number varchar(100), carrier varchar(100), shipped_at datetime(6), delivered_at datetime(6)",
  posts:
    "post_id varchar(24) NOT NULL, post_type varchar(20) NOT NULL, author_user_id varchar(24) NOT NULL, author_display_name varchar(200), author_avatar text, author_type varchar(20), text_content text, media_json json, link_url text, link_title varchar(200), link_description varchar(500), link_image text, link_site_name varchar(200), view_count int DEFAULT 0, like_count int DEFAULT 0, comment_count int DEFAULT 0, share_count int DEFAULT 0, save_count int DEFAULT 0, engagement_rate double DEFAULT 0, last_comment_at datetime(6), deleted_at datetime(6), published_at datetime(6), created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL, event_id varchar(36), event_timestamp datetime(6)",
};

// Keys: primary, unique and secondary indexes (name-independent), and the two cascading foreign keys.
const SPEC_KEYS: Record<string, string[]> = {
  users: ["PRIMARY(user_id)", "INDEX(created_at)", "INDEX(email)"],
  suppliers: ["PRIMARY(supplier_id)", "INDEX(country,state,city)", "INDEX(email)", "INDEX(legal_name)"],
  products: ["PRIMARY(product_id)", "INDEX(category)", "INDEX(created_at)", "INDEX(status)", "INDEX(supplier_id)"],
  product_variants: ["PRIMARY(id)", "INDEX(product_id)", "UNIQUE(product_id,variant_key)"],
  orders: [
    "PRIMARY(order_id)",
    "INDEX(created_at)",
    "INDEX(customer_user_id)",
    "INDEX(status)",
    "UNIQUE(order_number)",
  ],
  order_items: ["PRIMARY(id)", "INDEX(order_id)", "INDEX(product_id)", "UNIQUE(order_id,item_id)"],
  posts: ["PRIMARY(post_id)", "INDEX(author_user_id)", "INDEX(created_at)", "INDEX(post_type)", "INDEX(published_at)"],
};

test("migrations create the seven tables of SPEC §5 exactly", async (t) => {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  const result = await migrate(pool);
  assert.deepEqual(
    result.applied,
    readMigrations().map((m) => m.name),
  );

  const columns = await db.query<{ t: string; c: string }>(
    `SELECT TABLE_NAME AS t, GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE,
       IF(IS_NULLABLE = 'NO', ' NOT NULL', ''),
       IF(COLUMN_DEFAULT IS NULL OR COLUMN_DEFAULT = 'NULL', '', CONCAT(' DEFAULT ', TRIM(BOTH '''' FROM COLUMN_DEFAULT))),
       IF(EXTRA LIKE '%auto_increment%', ' auto_increment', ''))
       ORDER BY ORDINAL_POSITION SEPARATOR ', ') AS c
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() GROUP BY TABLE_NAME`,
  );
  const actual = new Map(columns.map((r) => [r.t, r.c.replace(/int\(11\)/g, "int").replace(/longtext/g, "json")]));
  for (const [table, expected] of Object.entries(SPEC_TABLES)) assert.equal(actual.get(table), expected, table);

  const keys = await db.query<{ t: string; k: string }>(
    `SELECT TABLE_NAME AS t, CONCAT(IF(INDEX_NAME = 'PRIMARY', 'PRIMARY', IF(NON_UNIQUE = 0, 'UNIQUE', 'INDEX')),
       '(', GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX), ')') AS k
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE`,
  );
  for (const [table, expected] of Object.entries(SPEC_KEYS)) {
    assert.deepEqual(
      keys
        .filter((k) => k.t === table)
        .map((k) => k.k)
        .sort(),
      [...expected].sort(),
      table,
    );
  }

  const fks = await db.query(
    `SELECT k.TABLE_NAME AS t, k.COLUMN_NAME AS c, k.REFERENCED_TABLE_NAME AS rt, k.REFERENCED_COLUMN_NAME AS rc, r.DELETE_RULE AS d
     FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r
       ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
     WHERE k.TABLE_SCHEMA = DATABASE() ORDER BY t`,
  );
  assert.deepEqual(fks, [
    { t: "order_items", c: "order_id", rt: "orders", rc: "order_id", d: "CASCADE" },
    { t: "product_variants", c: "product_id", rt: "products", rc: "product_id", d: "CASCADE" },
  ]);

  const engines = await db.query<{ t: string; e: string; c: string }>(
    "SELECT TABLE_NAME AS t, ENGINE AS e, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
  );
  for (const table of Object.keys(SPEC_TABLES)) {
    const row = engines.find((e) => e.t === table);
    assert.equal(row?.e, "InnoDB", table);
    assert.match(row?.c ?? "", /^utf8mb4_/, table);
  }

  assert.deepEqual((await migrate(pool)).applied, [], "a second run applies nothing");
});

test("a migration changed after it was applied stops the service with one clear line", async (t) => {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "001_first.sql"), "CREATE TABLE a (id INT PRIMARY KEY);\n");
  assert.deepEqual((await migrate(pool, readMigrations(dir))).applied, ["001_first.sql"]);
  writeFileSync(join(dir, "001_first.sql"), "CREATE TABLE a (id BIGINT PRIMARY KEY);\n");
  await assert.rejects(migrate(pool, readMigrations(dir)), (err: unknown) => {
    assert.ok(err instanceof MigrationError);
    assert.match(err.message, /^migration 001_first\.sql was changed after it was applied: restore the file/);
    return true;
  });
});
