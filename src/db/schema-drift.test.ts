import assert from "node:assert/strict";
import { test } from "node:test";
import { readMigrations, splitStatements } from "./migration-files.ts";
import { createdBy, outageAdvice, tablesOf } from "./schema-drift.ts";

test("the tables and views the migrations leave: every one created, none dropped after", () => {
  const all = tablesOf(readMigrations().flatMap((m) => splitStatements(m.sql)));
  for (const t of ["users", "suppliers", "products", "product_variants", "orders", "order_items", "posts"]) {
    assert.ok(all.includes(t), t);
  }
  assert.deepEqual(
    tablesOf(["CREATE TABLE a (x INT)", "CREATE OR REPLACE VIEW `v` AS SELECT 1", "DROP TABLE IF EXISTS a"]),
    ["v"],
  );
  assert.equal(createdBy("ALTER TABLE a ADD x INT"), undefined);
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
