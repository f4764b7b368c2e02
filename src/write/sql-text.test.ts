import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { inList, insertedRows } from "../testing/sql-values.ts";
import { rowTuple, sqlList, sqlLiteral } from "./sql-text.ts";

describe("sqlLiteral", () => {
  test("NULL, numbers as MySQL reads them, strings quoted", () => {
    assert.equal(sqlLiteral(null), "NULL");
    assert.equal(sqlLiteral(0), "0");
    assert.equal(sqlLiteral(-2147483648), "-2147483648");
    assert.equal(sqlLiteral(1.5e-300), "1.5e-300");
    assert.equal(sqlLiteral(""), "''");
    assert.equal(sqlLiteral("plain ü 😀"), "'plain ü 😀'");
  });

  test("only the quote, the backslash and NUL are escaped; line breaks, double quotes and ? stand for themselves", () => {
    assert.equal(sqlLiteral("it's"), "'it\\'s'");
    assert.equal(sqlLiteral("C:\\dir"), "'C:\\\\dir'");
    assert.equal(sqlLiteral("a\0b"), "'a\\0b'");
    assert.equal(sqlLiteral('{"a":"\\"x\\""}'), '\'{"a":"\\\\"x\\\\""}\'');
    assert.equal(sqlLiteral("line\nbreak\r\t\u001a ? %_"), "'line\nbreak\r\t\u001a ? %_'");
    assert.equal(sqlLiteral("\\'"), "'\\\\\\''");
  });

  test("any string reads back as itself (the tests' reader, as the server reads it: test/integration/sql-text)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        assert.deepEqual(inList(`x IN (${sqlLiteral(s)})`), [s]);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("rowTuple and sqlList", () => {
  test("a row in the columns' order, absent columns NULL, an optional leading value", () => {
    const row = { b: "x", a: 1, c: null };
    assert.equal(rowTuple(row, ["a", "b", "c", "d"]), "(1,'x',NULL,NULL)");
    assert.equal(rowTuple(row, ["b"], 7), "(7,'x')");
    assert.deepEqual(insertedRows(`INSERT INTO t VALUES ${rowTuple(row, ["a", "b"])},${rowTuple(row, ["c"])}`), [
      [1, "x"],
      [null],
    ]);
  });

  test("a list of values, comma-separated", () => {
    assert.equal(sqlList(["a", 2, null]), "'a',2,NULL");
    assert.equal(sqlList([]), "");
  });
});
