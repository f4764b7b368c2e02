import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ConfigOf, int, parseDeclaration, str } from "../../src/config/declare.ts";

export const PROJECT_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

// The local development stack: where it listens and how it reaches the database as an administrator.
export const stackDeclaration = {
  dir: str("STACK_DIR", resolve(PROJECT_ROOT, ".stack"), "Folder for the local stack's data, logs and pid files."),
  kafkaPort: int("STACK_KAFKA_PORT", 9092, "Port of the local Kafka broker (127.0.0.1).", 1, 65535),
  kafkaControllerPort: int("STACK_KAFKA_CONTROLLER_PORT", 9093, "Port of the local KRaft controller.", 1, 65535),
  kafkaHeapMb: int("STACK_KAFKA_HEAP_MB", 512, "Java heap of the local broker, in MiB.", 128, 16384),
  partitions: int("STACK_TOPIC_PARTITIONS", 6, "Partitions of each topic the stack creates.", 1, 1000),
  mysqlPort: int("STACK_MYSQL_PORT", 3306, "Port of the local MySQL-compatible server (127.0.0.1).", 1, 65535),
  mysqlBufferPoolMb: int(
    "STACK_MYSQL_BUFFER_POOL_MB",
    256,
    "InnoDB buffer pool of the MariaDB server the stack starts when none listens (MiB); a server already running keeps its own.",
    32,
    1048576,
  ),
  mysqlAdminUser: str(
    "STACK_MYSQL_ADMIN_USER",
    "root",
    "Account the stack and the tests use to create databases and users.",
  ),
  mysqlAdminPassword: str("STACK_MYSQL_ADMIN_PASSWORD", "", "Password of that account.", {
    secret: true,
    allowEmpty: true,
  }),
} as const;

export type StackConfig = ConfigOf<typeof stackDeclaration>;

export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  return parseDeclaration(stackDeclaration, env);
}
