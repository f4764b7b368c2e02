import assert from "node:assert/strict";
import { test } from "node:test";
import { capUtf8, utf8Boundary } from "./utf8-cut.ts";

test("utf8Boundary cuts before a character that would not end by the cut, of 2, 3 or 4 bytes", () => {
  for (const ch of ["é", "€", "😀"]) {
    const bytes = Buffer.from(`a${ch}`);
    for (let max = 1; max < bytes.length; max++) assert.equal(utf8Boundary(bytes, max), 1, `${ch} at ${max}`);
    assert.equal(utf8Boundary(bytes, bytes.length), bytes.length, `${ch} whole`);
    assert.equal(utf8Boundary(bytes, 100), bytes.length, "past the end: the end");
  }
  assert.equal(utf8Boundary(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80]), 4), 4, "not UTF-8: cut where asked");
});

test("capUtf8 keeps a text that fits and cuts one that does not before a whole character, with an ellipsis", () => {
  assert.equal(capUtf8("abc", 3), "abc");
  assert.equal(capUtf8("a€€", 7), "a€€");
  assert.equal(capUtf8("a€€", 6), "a…", "a, then no room for € and the ellipsis");
  assert.equal(capUtf8("ab😀cd", 7), "ab…");
  assert.equal(Buffer.byteLength(capUtf8("€".repeat(100), 50)), 48);
});
