import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { Admin } from "@platformatic/kafka";
import { parseDeclaration } from "../../src/config/declare.ts";
import { SOURCE_TOPICS } from "../../src/kafka/topics.ts";
import { type StackConfig, stackDeclaration } from "../../tools/stack/config.ts";
import { ensureTopics, kafkaDown, kafkaStatus, kafkaUp } from "../../tools/stack/kafka.ts";
import { type KafkaCluster, kafkaClusterDown, kafkaClusterUp } from "../../tools/stack/kafka-cluster.ts";
import { type PrivateServer, startPrivateServer, stopPrivateServer } from "../../tools/stack/mariadb-server.ts";
import { isPortOpen } from "../../tools/stack/process.ts";
import { stack as sharedStack, type TestTopics } from "./kafka.ts";

// Servers of a test's own (own data folder and ports), for a test that stops, pauses or
// reconfigures one: the shared stack is never disturbed. Each is removed after the test.

/** A MariaDB server of the test's own (own datadir and port), so the test may stop and start it. */
export async function testMariaServer(t: TestContext, bufferPoolMb?: number): Promise<PrivateServer> {
  const server: PrivateServer = { dir: mkdtempSync(join(tmpdir(), "analytics-mariadb-")), port: 0, bufferPoolMb };
  t.after(async () => {
    await stopPrivateServer(server, { kill: true }).catch(() => undefined);
    rmSync(server.dir, { recursive: true, force: true });
  });
  await onPrivatePorts(1, async (port) => {
    server.port = port;
    await startPrivateServer(server);
  });
  return server;
}

/**
 * The first of `count` consecutive ports nothing listens on, below Linux's ephemeral range
 * (32768 and up).
 */
export async function privatePort(count = 1): Promise<number> {
  for (;;) {
    const first = 20000 + Math.floor(Math.random() * (12000 - count));
    const ports = Array.from({ length: count }, (_, i) => first + i);
    if (!(await Promise.all(ports.map((p) => isPortOpen(p)))).includes(true)) return first;
  }
}

/**
 * Starts a server of the test's own on private ports. They lie below the ephemeral range, where
 * listen(0) and the client sockets of this machine take theirs; a port another test takes all
 * the same between the check and the bind makes the start be tried again on new ports.
 */
export async function onPrivatePorts<T>(count: number, start: (first: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await privatePort(count));
    } catch (err) {
      if (attempt === 3 || !/Address already in use|was taken by another program/.test((err as Error).message)) {
        throw err;
      }
    }
  }
}

/** The topics on a broker of the test's own: the five source topics without a prefix, and `analytics-dlq`. */
function privateTopics(): TestTopics {
  return { prefix: "", dlq: "analytics-dlq", all: [...SOURCE_TOPICS, "analytics-dlq"] };
}

/** A Kafka broker of the test's own, and how to reach it. */
export interface PrivateKafka {
  stack: StackConfig;
  /** `host:port`, for KAFKA_BOOTSTRAP_SERVERS. */
  broker: string;
  /** Its topics: the five source topics without a prefix, and `analytics-dlq`. */
  topics: TestTopics;
  /** The broker's process id while it runs (to SIGSTOP it, say). */
  pid(): Promise<number>;
}

/**
 * A broker of the test's own, holding the five source topics (no prefix) and `analytics-dlq` with
 * `partitions` each. Stopped after the test, woken first (a stopped broker does not stop).
 */
export async function testKafkaBroker(t: TestContext, partitions = 2): Promise<PrivateKafka> {
  const stack = await onPrivatePorts(2, async (kafkaPort) => {
    const dir = mkdtempSync(join(tmpdir(), "analytics-kafka-"));
    const attempt: StackConfig = parseDeclaration(stackDeclaration, {
      STACK_DIR: dir,
      STACK_KAFKA_PORT: String(kafkaPort),
      STACK_KAFKA_CONTROLLER_PORT: String(kafkaPort + 1),
      STACK_KAFKA_HEAP_MB: "256",
    });
    t.after(async () => {
      const { pid } = await kafkaStatus(attempt);
      if (pid !== undefined) process.kill(pid, "SIGCONT");
      await kafkaDown(attempt).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    });
    await kafkaUp(attempt);
    return attempt;
  });
  const broker = `127.0.0.1:${stack.kafkaPort}`;
  await ensureTopics(broker, partitions, [...SOURCE_TOPICS, "analytics-dlq"]);
  const pid = async () => {
    const { pid } = await kafkaStatus(stack);
    if (pid === undefined) throw new Error("the test's broker is not running");
    return pid;
  };
  return { stack, broker, topics: privateTopics(), pid };
}

/** A cluster of two brokers of the test's own (tools/stack/kafka-cluster.ts), with no topic yet; stopped after the test. */
export async function privateKafkaCluster(t: TestContext): Promise<KafkaCluster> {
  const dir = mkdtempSync(join(tmpdir(), "analytics-kafka-"));
  let nodes: KafkaCluster["nodes"] | undefined;
  t.after(async () => {
    if (nodes) await kafkaClusterDown(nodes).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const cluster = await onPrivatePorts(3, (firstPort) => kafkaClusterUp(sharedStack, { dir, firstPort }));
  nodes = cluster.nodes;
  return cluster;
}

/**
 * A cluster of two brokers of the test's own (tools/stack/kafka-cluster.ts), holding the five
 * source topics and `analytics-dlq`, each with two partitions on both brokers: partition 0 led
 * by node 1, partition 1 by node 2. Stopped after the test.
 */
export async function testKafkaCluster(t: TestContext): Promise<KafkaCluster & { topics: TestTopics }> {
  const cluster = await privateKafkaCluster(t);
  const topics = privateTopics();
  const admin = new Admin({ clientId: "analytics-test", bootstrapBrokers: [cluster.nodes[0].address] });
  try {
    const assignments = [
      { partition: 0, brokers: [1, 2] },
      { partition: 1, brokers: [2, 1] },
    ];
    await admin.createTopics({ topics: topics.all.map((topic) => ({ topic, assignments })) });
  } finally {
    await admin.close();
  }
  return { ...cluster, topics };
}
