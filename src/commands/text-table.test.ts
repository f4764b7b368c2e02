import assert from "node:assert/strict";
import { test } from "node:test";
import { cellText, displayWidth, formatTable } from "./text-table.ts";

test("formatTable: header, rule, rows; numbers right-aligned, text left-aligned", () => {
  const out = formatTable(
    ["shipping_country", "orders", { key: "avg", title: "avg_cents" }],
    [
      { shipping_country: "IL", orders: 12, avg: 4500.5 },
      { shipping_country: "US", orders: 3, avg: 250 },
    ],
  );
  assert.equal(
    out,
    [
      "shipping_country  orders  avg_cents",
      "----------------  ------  ---------",
      "IL                    12     4500.5",
      "US                     3        250",
      "",
    ].join("\n"),
  );
});

test("formatTable: every line of a table has the same column starts", () => {
  const out = formatTable(
    ["a", "b", "c"],
    [
      { a: "x", b: 1, c: "long text here" },
      { a: "longer", b: 12345, c: "y" },
    ],
  );
  const lines = out.trimEnd().split("\n");
  const rule = lines[1] ?? "";
  const starts = [...rule.matchAll(/-+/g)].map((m) => m.index);
  assert.deepEqual(starts, [0, 8, 15]);
  for (const line of lines.slice(2)) {
    for (const s of starts.slice(1)) assert.equal(line[(s ?? 0) - 1], " ", `a gap before column ${s}: ${line}`);
  }
});

test("formatTable: NULL shows as -, a column of NULLs and numbers is still numeric", () => {
  const out = formatTable(
    ["k", "n"],
    [
      { k: null, n: null },
      { k: "a", n: 7 },
    ],
  );
  assert.equal(out, ["k  n", "-  -", "-  -", "a  7", ""].join("\n"));
});

test("formatTable: an explicit alignment wins; no rows says so", () => {
  assert.equal(formatTable([{ key: "id", align: "right" }], []), "id\n--\n(no rows)\n");
  assert.equal(formatTable([{ key: "n", align: "left" }], [{ n: 1 }, { n: 100 }]), "n\n---\n1\n100\n");
});

test("formatTable: numeric strings stay text (left-aligned); trailing spaces are trimmed", () => {
  assert.equal(formatTable(["code", "x"], [{ code: "0042", x: "" }]), "code  x\n----  -\n0042\n");
});

test("cellText: control characters become spaces, bidirectional controls escapes, objects JSON", () => {
  assert.equal(cellText("a\nb\tc"), "a b c");
  assert.equal(cellText("key \u202egnp.exe\u2028x"), "key \\u202egnp.exe\\u2028x");
  assert.equal(cellText({ a: 1 }), '{"a":1}');
  assert.equal(cellText(undefined), "-");
  assert.equal(cellText(10n), "10");
});

test("displayWidth: emoji and CJK take two columns, combining marks none", () => {
  assert.equal(displayWidth("abc"), 3);
  assert.equal(displayWidth("Noa Levi 🌿"), 11);
  assert.equal(displayWidth("日本"), 4);
  assert.equal(displayWidth("e\u0301"), 1);
  assert.equal(displayWidth("שלום"), 4);
  assert.equal(displayWidth("👩‍👩‍👧"), 2, "a family emoji is one grapheme cluster, two columns");
  assert.equal(displayWidth("🇮🇱"), 2, "a flag is one cluster of two regional indicators");
  const out = formatTable(
    ["name", "n"],
    [
      { name: "🌿", n: 1 },
      { name: "ab", n: 2 },
    ],
  );
  assert.equal(out, ["name  n", "----  -", "🌿    1", "ab    2", ""].join("\n"));
});

test("formatTable: two hundred thousand rows (a large dead-letter topic) format without overflowing the stack", () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => ({ n: i, text: i === 123_456 ? "the widest cell" : "x" }));
  const lines = formatTable(["n", "text"], rows).split("\n");
  assert.equal(lines[0], "     n  text");
  assert.equal(lines[123_458], "123456  the widest cell");
});
