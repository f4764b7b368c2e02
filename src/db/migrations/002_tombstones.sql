-- Bookkeeping for "never backwards" (SPEC §8.3): when a supplier or product is hard-deleted its
-- row is gone, so the delete's timestamp is kept here. An event older than it does not bring the
-- entity back; one at least as new does.
CREATE TABLE entity_tombstones (
  entity_type VARCHAR(20) NOT NULL,
  entity_id VARCHAR(24) NOT NULL,
  deleted_event_timestamp DATETIME(6) NOT NULL,
  event_id VARCHAR(36) NOT NULL,
  PRIMARY KEY (entity_type, entity_id),
  KEY idx_tombstones_deleted (deleted_event_timestamp)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
