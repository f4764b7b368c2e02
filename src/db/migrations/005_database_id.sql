-- Names this database, whatever host name or cluster node the service reaches it through.
-- Instances started with one KAFKA_GROUP_ID share its partitions, so they must write to one
-- database; each says this id in its group membership, and one that finds a member writing to
-- another database waits (src/consume/group-database.ts).
CREATE TABLE service_database (
  id TINYINT NOT NULL PRIMARY KEY,
  database_id CHAR(36) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO service_database (id, database_id) VALUES (1, UUID());
