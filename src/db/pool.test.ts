import assert from "node:assert/strict";
import { test } from "node:test";
import { isBadDataError } from "./pool.ts";

test("isBadDataError: what the server refuses in an event's data, on either server, and nothing an outage raises", () => {
  // Duplicate key, too long, JSON MySQL refuses to store (key over 65,535 bytes, too big, too deep).
  for (const errno of [1062, 1406, 3140, 3150, 3151, 3157, 4025])
    assert.equal(isBadDataError({ errno }), true, String(errno));
  // Deadlock, lock wait timeout, lost connection, server gone, access denied: the database's trouble.
  for (const errno of [1213, 1205, 2013, 2006, 1045]) assert.equal(isBadDataError({ errno }), false, String(errno));
  assert.equal(isBadDataError(new Error("no errno")), false);
  assert.equal(isBadDataError(undefined), false);
});
