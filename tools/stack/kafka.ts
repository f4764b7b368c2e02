import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Admin } from "@platformatic/kafka";
import { afterOutcome, StackError } from "../../src/errors.ts";
import type { StackConfig } from "./config.ts";
import { PROJECT_ROOT } from "./config.ts";
import {
  isPortOpen,
  lastLines,
  ownedPid,
  removeFile,
  requireCommand,
  spawnDetached,
  stopPid,
  waitUntil,
} from "./process.ts";

// One Apache Kafka 4.x node in KRaft mode (broker and controller in one JVM), run from the
// jars Maven resolves from Maven Central. Maven's own repository is the download cache.

const POM = join(PROJECT_ROOT, "tools", "stack", "kafka", "pom.xml");
const MAIN_CLASS = "kafka.Kafka";

export interface KafkaStatus {
  state: "ours" | "external" | "down";
  bootstrap: string;
  pid?: number;
}

const paths = (c: StackConfig) => {
  const dir = join(c.dir, "kafka");
  return {
    dir,
    data: join(dir, "data"),
    props: join(dir, "server.properties"),
    log4j: join(dir, "log4j2.properties"),
    log: join(dir, "server.log"),
    pid: join(dir, "kafka.pid"),
    classpath: join(dir, "classpath.txt"),
  };
};

export const bootstrapOf = (c: StackConfig) => `127.0.0.1:${c.kafkaPort}`;

/** Asks the broker for metadata; true when something speaking Kafka answers. */
export async function kafkaAnswers(bootstrap: string, timeoutMs = 3000): Promise<boolean> {
  const admin = new Admin({
    clientId: "analytics-stack-probe",
    bootstrapBrokers: [bootstrap],
    retries: 0,
    connectTimeout: timeoutMs,
    requestTimeout: timeoutMs,
  });
  try {
    await admin.metadata({ topics: [] });
    return true;
  } catch {
    return false;
  } finally {
    await afterOutcome("closing the probe's Kafka admin client", admin.close());
  }
}

export async function kafkaStatus(c: StackConfig): Promise<KafkaStatus> {
  const p = paths(c);
  const bootstrap = bootstrapOf(c);
  const pid = ownedPid(p.pid, p.props);
  if (pid !== null) return { state: "ours", bootstrap, pid };
  if (await isPortOpen(c.kafkaPort)) {
    if (await kafkaAnswers(bootstrap)) return { state: "external", bootstrap };
    throw new StackError(
      `port ${c.kafkaPort} is held by a program that does not answer as Kafka: stop it or set STACK_KAFKA_PORT to a free port`,
    );
  }
  return { state: "down", bootstrap };
}

function resolveClasspath(c: StackConfig): string {
  const p = paths(c);
  if (existsSync(p.classpath)) {
    const cp = readFileSync(p.classpath, "utf8").trim();
    if (cp !== "" && cp.split(":").every((jar) => existsSync(jar))) return cp;
  }
  requireCommand("mvn", "-v", "install Apache Maven (apt-get install maven); it fetches Kafka from Maven Central");
  const r = spawnSync(
    "mvn",
    ["-q", "-B", "-f", POM, "dependency:build-classpath", `-Dmdep.outputFile=${p.classpath}`],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0 || !existsSync(p.classpath)) {
    const detail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-3).join(" | ");
    throw new StackError(`Maven could not fetch Kafka's jars from Maven Central: ${detail}`);
  }
  return readFileSync(p.classpath, "utf8").trim();
}

/** What a broker that is its own cluster of one needs, whatever its listeners. */
export function singleNodeSettings(partitions: number, offsetsPartitions: number): string[] {
  return clusterSettings(partitions, offsetsPartitions, 1);
}

/** A cluster's settings whatever its listeners; its internal topics with `replicas` copies each. */
export function clusterSettings(partitions: number, offsetsPartitions: number, replicas: number): string[] {
  return [
    `num.partitions=${partitions}`,
    `default.replication.factor=${replicas}`,
    `offsets.topic.replication.factor=${replicas}`,
    `offsets.topic.num.partitions=${offsetsPartitions}`,
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    // Topics are created explicitly; a typo in a topic name must not create a new one.
    "auto.create.topics.enable=false",
    "group.initial.rebalance.delay.ms=0",
  ];
}

/**
 * A broker's log4j2.properties in `dir`, logging warnings (and `loggers`' own levels, as
 * `name=LEVEL`) to `server.log` there; returns its path.
 */
export function writeBrokerLog4j(dir: string, loggers: Record<string, string> = {}): string {
  const file = join(dir, "log4j2.properties");
  const named = Object.entries(loggers).flatMap(([name, level], i) => [
    `logger.l${i}.name = ${name}`,
    `logger.l${i}.level = ${level}`,
  ]);
  writeFileSync(
    file,
    [
      "status = warn",
      "appender.file.type = File",
      "appender.file.name = file",
      `appender.file.fileName = ${join(dir, "server.log")}`,
      "appender.file.layout.type = PatternLayout",
      "appender.file.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = WARN",
      "rootLogger.appenderRef.file.ref = file",
      ...named,
      "",
    ].join("\n"),
  );
  return file;
}

/**
 * A new cluster id: 16 random bytes in base64url, never starting with "-", which the storage
 * tool's argument parser would read as an option.
 */
export function newClusterId(): string {
  let clusterId = randomBytes(16).toString("base64url");
  while (!/^[A-Za-z0-9]/.test(clusterId)) clusterId = randomBytes(16).toString("base64url");
  return clusterId;
}

function writeConfigFiles(c: StackConfig): void {
  const p = paths(c);
  writeFileSync(
    p.props,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${c.kafkaControllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${c.kafkaPort},CONTROLLER://127.0.0.1:${c.kafkaControllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${c.kafkaPort}`,
      "controller.listener.names=CONTROLLER",
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
      "inter.broker.listener.name=PLAINTEXT",
      `log.dirs=${p.data}`,
      ...singleNodeSettings(c.partitions, 6),
      "",
    ].join("\n"),
  );
  writeBrokerLog4j(p.dir, { "kafka.server.KafkaRaftServer": "INFO" });
}

function formatStorage(c: StackConfig, classpath: string): void {
  const p = paths(c);
  if (existsSync(join(p.data, "meta.properties"))) return;
  formatKafkaStorage({ classpath, log4j: p.log4j, props: p.props, clusterId: newClusterId(), what: "Kafka's storage" });
}

/** Formats the storage a broker's `props` names for cluster `clusterId` (`extra`: the tool's other arguments). */
export function formatKafkaStorage(f: {
  classpath: string;
  log4j: string;
  props: string;
  clusterId: string;
  extra?: string[];
  what: string;
}): void {
  const r = spawnSync(
    "java",
    [`-Dlog4j2.configurationFile=${f.log4j}`, "-cp", f.classpath, "kafka.tools.StorageTool", "format"].concat([
      "-t",
      f.clusterId,
      "-c",
      f.props,
      ...(f.extra ?? []),
    ]),
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new StackError(`formatting ${f.what} failed: ${(r.stderr || r.stdout).trim()}`);
}

/** Starts the broker unless one already answers on the port; returns how it is running. */
export async function kafkaUp(c: StackConfig): Promise<KafkaStatus> {
  const status = await kafkaStatus(c);
  if (status.state !== "down") return status;
  requireCommand("java", "-version", "install a Java runtime 17 or newer (apt-get install default-jre-headless)");
  if (await isPortOpen(c.kafkaControllerPort)) {
    throw new StackError(
      `port ${c.kafkaControllerPort} (Kafka controller) is held by another program: stop it or set STACK_KAFKA_CONTROLLER_PORT`,
    );
  }
  const p = paths(c);
  mkdirSync(p.data, { recursive: true });
  const classpath = resolveClasspath(c);
  writeConfigFiles(c);
  formatStorage(c, classpath);
  const pid = spawnDetached(
    "java",
    [
      `-Xms${Math.min(256, c.kafkaHeapMb)}m`,
      `-Xmx${c.kafkaHeapMb}m`,
      "-XX:+UseG1GC",
      "-Djava.awt.headless=true",
      `-Dlog4j2.configurationFile=${p.log4j}`,
      "-cp",
      classpath,
      MAIN_CLASS,
      p.props,
    ],
    p.log,
    p.pid,
  );
  try {
    await waitUntil(() => kafkaAnswers(bootstrapOf(c), 2000), {
      timeoutMs: 90000,
      what: `Kafka on ${bootstrapOf(c)}`,
      alive: () => ownedPid(p.pid, p.props) !== null,
    });
  } catch (err) {
    const taken = existsSync(p.log) ? portTakenAtStart(readFileSync(p.log, "utf8")) : null;
    if (taken !== null) {
      const variable = taken === c.kafkaPort ? "STACK_KAFKA_PORT" : "STACK_KAFKA_CONTROLLER_PORT";
      throw new StackError(
        `port ${taken} was taken by another program while Kafka started: run the command again, or set ${variable} to a free port`,
      );
    }
    throw new StackError(`${(err as Error).message}; last lines of ${p.log}:\n${lastLines(p.log)}`);
  }
  return { state: "ours", bootstrap: bootstrapOf(c), pid };
}

/**
 * The port a broker could not bind, from its log. The ports are checked before the start, but
 * another program can take one in the seconds the JVM needs to reach its bind.
 */
export function portTakenAtStart(log: string): number | null {
  const m = /failed to bind to [^\s]*:(\d+): Address already in use/.exec(log);
  return m ? Number(m[1]) : null;
}

/** Creates the five source topics and the dead-letter topic where missing. */
/** Creates those of `topics` that don't exist, with `partitions` each. */
export async function ensureTopics(bootstrap: string, partitions: number, topics: readonly string[]): Promise<void> {
  const admin = new Admin({ clientId: "analytics-stack", bootstrapBrokers: [bootstrap] });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) await admin.createTopics({ topics: missing, partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

export async function kafkaDown(c: StackConfig): Promise<boolean> {
  const p = paths(c);
  const pid = ownedPid(p.pid, p.props);
  if (pid === null) return false;
  await stopPid(pid, 30000);
  removeFile(p.pid);
  return true;
}

/**
 * The broker's jars, resolved once into the stack's folder: brokers of a test's own
 * (tools/stack/secure-kafka.ts) run from the same download.
 */
export function kafkaClasspath(c: StackConfig): string {
  mkdirSync(paths(c).dir, { recursive: true });
  return resolveClasspath(c);
}
