import type { RowDataPacket } from "mysql2/promise";
import type { Config } from "../config/index.ts";
import { migrateDatabase } from "../db/migrate.ts";
import { createPool, explainDbError, type Pool } from "../db/pool.ts";
import { errnoOf } from "../db/server-errors.ts";
import { ConfigError, isExpected, terminalSafeJson } from "../errors.ts";
import { parseOptions } from "./args.ts";
import { type Column, formatTable, type Row } from "./text-table.ts";

// `analytics-service report [--json]`: the data team's standing questions, answered from the
// report_* views of migration 003. The views keep all history; the windows are chosen here.

export interface ReportSection {
  /** Key of the section in the JSON output: the view's name without `report_`. */
  key: string;
  title: string;
  sql: string;
  columns: (Column & { numeric?: boolean })[];
}

const n = (key: string): Column & { numeric: boolean } => ({ key, numeric: true });
const s = (key: string): Column => ({ key });

export const REPORT_SECTIONS: readonly ReportSection[] = [
  {
    key: "signups_daily",
    title: "Sign-ups per day, last 30 days (UTC; days without sign-ups are not listed)",
    sql: "SELECT day, signups FROM report_signups_daily WHERE day >= CURRENT_DATE - INTERVAL 29 DAY ORDER BY day",
    columns: [s("day"), n("signups")],
  },
  {
    key: "signups_weekly",
    title: "Sign-ups per week, last 12 weeks (weeks start on Monday)",
    sql: `SELECT week_start, signups FROM report_signups_weekly
          WHERE week_start >= CURRENT_DATE - INTERVAL (WEEKDAY(CURRENT_DATE) + 77) DAY ORDER BY week_start`,
    columns: [s("week_start"), n("signups")],
  },
  {
    key: "users_active_deleted",
    title: "Users, active and deleted",
    sql: "SELECT active, deleted FROM report_users_active_deleted",
    columns: [n("active"), n("deleted")],
  },
  {
    key: "orders_by_country",
    title: "Orders and average order value by shipping country (cancelled orders left out)",
    sql: `SELECT shipping_country, orders, avg_order_value_cents FROM report_orders_by_country
          ORDER BY orders DESC, shipping_country`,
    columns: [s("shipping_country"), n("orders"), n("avg_order_value_cents")],
  },
  {
    key: "cancellation_rate",
    title: "Order cancellation rate",
    sql: "SELECT orders, cancelled, cancellation_rate FROM report_cancellation_rate",
    columns: [n("orders"), n("cancelled"), n("cancellation_rate")],
  },
  {
    key: "top_suppliers",
    title: "Top 10 suppliers by number of products",
    sql: `SELECT supplier_id, legal_name, products FROM report_top_suppliers
          ORDER BY products DESC, legal_name, supplier_id LIMIT 10`,
    columns: [s("supplier_id"), s("legal_name"), n("products")],
  },
  {
    key: "products_by_category_status",
    title: "Products by category and status",
    sql: `SELECT category, status, products FROM report_products_by_category_status
          ORDER BY products DESC, category, status`,
    columns: [s("category"), s("status"), n("products")],
  },
  {
    key: "variant_price_ranges",
    title: "Variant price ranges, the 10 widest",
    sql: `SELECT product_id, name, variants, min_price_cents, max_price_cents FROM report_variant_price_ranges
          ORDER BY max_price_cents - min_price_cents DESC, product_id LIMIT 10`,
    columns: [s("product_id"), s("name"), n("variants"), n("min_price_cents"), n("max_price_cents")],
  },
  {
    key: "posts_by_type",
    title: "Posts by type (soft-deleted posts left out)",
    sql: `SELECT post_type, posts, views, likes, comments, shares, avg_engagement_rate FROM report_posts_by_type
          ORDER BY posts DESC, post_type`,
    columns: [s("post_type"), n("posts"), n("views"), n("likes"), n("comments"), n("shares"), n("avg_engagement_rate")],
  },
  {
    key: "top_authors",
    title: "Top 10 authors by posts, then likes (soft-deleted posts left out)",
    sql: `SELECT author_user_id, author_display_name, posts, likes, avg_engagement_rate FROM report_top_authors
          ORDER BY posts DESC, likes DESC, author_user_id LIMIT 10`,
    columns: [s("author_user_id"), s("author_display_name"), n("posts"), n("likes"), n("avg_engagement_rate")],
  },
];

export type Report = Record<string, Row[]>;

/**
 * The most rows a section lists. Categories, countries and post types are stored as events send
 * them, so a producer can make a million of each: listed whole, the command held them all in
 * memory. A section's order puts the largest first; what is cut is counted and said.
 */
export const MAX_REPORT_ROWS = 1000;

/** Rows of each section that were not listed (MAX_REPORT_ROWS), by section key; only those cut. */
export type NotShown = Record<string, number>;

/**
 * The driver returns COUNT/SUM/DECIMAL values as strings (the pool keeps big numbers exact);
 * the report's numbers are small enough to be JSON numbers.
 */
export function toReportRow(section: ReportSection, raw: Row): Row {
  const row: Row = {};
  for (const c of section.columns) {
    const v = raw[c.key] ?? null;
    row[c.key] = c.numeric && v !== null ? Number(v) : v;
  }
  return row;
}

/** The report for people: each section's title, underlined, its table, and what it left out. */
export function formatReport(
  report: Report,
  notShown: NotShown = {},
  sections: readonly ReportSection[] = REPORT_SECTIONS,
): string {
  return sections
    .map((section) => {
      const cut = notShown[section.key];
      const more = cut === undefined ? "" : `… and ${cut} more row(s) not listed (the first ${MAX_REPORT_ROWS} are)\n`;
      return `${section.title}\n${"=".repeat(section.title.length)}\n${formatTable(section.columns, report[section.key] ?? [])}${more}`;
    })
    .join("\n");
}

/** ER_ACCESS_DENIED_ERROR (MariaDB, to a user without SUPER) and ER_NO_SUCH_USER (MySQL, root) for a view whose definer is gone. */
const DEFINER_GONE = new Set([1045, 1449]);

/**
 * A report view the server won't run because its definer, the account that applied migration
 * 003, no longer exists: said so, rather than blaming the password that just logged in.
 */
function definerGone(err: unknown, config: Config): ConfigError | undefined {
  if (!DEFINER_GONE.has(errnoOf(err) ?? 0)) return undefined;
  const migrator = config.mysqlMigrateUser || config.mysqlUser;
  return new ConfigError(
    `report: the report_* views can't run (MySQL: ${(err as Error).message}): their definer is the account that applied the migrations (${migrator} if it still does); create it again with SELECT on ${config.mysqlDatabase}, or recreate the views as an existing account`,
  );
}

/**
 * A database in which the account sees nothing of the service's (neither its migrations' record
 * nor a report view) is not the service's: a report there would create the schema in it (the
 * MYSQL_DATABASE of another program, a typo) and print empty tables. The views count too: an
 * account that may read only them sees no other table.
 */
async function refuseForeignDatabase(pool: Pool, config: Config): Promise<void> {
  const views = REPORT_SECTIONS.map((section) => `report_${section.key}`);
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)",
    [["schema_migrations", ...views]],
  );
  if (Number(rows[0]?.n) > 0) return;
  throw new ConfigError(
    `report: database ${config.mysqlDatabase} at ${config.mysqlHost}:${config.mysqlPort} holds none of the service's tables; point MYSQL_DATABASE at the database the service writes, or run \`analytics-service migrate\` there first`,
  );
}

/** Migrates (so the views exist; as MYSQL_MIGRATE_USER when set) and queries every section. */
export async function buildReport(config: Config): Promise<{ report: Report; notShown: NotShown }> {
  const pool = createPool(config);
  try {
    await refuseForeignDatabase(pool, config);
    await migrateDatabase(config, pool);
    // Logged in: a refusal from here on is the views', whose definer is the migrating account.
    await pool.query("SELECT 1");
    const report: Report = {};
    const notShown: NotShown = {};
    const query = (sql: string) =>
      pool.query<RowDataPacket[]>(sql).catch((err: unknown) => {
        throw definerGone(err, config) ?? err;
      });
    for (const section of REPORT_SECTIONS) {
      const [rows] = await query(
        /\bLIMIT\b/.test(section.sql) ? section.sql : `${section.sql} LIMIT ${MAX_REPORT_ROWS + 1}`,
      );
      if (rows.length > MAX_REPORT_ROWS) {
        rows.length = MAX_REPORT_ROWS;
        const [count] = await query(`SELECT COUNT(*) AS n FROM (${section.sql}) AS listed`);
        notShown[section.key] = Number(count[0]?.n) - MAX_REPORT_ROWS;
      }
      report[section.key] = rows.map((r) => toReportRow(section, r));
    }
    return { report, notShown };
  } catch (err) {
    throw isExpected(err) ? err : explainDbError(err, config);
  } finally {
    await pool.end();
  }
}

export interface ReportOptions {
  json: boolean;
}

/** `report [--json]`; anything else is a UsageError. */
export function reportOptions(args: readonly string[]): ReportOptions {
  return { json: parseOptions("report", args, { json: "boolean" }).json === true };
}

export async function runReport(
  config: Config,
  options: ReportOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { report, notShown } = await buildReport(config);
  const json = Object.keys(notShown).length > 0 ? { ...report, rows_not_shown: notShown } : report;
  out.write(options.json ? `${terminalSafeJson(JSON.stringify(json, null, 2))}\n` : formatReport(report, notShown));
  return 0;
}
