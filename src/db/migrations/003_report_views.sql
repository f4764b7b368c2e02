-- Views answering the data team's recurring questions (`analytics-service report` prints them).
-- Each names its columns explicitly and reads only the analytics tables, which never hold a
-- password hash or banking detail, so no view can expose one. Plain SQL that MySQL 8.0 and
-- MariaDB 10.11 both accept, every selected column grouped or aggregated (ONLY_FULL_GROUP_BY).
-- The views keep all history; the report command picks windows (last 30 days, top 10, ...).
-- Dates are UTC, as every DATETIME(6) column is.

-- Sign-ups per UTC day: every user row by its created_at, deleted users included (they did sign up).
CREATE OR REPLACE VIEW report_signups_daily AS
SELECT d.day AS day, COUNT(*) AS signups
FROM (SELECT DATE(created_at) AS day FROM users) d
GROUP BY d.day;

-- Sign-ups per week; a week starts on Monday (WEEKDAY: Monday = 0).
CREATE OR REPLACE VIEW report_signups_weekly AS
SELECT w.week_start AS week_start, COUNT(*) AS signups
FROM (SELECT DATE_SUB(DATE(created_at), INTERVAL WEEKDAY(created_at) DAY) AS week_start FROM users) w
GROUP BY w.week_start;

-- Users now active (deleted_at NULL) and soft-deleted.
CREATE OR REPLACE VIEW report_users_active_deleted AS
SELECT COUNT(*) - COUNT(deleted_at) AS active, COUNT(deleted_at) AS deleted
FROM users;

-- Orders and average order value per shipping country, cancelled orders left out of both.
-- An order's value is the sum of its items' total_cents (0 for an order without items).
CREATE OR REPLACE VIEW report_orders_by_country AS
SELECT o.shipping_country AS shipping_country,
  COUNT(*) AS orders,
  ROUND(AVG(COALESCE(t.order_value_cents, 0)), 2) AS avg_order_value_cents
FROM orders o
LEFT JOIN (SELECT order_id, SUM(total_cents) AS order_value_cents FROM order_items GROUP BY order_id) t
  ON t.order_id = o.order_id
WHERE o.status <> 'cancelled'
GROUP BY o.shipping_country;

-- All orders, the cancelled ones, and their share as a fraction (NULL while there are no orders).
CREATE OR REPLACE VIEW report_cancellation_rate AS
SELECT COUNT(*) AS orders,
  COUNT(CASE WHEN status = 'cancelled' THEN 1 END) AS cancelled,
  ROUND(COUNT(CASE WHEN status = 'cancelled' THEN 1 END) / NULLIF(COUNT(*), 0), 4) AS cancellation_rate
FROM orders;

-- Suppliers by their number of product rows, most first. Only suppliers that exist: products
-- of a hard-deleted supplier are not counted for anyone.
CREATE OR REPLACE VIEW report_top_suppliers AS
SELECT s.supplier_id AS supplier_id, s.legal_name AS legal_name, COUNT(*) AS products
FROM suppliers s
JOIN products p ON p.supplier_id = s.supplier_id
GROUP BY s.supplier_id, s.legal_name
ORDER BY products DESC, legal_name, supplier_id;

-- Product rows per category and status.
CREATE OR REPLACE VIEW report_products_by_category_status AS
SELECT category, status, COUNT(*) AS products
FROM products
GROUP BY category, status;

-- Per product with variants: how many, and the cheapest and dearest variant price.
CREATE OR REPLACE VIEW report_variant_price_ranges AS
SELECT p.product_id AS product_id, p.name AS name, COUNT(*) AS variants,
  MIN(v.price_cents) AS min_price_cents, MAX(v.price_cents) AS max_price_cents
FROM products p
JOIN product_variants v ON v.product_id = p.product_id
GROUP BY p.product_id, p.name;

-- Posts per type with their summed counters and mean engagement rate; soft-deleted posts left out.
CREATE OR REPLACE VIEW report_posts_by_type AS
SELECT post_type, COUNT(*) AS posts,
  COALESCE(SUM(view_count), 0) AS views,
  COALESCE(SUM(like_count), 0) AS likes,
  COALESCE(SUM(comment_count), 0) AS comments,
  COALESCE(SUM(share_count), 0) AS shares,
  ROUND(AVG(engagement_rate), 4) AS avg_engagement_rate
FROM posts
WHERE deleted_at IS NULL
GROUP BY post_type;

-- Authors by posts (then likes), soft-deleted posts left out. Posts carry a snapshot of the
-- author's name; the greatest one stands for the author.
CREATE OR REPLACE VIEW report_top_authors AS
SELECT author_user_id, MAX(author_display_name) AS author_display_name, COUNT(*) AS posts,
  COALESCE(SUM(like_count), 0) AS likes,
  ROUND(AVG(engagement_rate), 4) AS avg_engagement_rate
FROM posts
WHERE deleted_at IS NULL
GROUP BY author_user_id
ORDER BY posts DESC, likes DESC, author_user_id;
