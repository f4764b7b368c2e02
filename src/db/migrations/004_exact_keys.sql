-- Keys compare exactly (SPEC §9): two ids, order numbers, item ids or variant keys that differ in
-- any character, case and trailing spaces included, are two rows. utf8mb4_unicode_ci ignores
-- case and trailing spaces, and utf8mb4_bin still ignores trailing spaces (PAD SPACE on both
-- MariaDB and MySQL), so every key column, and every column compared with one, takes the NO PAD
-- binary collation. Its name differs: utf8mb4_nopad_bin on MariaDB (10.2 and later),
-- utf8mb4_0900_bin on MySQL (8.0.17 and later). The migration runner cannot branch, so the name
-- is read from information_schema and each ALTER goes through PREPARE/EXECUTE.
--
-- Types, NULL-ness and defaults stay as SPEC §5 has them; only the collation changes. Rows are
-- kept: the character set is the same, and no two rows distinct under the old collation can be
-- equal under an exact one. Columns joined with one another (the report views join
-- products.supplier_id to suppliers, variants and items to their parents) all change, so no join
-- mixes two collations (MySQL refuses that: "Illegal mix of collations").
--
-- MySQL refuses to change a column a foreign key uses, and wants both ends of one in the same
-- collation, so the two foreign keys of 001 are dropped first and added again at the end (their
-- rows are checked again when they are). Every statement may run again: a migration that stopped
-- half way is run whole at the next start.

SET @exact_keys = (
  SELECT COLLATION_NAME FROM information_schema.COLLATIONS
  WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')
  ORDER BY COLLATION_NAME = 'utf8mb4_nopad_bin' DESC
  LIMIT 1
);

-- A server with neither stops here, before any change, with an "unknown column" error naming
-- what is missing (identifiers are at most 64 characters, hence the short text).
SET @exact_keys_sql = IF(@exact_keys IS NULL,
  'SELECT `needs MariaDB 10.2+ or MySQL 8.0.17+: no utf8mb4 NO PAD binary`',
  'SELECT 1');
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

-- What follows each key column's SPEC §5 type: every one of them is NOT NULL without a default.
SET @exact_keys_column = CONCAT(' CHARACTER SET utf8mb4 COLLATE ', @exact_keys, ' NOT NULL');

-- Foreign keys off (if a run that stopped half way has not already dropped them).
SET @exact_keys_sql = IF(
  EXISTS (SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS
    WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'product_variants' AND CONSTRAINT_NAME = 'fk_variants_product'),
  'ALTER TABLE product_variants DROP FOREIGN KEY fk_variants_product',
  'SELECT 1');
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = IF(
  EXISTS (SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS
    WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'order_items' AND CONSTRAINT_NAME = 'fk_items_order'),
  'ALTER TABLE order_items DROP FOREIGN KEY fk_items_order',
  'SELECT 1');
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

-- The key columns, one ALTER per table (each rebuilds its table once).
SET @exact_keys_sql = CONCAT('ALTER TABLE users MODIFY user_id VARCHAR(24)', @exact_keys_column);
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = CONCAT('ALTER TABLE suppliers MODIFY supplier_id VARCHAR(24)', @exact_keys_column);
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = CONCAT('ALTER TABLE products',
  ' MODIFY product_id VARCHAR(24)', @exact_keys_column,
  ', MODIFY supplier_id VARCHAR(24)', @exact_keys_column);
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = CONCAT('ALTER TABLE product_variants',
  ' MODIFY product_id VARCHAR(24)', @exact_keys_column,
  ', MODIFY variant_key VARCHAR(200)', @exact_keys_column);
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = CONCAT('ALTER TABLE orders',
  ' MODIFY order_id VARCHAR(24)', @exact_keys_column,
  ', MODIFY order_number VARCHAR(50)', @exact_keys_column,
  ', MODIFY customer_user_id VARCHAR(24)', @exact_keys_column);
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = CONCAT('ALTER TABLE order_items',
  ' MODIFY order_id VARCHAR(24)', @exact_keys_column,
  ', MODIFY item_id VARCHAR(50)', @exact_keys_column,
  ', MODIFY product_id VARCHAR(24)', @exact_keys_column,
  ', MODIFY supplier_id VARCHAR(24)', @exact_keys_column);
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = CONCAT('ALTER TABLE posts',
  ' MODIFY post_id VARCHAR(24)', @exact_keys_column,
  ', MODIFY author_user_id VARCHAR(24)', @exact_keys_column);
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = CONCAT('ALTER TABLE entity_tombstones',
  ' MODIFY entity_type VARCHAR(20)', @exact_keys_column,
  ', MODIFY entity_id VARCHAR(24)', @exact_keys_column);
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

-- Foreign keys back, as 001 made them (unless a run that stopped half way already added them).
-- Both ends now have the same collation, as MySQL requires. The existing indexes serve them.
SET @exact_keys_sql = IF(
  EXISTS (SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS
    WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'product_variants' AND CONSTRAINT_NAME = 'fk_variants_product'),
  'SELECT 1',
  'ALTER TABLE product_variants ADD CONSTRAINT fk_variants_product FOREIGN KEY (product_id) REFERENCES products (product_id) ON DELETE CASCADE');
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;

SET @exact_keys_sql = IF(
  EXISTS (SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS
    WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'order_items' AND CONSTRAINT_NAME = 'fk_items_order'),
  'SELECT 1',
  'ALTER TABLE order_items ADD CONSTRAINT fk_items_order FOREIGN KEY (order_id) REFERENCES orders (order_id) ON DELETE CASCADE');
PREPARE exact_keys_step FROM @exact_keys_sql;
EXECUTE exact_keys_step;
DEALLOCATE PREPARE exact_keys_step;
