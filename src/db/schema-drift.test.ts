import assert from "node:assert/strict";
import { test } from "node:test";
import { TABLES } from "../domains/registry.ts";
import { decodeValue } from "../testing/domain-helpers.ts";
import { loadFixtures } from "../testing/fixtures.ts";
import { TOMBSTONES_TABLE } from "../write/statements.ts";
import { readMigrations, splitStatements } from "./migration-files.ts";
import { createdBy, EXACT_KEY_COLUMNS, outageAdvice, tablesOf } from "./schema-drift.ts";

test("the tables and views the migrations leave: every one created, none dropped after", () => {
  const all = tablesOf(readMigrations().flatMap((m) => splitStatements(m.sql)));
  // Every table a domain writes (domains/registry.ts): a new domain without its migration fails here.
  for (const t of [...TABLES.map((t) => t.name), TOMBSTONES_TABLE]) {
    assert.ok(all.includes(t), `table ${t} is written by a domain but no migration creates it`);
  }
  for (const t of ["users", "suppliers", "products", "product_variants", "orders", "order_items", "posts"]) {
    assert.ok(all.includes(t), t);
  }
  assert.deepEqual(
    tablesOf(["CREATE TABLE a (x INT)", "CREATE OR REPLACE VIEW `v` AS SELECT 1", "DROP TABLE IF EXISTS a"]),
    ["v"],
  );
  assert.equal(createdBy("ALTER TABLE a ADD x INT"), undefined);
});

test("every child table's key within its parent compares exactly, and is checked for drift", () => {
  // A key column under utf8mb4_unicode_ci makes "A-1" and "a-1" one row: one entity's events overwrite
  // another's. A table's keys are exact by its definition (plan/ops.ts); the key its children are
  // told apart by within their parent is the flatten's, which its table.ts must name in `exact`.
  const childTables = new Set<string>();
  for (const e of loadFixtures()) {
    const { op } = decodeValue(Buffer.from(JSON.stringify(e.value)));
    if (op.kind !== "upsert" || op.children === undefined) continue;
    const { table, childKey } = op.children;
    childTables.add(table.name);
    assert.ok(
      EXACT_KEY_COLUMNS[table.name]?.includes(childKey),
      `${table.name}.${childKey} is not in its table's exact`,
    );
  }
  assert.deepEqual(
    [...childTables].sort(),
    TABLES.filter((t) => t.rowId !== undefined)
      .map((t) => t.name)
      .sort(),
  );
  assert.deepEqual(EXACT_KEY_COLUMNS[TOMBSTONES_TABLE], ["entity_type", "entity_id"]);
});

test("a hard-deleting table's name fits the tombstones' entity_type, VARCHAR(20) (migration 002)", () => {
  // Longer, and the server would refuse every tombstone: each of the table's deletes dead-lettered.
  for (const t of TABLES.filter((t) => t.tombstones)) assert.ok(t.name.length <= 20, t.name);
  assert.match(readMigrations().find((m) => m.version === 2)?.sql ?? "", /entity_type VARCHAR\(20\) NOT NULL/);
});

test("an error waiting alone won't end says what to put right; any other says nothing more", () => {
  const err = (errno: number) => Object.assign(new Error("x"), { errno });
  assert.match(outageAdvice(err(1146)), /changed by hand: put back what the migrations made\)$/);
  assert.match(
    outageAdvice(err(1290)),
    /read_only: a replica, or a failover under way\): point MYSQL_HOST at the primary/,
  );
  assert.match(outageAdvice(err(1205)), /FLUSH TABLES WITH READ LOCK/);
  for (const expired of [1820, 1862]) {
    assert.match(outageAdvice(err(expired)), /password of the service's MySQL account has expired: .*MYSQL_PASSWORD/);
  }
  assert.equal(outageAdvice(err(2013)), "");
  assert.equal(outageAdvice(new Error("no errno")), "");
});
