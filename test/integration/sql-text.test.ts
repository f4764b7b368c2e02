import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { sqlLiteral } from "../../src/write/sql-text.ts";
import { testDatabase, testPool } from "../support/helpers.ts";

// The values the service writes into its statements' text, read back by the server through the
// service's own pool (its session settings): every string, whatever it holds, is itself again.

test("any Unicode string, written as a literal, is the same string to the server", async (t) => {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  const readBack = async (s: string) => {
    const [rows] = await pool.query(`SELECT ${sqlLiteral(s)} AS v`);
    return (rows as { v: string }[])[0]?.v;
  };
  for (const s of ["", "it's", "\\", "\\'", "'\\", "a\0b", "\u001a", "?", "??", "line\nbreak", '"', "😀ü€"]) {
    assert.equal(await readBack(s), s, JSON.stringify(s));
  }
  await fc.assert(
    fc.asyncProperty(
      fc.string({ unit: fc.constantFrom("'", "\\", "\0", '"', "?", "\n", "a", "😀", "ü", "%", "_") }),
      fc.string({ unit: "binary", maxLength: 50 }),
      async (special, any) => {
        assert.equal(await readBack(special), special);
        assert.equal(await readBack(any), any);
      },
    ),
    { numRuns: 300 },
  );
});

test("numbers, as the documents hold them, are the same numbers to the server", async (t) => {
  const db = await testDatabase(t);
  const pool = testPool(t, db);
  for (const n of [0, -1, 2147483647, -2147483648, 1.5, -0.25, 1e21, 1.5e-300, 2 ** 64]) {
    const [rows] = await pool.query(`SELECT CAST(${sqlLiteral(n)} AS DOUBLE) AS v`);
    assert.equal(Number((rows as { v: unknown }[])[0]?.v), n, String(n));
  }
});
