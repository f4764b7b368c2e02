import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { migrate } from "../../src/db/migrate.ts";
import { readMigrations, splitStatements } from "../../src/db/migration-files.ts";
import { EXACT_COLLATIONS, EXACT_KEY_COLUMNS as EXACT_KEY_COLUMNS_BY_TABLE } from "../../src/db/schema-drift.ts";
import { MigrationError } from "../../src/errors.ts";
import { testDatabase, testPool } from "../support/helpers.ts";

// The seven tables of docs/events.md#documents-and-tables, column by column, as the server reports them after the migrations.
// int(11) and longtext are how MariaDB spells INT and JSON; they are normalised to docs/events.md's words.

const TABLES_OF_THE_CONTRACT: Record<string, string> = {
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

// Keys: primary, unique and secondary indexes (name-independent; the five indexes docs/events.md
// names are checked by name below), and the two cascading foreign keys.
const KEYS_OF_THE_CONTRACT: Record<string, string[]> = {
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

test("migrations create the seven tables of docs/events.md#documents-and-tables exactly", async (t) => {
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
  for (const [table, expected] of Object.entries(TABLES_OF_THE_CONTRACT))
    assert.equal(actual.get(table), expected, table);

  const keys = await db.query<{ t: string; k: string }>(
    `SELECT TABLE_NAME AS t, CONCAT(IF(INDEX_NAME = 'PRIMARY', 'PRIMARY', IF(NON_UNIQUE = 0, 'UNIQUE', 'INDEX')),
       '(', GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX), ')') AS k
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE`,
  );
  for (const [table, expected] of Object.entries(KEYS_OF_THE_CONTRACT)) {
    assert.deepEqual(
      keys
        .filter((k) => k.t === table)
        .map((k) => k.k)
        .sort(),
      [...expected].sort(),
      table,
    );
  }

  // docs/events.md names five of the indexes: queries and hints written against the platform's
  // reference schema (`FORCE INDEX (idx_users_email)`) name them, so the names are part of the contract.
  const named = await db.query<{ t: string; k: string }>(
    `SELECT TABLE_NAME AS t, CONCAT(INDEX_NAME, '(', GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX), ')') AS k
     FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('users', 'suppliers') AND INDEX_NAME <> 'PRIMARY'
     GROUP BY TABLE_NAME, INDEX_NAME ORDER BY t, k`,
  );
  assert.deepEqual(
    named.map((r) => `${r.t}.${r.k}`),
    [
      "suppliers.idx_suppliers_country(country,state,city)",
      "suppliers.idx_suppliers_email(email)",
      "suppliers.idx_suppliers_legal_name(legal_name)",
      "users.idx_users_created(created_at)",
      "users.idx_users_email(email)",
    ],
  );

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
  for (const table of Object.keys(TABLES_OF_THE_CONTRACT)) {
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

// docs/events.md#bad-input: keys compare exactly. Every key column, and every column compared with one, has the
// NO PAD binary collation after 004 (MariaDB and MySQL name it differently).
const EXACT_KEY_COLUMNS = Object.entries(EXACT_KEY_COLUMNS_BY_TABLE).flatMap(([t, cs]) => cs.map((c) => `${t}.${c}`));
const NO_PAD_BINARY = [...EXACT_COLLATIONS];

test("004 keeps the rows made before it and makes every key column compare exactly", async (t) => {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  const all = readMigrations();
  const exactKeys = all.find((m) => m.version === 4);
  assert.equal(exactKeys?.name, "004_exact_keys.sql");
  await migrate(
    pool,
    all.filter((m) => m.version < 4),
  );

  const ts = "2026-02-11 09:38:25.123456";
  const id = (x: string) => x.padEnd(24, "0");
  const [u1, u2, s1, p1, o1, o2] = [id("u1"), id("u2"), id("s1"), id("p1"), id("o1"), id("o2")];
  const inserts: [string, unknown[]][] = [
    [
      "INSERT INTO users (user_id, email, display_name, avatar, created_at, updated_at, event_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?)",
      [u1, "a@example.com", "Noa 🌿", "x".repeat(5000), ts, ts, ts, u2, "b@example.com", "Émile", null, ts, ts, null],
    ],
    [
      "INSERT INTO suppliers (supplier_id, email, primary_phone, legal_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
      [s1, "s@example.com", "+1", "Cedar Ltd.", ts, ts],
    ],
    [
      "INSERT INTO products (product_id, supplier_id, name, category, unit_type, base_price_cents, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [p1, s1, "Mug", "home", "piece", 2500, "active", ts, ts],
    ],
    [
      "INSERT INTO product_variants (product_id, variant_key, variant_id, variant_name, attributes_json, price_cents) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
      [p1, "S", "v1", "Small", '{"size":"S"}', 2500, p1, "m", "v2", "Medium", "[]", 2700],
    ],
    [
      "INSERT INTO orders (order_id, order_number, customer_user_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
      [o1, "ORD-86", u1, "pending", ts, ts, o2, "ORD-87", u2, "cancelled", ts, ts],
    ],
    [
      "INSERT INTO order_items (order_id, item_id, product_id, supplier_id, quantity, unit_price_cents, final_price_cents, total_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      [o1, "item-1", p1, s1, 2, 2500, 2500, 5000],
    ],
    [
      "INSERT INTO posts (post_id, post_type, author_user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
      [p1, "text", u1, ts, ts],
    ],
    [
      "INSERT INTO entity_tombstones (entity_type, entity_id, deleted_event_timestamp, event_id) VALUES (?, ?, ?, ?)",
      ["suppliers", id("s2"), ts, "e1"],
    ],
  ];
  for (const [sql, values] of inserts) await db.query(sql, values);
  const tables = [...new Set(EXACT_KEY_COLUMNS.map((c) => c.split(".")[0] as string))];
  // The tables 004 found (a later migration's table is not there yet), whose rows it must keep.
  const existing = new Set(
    (
      await db.query<{ t: string }>(
        "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
      )
    ).map((r) => r.t),
  );
  const snapshot = async () => {
    const out: Record<string, unknown[]> = {};
    for (const table of tables.filter((t) => existing.has(t))) {
      out[table] = await db.query(`SELECT * FROM \`${table}\` ORDER BY 1, 2`);
    }
    return out;
  };
  const before = await snapshot();
  const reports = async () => {
    const out: Record<string, unknown[]> = {};
    for (const v of await db.query<{ v: string }>(
      "SELECT TABLE_NAME AS v FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1",
    )) {
      out[v.v] = await db.query(`SELECT * FROM \`${v.v}\``);
    }
    return out;
  };
  const reportsBefore = await reports();

  // A run that stopped half way, after dropping the foreign keys: the next start runs 004 whole.
  const statements = splitStatements(exactKeys?.sql ?? "");
  const firstAlter = statements.findIndex((st) => st.includes("ALTER TABLE users"));
  assert.ok(firstAlter > 0);
  for (const st of statements.slice(0, firstAlter)) await db.query(st);
  assert.deepEqual(
    await db.query(
      "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
    ),
    [],
  );
  assert.deepEqual(
    (await migrate(pool)).applied,
    all.filter((m) => m.version >= 4).map((m) => m.name),
    "004 and every migration after it",
  );

  assert.deepEqual(await snapshot(), before, "every row is kept as it was");
  assert.deepEqual(await reports(), reportsBefore, "the report views read the same");

  const columns = await db.query<{ c: string; collation: string; type: string }>(
    `SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) AS c, COLLATION_NAME AS collation,
       CONCAT(COLUMN_TYPE, IF(IS_NULLABLE = 'NO', ' NOT NULL', ''), IF(COLUMN_DEFAULT IS NULL OR COLUMN_DEFAULT = 'NULL', '', ' DEFAULT')) AS type
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)`,
    [tables],
  );
  const collation = new Map(columns.map((c) => [c.c, c.collation]));
  const [exact] = new Set(EXACT_KEY_COLUMNS.map((c) => collation.get(c)));
  assert.ok(NO_PAD_BINARY.includes(exact ?? ""), `key columns are ${exact}`);
  for (const c of EXACT_KEY_COLUMNS) assert.equal(collation.get(c), exact, c);
  for (const c of EXACT_KEY_COLUMNS) {
    assert.match(columns.find((x) => x.c === c)?.type ?? "", /^varchar\(\d+\) NOT NULL$/, c);
  }
  // Only the key columns changed: the columns schema-drift.ts checks are those 004 makes exact.
  assert.deepEqual(
    columns
      .filter((x) => x.collation === exact)
      .map((x) => x.c)
      .sort(),
    [...EXACT_KEY_COLUMNS].sort(),
  );
  assert.equal(collation.get("users.email"), "utf8mb4_unicode_ci");
  assert.equal(collation.get("orders.status"), "utf8mb4_unicode_ci");

  // Now they compare exactly: a trailing space or another case is another row.
  await db.query(
    "INSERT INTO product_variants (product_id, variant_key, variant_id, variant_name, price_cents) VALUES (?, 'S ', 'v3', 'x', 1), (?, 's', 'v4', 'x', 1)",
    [p1, p1],
  );
  await db.query(
    "INSERT INTO orders (order_id, order_number, customer_user_id, status, created_at, updated_at) VALUES (?, 'ORD-86 ', ?, 'pending', ?, ?)",
    [u2.toUpperCase(), u1, ts, ts],
  );
  assert.equal((await db.query("SELECT order_id FROM orders WHERE order_number = 'ORD-86'")).length, 1);
  assert.equal((await db.query("SELECT user_id FROM users WHERE user_id = ?", [u1.toUpperCase()])).length, 0);

  // The foreign keys are back and still cascade.
  await assert.rejects(
    db.query(
      "INSERT INTO order_items (order_id, item_id, product_id, supplier_id, quantity, unit_price_cents, final_price_cents, total_cents) VALUES (?, 'i', ?, ?, 1, 1, 1, 1)",
      [o1.toUpperCase(), p1, s1],
    ),
    /foreign key constraint fails/,
  );
  await db.query("DELETE FROM products WHERE product_id = ?", [p1]);
  assert.deepEqual(await db.query("SELECT id FROM product_variants"), []);
  await db.query("DELETE FROM orders WHERE order_id = ?", [o1]);
  assert.deepEqual(await db.query("SELECT id FROM order_items"), []);

  // Run again whole (as after a stop at its very end), it changes nothing.
  for (const st of statements) await db.query(st);
  assert.deepEqual(
    (
      await db.query<{ n: string }>(
        "SELECT CONSTRAINT_NAME AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY 1",
      )
    ).map((r) => r.n),
    ["fk_items_order", "fk_variants_product"],
  );
});
