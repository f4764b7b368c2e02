import type { Config } from "../../src/config/index.ts";
import { prefixed, SOURCE_TOPICS } from "../../src/kafka/topics.ts";
import { loadStackConfig, type StackConfig } from "./config.ts";
import { databaseDown, databaseStatus, databaseUp } from "./database.ts";
import { bootstrapOf, ensureTopics, kafkaDown, kafkaStatus, kafkaUp } from "./kafka.ts";

// The local stack for development, demos and tests: one Kafka node and a MySQL-compatible
// server. `up` is idempotent and reuses what already answers; `down` stops only what it started.

export interface StackReport {
  kafka: string;
  database: string;
}

const describe = (what: string, s: { state: string; pid?: number }, where: string, extra = "") =>
  `${what.padEnd(8)} ${s.state === "down" ? "down" : "up"}  ${where}${extra}${
    s.state === "ours"
      ? `  (started by this project, pid ${s.pid})`
      : s.state === "external"
        ? "  (already running, not ours)"
        : ""
  }`;

export async function stackUp(stack: StackConfig, service: Config): Promise<StackReport> {
  const kafka = await kafkaUp(stack);
  await ensureTopics(kafka.bootstrap, stack.partitions, stackTopics(service));
  const db = await databaseUp(stack, service);
  return {
    kafka: describe("kafka", kafka, kafka.bootstrap, `  topics ready (${stack.partitions} partitions)`),
    database: describe(
      "database",
      db,
      db.address,
      `  ${db.version ?? ""}  database ${service.mysqlDatabase}, user ${service.mysqlUser}`,
    ),
  };
}

export async function stackStatus(stack: StackConfig): Promise<StackReport & { up: boolean }> {
  const kafka = await kafkaStatus(stack);
  const db = await databaseStatus(stack);
  return {
    up: kafka.state !== "down" && db.state !== "down",
    kafka: describe("kafka", kafka, kafka.bootstrap),
    database: describe("database", db, db.address, db.version ? `  ${db.version}` : ""),
  };
}

export async function stackDown(stack: StackConfig): Promise<string[]> {
  const stopped: string[] = [];
  if (await kafkaDown(stack)) stopped.push("kafka");
  if (await databaseDown(stack)) stopped.push("database");
  return stopped;
}

/** The topics the stack makes for `service`: its five source topics, under its prefix, and its dead-letter topic. */
export const stackTopics = (service: Config) => [
  ...prefixed(service.kafkaTopicPrefix, SOURCE_TOPICS),
  service.kafkaDlqTopic,
];

/**
 * The service's configuration pointed at the stack: its defaults (localhost:9092, localhost:3306)
 * are the stack's only while STACK_KAFKA_PORT and STACK_MYSQL_PORT keep theirs. Otherwise `run`
 * brought a stack up and then consumed from whatever else held the default ports.
 */
export function onStack(service: Config, stack: StackConfig): Config {
  return Object.freeze({
    ...service,
    kafkaBrokers: [bootstrapOf(stack)],
    mysqlHost: "127.0.0.1",
    mysqlPort: stack.mysqlPort,
  });
}

/** What `analytics-service run` calls when no Kafka or MySQL is configured: the stack, up, and the configuration to use it. */
export async function startLocalStack(service: Config): Promise<StackReport & { config: Config }> {
  const stack = loadStackConfig();
  return { ...(await stackUp(stack, service)), config: onStack(service, stack) };
}
