import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { UsageError } from "./args.ts";
import { formatReport, MAX_REPORT_ROWS, REPORT_SECTIONS, reportOptions, toReportRow } from "./report.ts";

test("every section reads a view of migration 003, with the view's columns", () => {
  const migration = readFileSync(new URL("../db/migrations/003_report_views.sql", import.meta.url), "utf8");
  for (const s of REPORT_SECTIONS) {
    assert.match(migration, new RegExp(`CREATE OR REPLACE VIEW report_${s.key} AS`), s.key);
    assert.match(s.sql, new RegExp(`FROM report_${s.key}\\b`), s.key);
  }
});

test("toReportRow: counts and sums from the driver's strings become numbers; NULL stays null", () => {
  const section = REPORT_SECTIONS.find((s) => s.key === "orders_by_country");
  assert.ok(section);
  assert.deepEqual(toReportRow(section, { shipping_country: null, orders: "3", avg_order_value_cents: "4500.50" }), {
    shipping_country: null,
    orders: 3,
    avg_order_value_cents: 4500.5,
  });
});

test("formatReport: an underlined title per section, then its table", () => {
  const out = formatReport({ users_active_deleted: [{ active: 12, deleted: 3 }] });
  const title = "Users, active and deleted";
  assert.ok(
    out.includes(`${title}\n${"=".repeat(title.length)}\nactive  deleted\n------  -------\n    12        3\n`),
    out,
  );
  assert.equal(out.match(/^=+$/gm)?.length, REPORT_SECTIONS.length);
});

test("reportOptions: --json or nothing", () => {
  assert.deepEqual(reportOptions([]), { json: false });
  assert.deepEqual(reportOptions(["--json"]), { json: true });
  assert.throws(() => reportOptions(["--csv"]), UsageError);
});

test("formatReport: a section cut at MAX_REPORT_ROWS says how many rows it left out", () => {
  const out = formatReport(
    { products_by_category_status: [{ category: "a", status: "active", products: 9 }] },
    {
      products_by_category_status: 7,
    },
  );
  assert.ok(out.includes(`     9\n… and 7 more row(s) not listed (the first ${MAX_REPORT_ROWS} are)\n`), out);
  assert.equal(out.match(/more row\(s\) not listed/g)?.length, 1);
});
