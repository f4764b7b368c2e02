import assert from "node:assert/strict";
import { test } from "node:test";
import { describeBadData, isBadDataError } from "./server-errors.ts";

test("isBadDataError: what the server refuses in an event's data, on either server, and nothing an outage raises", () => {
  // Duplicate key, too long, JSON MySQL refuses to store (key over 65,535 bytes, too big, too deep).
  for (const errno of [1062, 1406, 3140, 3150, 3151, 3157, 4025, 167])
    assert.equal(isBadDataError({ errno }), true, String(errno));
  // Deadlock, lock wait timeout, lost connection, server gone, access denied: the database's trouble.
  // 1467 too: InnoDB gives it for a timed-out wait on the AUTO-INC lock, not only for ids used up.
  for (const errno of [1213, 1205, 2013, 2006, 1045, 1467])
    assert.equal(isBadDataError({ errno }), false, String(errno));
  assert.equal(isBadDataError(new Error("no errno")), false);
  assert.equal(isBadDataError(undefined), false);
});

test("describeBadData names the column or key the server names last, never a value it quotes before", () => {
  const refused = (errno: number, code: string, sqlMessage: string) =>
    Object.assign(new Error(sqlMessage), { errno, code, sqlMessage });
  const cases: [number, string, string, string][] = [
    [1406, "ER_DATA_TOO_LONG", "Data too long for column 'email' at row 1", " on email"],
    [1062, "ER_DUP_ENTRY", "Duplicate entry 'column s3cr3t' for key 'order_number'", " on order_number"],
    [
      1366,
      "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
      "Incorrect integer value: 'for column s3cr3t' for column 'quantity' at row 1",
      " on quantity",
    ],
    [
      1292,
      "ER_TRUNCATED_WRONG_VALUE",
      "Incorrect datetime value: 'x' for column `analytics`.`posts`.`deleted_at` at row 1",
      " on deleted_at",
    ],
    [1062, "ER_DUP_ENTRY", "Duplicate entry '2147483647' for key 'order_items.PRIMARY'", " on PRIMARY"],
    [1048, "ER_BAD_NULL_ERROR", "Column 'name' cannot be null", " on name"],
    // A value quoted last, naming nothing after it: nothing is named.
    [1292, "ER_TRUNCATED_WRONG_VALUE", "Truncated incorrect DOUBLE value: 'x for key 'secret_word''", ""],
  ];
  for (const [errno, code, message, named] of cases) {
    assert.equal(describeBadData(refused(errno, code, message)), `MySQL error ${errno} (${code})${named}`, message);
  }
  assert.match(
    describeBadData(refused(167, "", "Out of range value for column 'id' at row 2")),
    /^MySQL error 167: a child table's AUTO_INCREMENT ids are used up/,
  );
});
