import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { orderItemsTable, ordersTable } from "../domains/orders/table.ts";
import { postsTable } from "../domains/posts/table.ts";
import { productsTable, variantsTable } from "../domains/products/table.ts";
import { suppliersTable } from "../domains/suppliers/table.ts";
import { usersTable, userUpdateColumns } from "../domains/users/table.ts";
import { defineTable, type Row } from "../plan/ops.ts";
import { rowTuple, sqlLiteral } from "./sql-text.ts";
import {
  chunks,
  chunksBySize,
  deleteByKey,
  MAX_ROWS_PER_STATEMENT,
  rowBytes,
  STATEMENT_TEXT_BYTES,
  selectChildren,
  selectOwners,
  selectTombstones,
  selectVersions,
  TOMBSTONES_TABLE,
  updateRows,
  updateStoredRows,
  upsertRows,
  upsertTombstones,
  valueBytes,
  valuesBudget,
} from "./statements.ts";

const things = defineTable("things", "thing_id", ["thing_id", "code", "name", "event_timestamp"], {
  unique: ["code"],
  tombstones: true,
});

describe("reads under lock", () => {
  test("selectVersions", () => {
    assert.deepEqual(selectVersions(things, ["a", "b"]), {
      sql: "SELECT `thing_id` AS id, event_timestamp AS ts, `code` FROM `things` FORCE INDEX (PRIMARY) WHERE `thing_id` IN (?) FOR UPDATE",
      values: [["a", "b"]],
    });
  });

  test("selectOwners", () => {
    assert.deepEqual(selectOwners(things, "code", ["C1", "C2"]), {
      sql: "SELECT `thing_id` AS id FROM `things` WHERE `code` IN (?)",
      values: [["C1", "C2"]],
    });
  });

  test("selectTombstones", () => {
    assert.equal(TOMBSTONES_TABLE, "entity_tombstones");
    assert.deepEqual(selectTombstones(things, ["a"]), {
      sql: "SELECT entity_id AS id, deleted_event_timestamp AS ts FROM `entity_tombstones` FORCE INDEX (PRIMARY) WHERE entity_type = ? AND entity_id IN (?) FOR UPDATE",
      values: ["things", ["a"]],
    });
  });
});

describe("writes", () => {
  test("selectChildren: row id, parent and child key of the parents' children, a page at a time in key order", () => {
    const parts = defineTable("parts", "thing_id", ["thing_id", "part_key", "name"], { rowId: "id" });
    const head =
      "SELECT `id` AS row_id, `thing_id` AS parent, `part_key` AS child FROM `parts` WHERE `thing_id` IN (?)";
    assert.deepEqual(selectChildren(parts, "id", "part_key", ["a", "b"], 500), {
      sql: `${head} ORDER BY \`thing_id\`, \`part_key\` LIMIT 500`,
      values: [["a", "b"]],
    });
    assert.deepEqual(selectChildren(parts, "id", "part_key", ["a", "b"], 500, { row_id: 9, parent: "a", child: "k" }), {
      sql: `${head} AND (\`thing_id\` > ? OR (\`thing_id\` = ? AND \`part_key\` > ?)) ORDER BY \`thing_id\`, \`part_key\` LIMIT 500`,
      values: [["a", "b"], "a", "a", "k"],
    });
  });

  test("updateStoredRows: each row with its row id first; only the update columns change", () => {
    const parts = defineTable("parts", "thing_id", ["thing_id", "part_key", "name"], { rowId: "id" });
    assert.deepEqual(
      updateStoredRows(
        parts,
        "id",
        [
          [7, { thing_id: "a", part_key: "k1", name: "x" }],
          [9, { part_key: "k2", thing_id: "a" }],
        ],
        ["name"],
      ),
      {
        sql:
          "INSERT INTO `parts` (`id`, `thing_id`, `part_key`, `name`) VALUES (7,'a','k1','x'),(9,'a','k2',NULL) " +
          "ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)",
      },
    );
  });

  test("upsertRows: every table column in order, missing ones NULL, unknown keys ignored", () => {
    const s = upsertRows(
      things,
      [
        { thing_id: "a", code: "C1", name: "x", event_timestamp: "2026-02-11 10:00:00.000000" },
        { name: "y", thing_id: "b", extra: "ignored" },
      ],
      ["name", "event_timestamp"],
    );
    assert.deepEqual(s, {
      sql:
        "INSERT INTO `things` (`thing_id`, `code`, `name`, `event_timestamp`) " +
        "VALUES ('a','C1','x','2026-02-11 10:00:00.000000'),('b',NULL,'y',NULL) " +
        "ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `event_timestamp` = VALUES(`event_timestamp`)",
    });
  });

  test("upsertRows keeps 0 and empty strings (only absent or null become NULL), and escapes", () => {
    const s = upsertRows(things, [{ thing_id: "a'b", code: "", name: null, event_timestamp: 0 }], ["name"]);
    assert.ok(s.sql.includes("VALUES ('a\\'b','',NULL,0) ON"), s.sql);
  });

  test("upsertRows without update columns is a plain insert", () => {
    assert.deepEqual(upsertRows(things, [{ thing_id: "a" }], []), {
      sql: "INSERT INTO `things` (`thing_id`, `code`, `name`, `event_timestamp`) VALUES ('a',NULL,NULL,NULL)",
    });
  });

  test("upsertRows on a real table: created_at is inserted, never updated", () => {
    const s = upsertRows(usersTable, [{ user_id: "u" }], userUpdateColumns);
    assert.ok(s.sql.startsWith("INSERT INTO `users` (`user_id`, `email`, "));
    assert.ok(s.sql.includes("`created_at`, `updated_at`, `event_id`, `event_timestamp`) VALUES ('u',NULL,"));
    const assignments = s.sql.slice(s.sql.indexOf("ON DUPLICATE KEY UPDATE "));
    assert.ok(!assignments.includes("`created_at`"));
    assert.ok(!assignments.includes("`user_id`"));
    assert.ok(assignments.includes("`deleted_at` = VALUES(`deleted_at`)"));
    const tuple = s.sql.slice(s.sql.indexOf("VALUES (") + 8, s.sql.indexOf(") ON"));
    assert.equal(tuple.split(",").length, usersTable.columns.length);
  });

  test("deleteByKey: by the table's key, or by the column given", () => {
    assert.deepEqual(deleteByKey(things, ["a", "b"]), {
      sql: "DELETE `things` FROM `things` FORCE INDEX (PRIMARY) WHERE `thing_id` IN ('a','b')",
    });
    assert.deepEqual(deleteByKey(things, [3, 4], "id"), {
      sql: "DELETE `things` FROM `things` FORCE INDEX (PRIMARY) WHERE `id` IN (3,4)",
    });
  });

  test("updateRows: per column a CASE on the key, then the keys", () => {
    assert.deepEqual(
      updateRows(
        things,
        ["name", "code"],
        [
          { id: "a", set: { name: "x", code: null } },
          { id: "b", set: { code: "C", name: "y" } },
        ],
      ),
      {
        sql:
          "UPDATE `things` FORCE INDEX (PRIMARY) SET `name` = CASE `thing_id` WHEN 'a' THEN 'x' WHEN 'b' THEN 'y' END, " +
          "`code` = CASE `thing_id` WHEN 'a' THEN NULL WHEN 'b' THEN 'C' END WHERE `thing_id` IN ('a','b')",
      },
    );
  });

  test("upsertTombstones keeps the newest delete", () => {
    const s = upsertTombstones([
      { entityType: "products", id: "p1", ts: "2026-02-14 10:00:00.001000", eventId: "e1" },
      { entityType: "suppliers", id: "s1", ts: "2026-02-16 09:30:00.000000", eventId: "e2" },
    ]);
    assert.deepEqual(s, {
      sql:
        "INSERT INTO entity_tombstones (entity_type, entity_id, deleted_event_timestamp, event_id) " +
        "VALUES ('products','p1','2026-02-14 10:00:00.001000','e1'),('suppliers','s1','2026-02-16 09:30:00.000000','e2') " +
        "ON DUPLICATE KEY UPDATE event_id = IF(VALUES(deleted_event_timestamp) >= deleted_event_timestamp, VALUES(event_id), event_id), " +
        "deleted_event_timestamp = GREATEST(deleted_event_timestamp, VALUES(deleted_event_timestamp))",
    });
  });
});

describe("chunks", () => {
  test("splits in order, the last chunk holding the rest", () => {
    assert.deepEqual(chunks([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(chunks([1, 2, 3, 4], 2), [
      [1, 2],
      [3, 4],
    ]);
  });

  test("nothing gives no chunk (so no statement with an empty VALUES)", () => {
    assert.deepEqual(chunks([], 2), []);
    assert.deepEqual(chunks([]), []);
  });

  test("defaults to MAX_ROWS_PER_STATEMENT rows", () => {
    assert.equal(MAX_ROWS_PER_STATEMENT, 500);
    const items = Array.from({ length: 1001 }, (_, i) => i);
    const out = chunks(items);
    assert.deepEqual(
      out.map((c) => c.length),
      [500, 500, 1],
    );
    assert.deepEqual(out.flat(), items);
    assert.equal(chunks(items.slice(0, 500)).length, 1);
  });
});

describe("chunksBySize", () => {
  const bytes = (n: number) => n;

  test("sizes that add up to the budget exactly go in one statement; one byte more starts the next", () => {
    assert.deepEqual(chunksBySize([40, 60], 100, bytes), [[40, 60]]);
    assert.deepEqual(chunksBySize([40, 61], 100, bytes), [[40], [61]]);
    assert.deepEqual(chunksBySize([50, 50, 50, 50, 1], 100, bytes), [[50, 50], [50, 50], [1]]);
  });

  test("an item larger than the budget goes alone, its neighbours in statements of their own", () => {
    assert.deepEqual(chunksBySize([10, 500, 10, 10], 100, bytes), [[10], [500], [10, 10]]);
    assert.deepEqual(chunksBySize([500], 100, bytes), [[500]]);
  });

  test("at most maxRows items, however small", () => {
    const items = Array.from({ length: 2 * MAX_ROWS_PER_STATEMENT + 1 }, () => 1);
    assert.deepEqual(
      chunksBySize(items, 1e9, bytes).map((c) => c.length),
      [MAX_ROWS_PER_STATEMENT, MAX_ROWS_PER_STATEMENT, 1],
    );
    assert.deepEqual(
      chunksBySize([1, 1, 1], 1e9, bytes, 2).map((c) => c.length),
      [2, 1],
    );
  });

  test("nothing gives no chunk, and the order is kept", () => {
    assert.deepEqual(chunksBySize([], 100, bytes), []);
    const items = Array.from({ length: 50 }, (_, i) => (i * 37) % 90);
    assert.deepEqual(chunksBySize(items, 100, bytes).flat(), items);
  });
});

describe("byte estimates", () => {
  // Strings that escape to twice their bytes, multi-byte text, emoji, empty, numbers and NULL.
  const samples: Row[] = [
    { thing_id: "a", code: "'\"\\\n\r\t\u0000\u001a\b", name: "x".repeat(1000), event_timestamp: null },
    { thing_id: "ü€😀", code: "", name: "😀".repeat(300), event_timestamp: 2147483647 },
    { thing_id: "z", code: "'".repeat(777), name: -1.5e-300, event_timestamp: "2026-02-11 10:00:00.000000" },
  ];

  test("never below the text written: a value, a row in VALUES", () => {
    for (const row of samples) {
      for (const v of Object.values(row)) {
        assert.ok(valueBytes(v) >= Buffer.byteLength(sqlLiteral(v)), `value ${String(v).slice(0, 20)}`);
      }
      assert.ok(rowBytes(row, things.columns) >= Buffer.byteLength(rowTuple(row, things.columns)));
    }
  });

  test("a statement cut to the budget is within max_allowed_packet, escapes included", () => {
    const max = STATEMENT_TEXT_BYTES + 5000;
    const rows = Array.from({ length: 40 }, (_, i) => samples[i % samples.length] as Row);
    const parts = chunksBySize(rows, valuesBudget(max), (r) => rowBytes(r, things.columns));
    assert.ok(parts.length > 1);
    for (const part of parts) {
      const s = upsertRows(things, part, ["name"]);
      assert.ok(Buffer.byteLength(s.sql) + 1 <= max);
    }
  });

  test("the text around the values of every table's statements fits in STATEMENT_TEXT_BYTES", () => {
    const tables = [usersTable, suppliersTable, productsTable, variantsTable, ordersTable, orderItemsTable, postsTable];
    for (const table of tables) {
      const widest = [
        upsertRows(table, [], table.columns).sql,
        updateStoredRows(table, "id", [], table.columns).sql,
        updateRows(table, table.columns, []).sql,
      ];
      for (const sql of widest) assert.ok(sql.length < STATEMENT_TEXT_BYTES / 4, `${table.name}: ${sql.length}`);
    }
  });
});
