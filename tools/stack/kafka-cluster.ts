import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StackError } from "../../src/errors.ts";
import type { StackConfig } from "./config.ts";
import {
  clusterSettings,
  formatKafkaStorage,
  kafkaAnswers,
  kafkaClasspath,
  newClusterId,
  writeBrokerLog4j,
} from "./kafka.ts";
import { lastLines, ownedPid, removeFile, requireCommand, spawnDetached, stopPid, waitUntil } from "./process.ts";

// A cluster of two brokers of a test's own, for a test that stops one and watches its partitions
// and the group's coordinator move to the other: node 1 is broker and the cluster's only
// controller (so the cluster keeps its controller while node 2 is stopped), node 2 a broker only.
// The controller fences a broker whose heartbeats stop for 3 s, not the default 9 s, so the
// leaders move within seconds.

export interface KafkaNode {
  dir: string;
  /** `127.0.0.1:port` of its client listener. */
  address: string;
  pid: number;
}

export interface KafkaCluster {
  nodes: [KafkaNode, KafkaNode];
}

function properties(id: 1 | 2, dir: string, ports: { controller: number; brokers: [number, number] }): string {
  const listener = `PLAINTEXT://127.0.0.1:${ports.brokers[id - 1]}`;
  const controls = id === 1;
  return [
    `process.roles=${controls ? "broker,controller" : "broker"}`,
    `node.id=${id}`,
    `controller.quorum.voters=1@127.0.0.1:${ports.controller}`,
    `listeners=${listener}${controls ? `,CONTROLLER://127.0.0.1:${ports.controller}` : ""}`,
    `advertised.listeners=${listener}`,
    "controller.listener.names=CONTROLLER",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name=PLAINTEXT",
    `log.dirs=${join(dir, "data")}`,
    "broker.session.timeout.ms=3000",
    "broker.heartbeat.interval.ms=500",
    "min.insync.replicas=1",
    ...clusterSettings(2, 2, 2),
    "",
  ].join("\n");
}

/** Writes a node's files and formats its storage for the cluster `clusterId`; returns how to start it. */
function prepareNode(
  id: 1 | 2,
  dir: string,
  ports: { controller: number; brokers: [number, number] },
  clusterId: string,
  classpath: string,
) {
  mkdirSync(dir, { recursive: true });
  const props = join(dir, "server.properties");
  writeFileSync(props, properties(id, dir, ports));
  const log4j = writeBrokerLog4j(dir);
  formatKafkaStorage({ classpath, log4j, props, clusterId, what: `node ${id}'s storage` });
  return { props, log4j };
}

/**
 * Starts the two brokers on three consecutive ports from `firstPort` (the controller, node 1's
 * and node 2's client listeners), with their data under `dir`, in a folder of those ports': a
 * start that met a taken port is tried again on others (onPrivatePorts), and a storage formatted
 * for the cluster that failed can't be formatted again for the next.
 */
export async function kafkaClusterUp(
  stack: StackConfig,
  opts: { dir: string; firstPort: number },
): Promise<KafkaCluster> {
  requireCommand("java", "-version", "install a Java runtime 17 or newer (apt-get install default-jre-headless)");
  const p = opts.firstPort;
  const ports = { controller: p, brokers: [p + 1, p + 2] as [number, number] };
  const classpath = kafkaClasspath(stack);
  const clusterId = newClusterId();
  const nodes: KafkaNode[] = [];
  try {
    for (const id of [1, 2] as const) {
      const dir = join(opts.dir, `ports-${p}`, `node-${id}`);
      const { props, log4j } = prepareNode(id, dir, ports, clusterId, classpath);
      const pid = spawnDetached(
        "java",
        ["-Xms256m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"].concat([
          `-Dlog4j2.configurationFile=${log4j}`,
          "-cp",
          classpath,
          "kafka.Kafka",
          props,
        ]),
        join(dir, "server.log"),
        join(dir, "kafka.pid"),
      );
      nodes.push({ dir, address: `127.0.0.1:${ports.brokers[id - 1]}`, pid });
    }
    for (const node of nodes) {
      await waitUntil(() => kafkaAnswers(node.address, 2000), {
        timeoutMs: 90000,
        what: `the cluster's broker on ${node.address}`,
        alive: () => ownedPid(join(node.dir, "kafka.pid"), join(node.dir, "server.properties")) !== null,
      }).catch((err: Error) => {
        throw new StackError(`${err.message}; last lines of its log:\n${lastLines(join(node.dir, "server.log"))}`);
      });
    }
  } catch (err) {
    await kafkaClusterDown(nodes);
    throw err;
  }
  return { nodes: nodes as [KafkaNode, KafkaNode] };
}

/**
 * Stops the brokers that still run, each woken first (a stopped JVM does not stop). Node 2 before
 * node 1, the controller: a broker's controlled shutdown waits for the controller's consent (up to
 * five minutes), and without one it waited out the whole grace to be killed.
 */
export async function kafkaClusterDown(nodes: readonly KafkaNode[]): Promise<void> {
  for (const node of [...nodes].reverse()) {
    const pidFile = join(node.dir, "kafka.pid");
    if (ownedPid(pidFile, join(node.dir, "server.properties")) === null) continue;
    process.kill(node.pid, "SIGCONT");
    await stopPid(node.pid, 30000);
    removeFile(pidFile);
  }
}
