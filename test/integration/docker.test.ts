import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DockerfileParser } from "dockerfile-ast";
import { parse } from "yaml";
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from "../../bin/runtime.js";
import type { Declaration } from "../../src/config/declare.ts";
import { loadConfig, serviceDeclaration } from "../../src/config/index.ts";
import { prefixed } from "../../src/consume/topics.ts";
import { TOPICS } from "../../src/domains/registry.ts";

// Dockerfile and docker-compose.yml, checked without a Docker engine: both are parsed here
// and held against the service's own configuration declaration, topics and files.

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const repoPath = (p: string) => `${ROOT}${p.replace(/^\.?\/+/, "")}`;
const readRepo = (p: string) => readFileSync(repoPath(p), "utf8");

// ---------------------------------------------------------------- compose helpers

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function obj(v: unknown, what: string): Obj {
  assert.ok(isObj(v), `${what} must be a mapping`);
  return v;
}

/** A service's `environment`, in either compose form (mapping or `KEY=value` list), as strings. */
function environmentOf(service: Obj): Record<string, string> {
  const env = service.environment;
  const out: Record<string, string> = {};
  if (env === undefined || env === null) return out;
  if (Array.isArray(env)) {
    for (const item of env) {
      const text = String(item);
      const eq = text.indexOf("=");
      if (eq === -1) out[text] = "";
      else out[text.slice(0, eq)] = text.slice(eq + 1);
    }
    return out;
  }
  for (const [k, v] of Object.entries(obj(env, "environment"))) out[k] = v === null ? "" : String(v);
  return out;
}

/** Every variable name the service reads, from the declaration entries' `.env`. */
function declaredVariables(decl: Declaration): Set<string> {
  return new Set(Object.values(decl).map((v) => v.env));
}

/** Names in `env` the declaration does not know (a typo or a variable the service ignores). */
function unknownVariables(env: Record<string, string>, decl: Declaration): string[] {
  const known = declaredVariables(decl);
  return Object.keys(env).filter((k) => !known.has(k));
}

/** `depends_on` in either compose form, as service → condition. */
function dependenciesOf(service: Obj): Record<string, string> {
  const deps = service.depends_on;
  if (deps === undefined) return {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [String(d), "service_started"]));
  return Object.fromEntries(
    Object.entries(obj(deps, "depends_on")).map(([name, d]) => [
      name,
      isObj(d) && typeof d.condition === "string" ? d.condition : "service_started",
    ]),
  );
}

/** The shell text a service runs: its entrypoint and command, whichever form they take. */
function commandText(service: Obj): string {
  const part = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  return [...part(service.entrypoint), ...part(service.command)].join("\n");
}

interface TopicCreation {
  topic: string;
  partitions: number | undefined;
  ifNotExists: boolean;
  bootstrap: string | undefined;
}

/** Each `kafka-topics.sh ... --create` line of a script, with its options. */
function topicCreations(script: string): TopicCreation[] {
  const out: TopicCreation[] = [];
  for (const line of script.split(/\n|&&|;/)) {
    const words = line
      .trim()
      .split(/\s+/)
      .map((w) => w.replace(/^["']|["']$/g, ""));
    if (!words.some((w) => w.endsWith("kafka-topics.sh")) || !words.includes("--create")) continue;
    const option = (name: string) => {
      const i = words.indexOf(name);
      return i === -1 ? undefined : words[i + 1];
    };
    const topic = option("--topic");
    assert.ok(topic, `kafka-topics.sh --create without --topic: ${line.trim()}`);
    const partitions = option("--partitions");
    out.push({
      topic,
      partitions: partitions === undefined ? undefined : Number(partitions),
      ifNotExists: words.includes("--if-not-exists"),
      bootstrap: option("--bootstrap-server"),
    });
  }
  return out;
}

function loadCompose(): { services: Record<string, Obj>; raw: Obj } {
  const raw = obj(parse(readRepo("docker-compose.yml")), "docker-compose.yml");
  const services = obj(raw.services, "services");
  return {
    raw,
    services: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, obj(v, `service ${k}`)])),
  };
}

interface PublishedPort {
  hostIp: string;
  /** The host port or range; empty when Docker picks an ephemeral one. */
  host: string;
  container: string;
}

/** A service's `ports`, short (`[ip:][host:]container[/proto]`) or long form. */
function portsOf(service: Obj): PublishedPort[] {
  const ports = (service.ports as unknown[] | undefined) ?? [];
  return ports.map((p) => {
    if (isObj(p)) {
      return { hostIp: String(p.host_ip ?? ""), host: String(p.published ?? ""), container: String(p.target) };
    }
    const parts = String(p)
      .replace(/\/\w+$/, "")
      .split(":");
    const container = parts.pop() ?? "";
    const host = parts.pop() ?? "";
    return { hostIp: parts.join(":"), host, container };
  });
}

// ---------------------------------------------------------------- Dockerfile helpers

interface Instruction {
  instruction: string;
  args: string;
  line: number;
}

/** Dockerfile instructions as Docker reads them (dockerfile-ast: continuations joined, comments inside them skipped). */
function parseDockerfile(text: string): Instruction[] {
  return DockerfileParser.parse(text)
    .getInstructions()
    .map((i) => ({
      instruction: i.getKeyword().toUpperCase(),
      args: i
        .getArguments()
        .map((a) => a.getValue())
        .join(" "),
      line: i.getRange().start.line + 1,
    }));
}

/** Arguments of an exec-form instruction (`["a", "b"]`), or undefined for shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  const parsed: unknown = JSON.parse(args);
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === "string"), `bad exec form: ${args}`);
  return parsed;
}

/** Source paths of a COPY/ADD from the build context (none for `--from=` copies). */
function copySources(ins: Instruction): string[] {
  const exec = execForm(ins.args);
  const words = exec ?? ins.args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith("--"));
  if (flags.some((f) => f.startsWith("--from="))) return [];
  const paths = words.filter((w) => !w.startsWith("--"));
  assert.ok(paths.length >= 2, `line ${ins.line}: ${ins.instruction} needs a source and a destination`);
  return paths.slice(0, -1);
}

/** Whether .dockerignore patterns leave `path` out of the build context (last match wins). */
function ignoredByDockerignore(path: string, patterns: readonly string[]): boolean {
  const clean = (p: string) => p.replace(/^\.?\/+/, "").replace(/\/+$/, "");
  const target = clean(path);
  const toRegex = (pattern: string) =>
    new RegExp(
      `^${clean(pattern)
        .replace(/[.+^${}()|[\]]/g, "\\$&")
        .replace(/\*\*\/?/g, "\u0000")
        .replace(/\*/g, "[^/]*")
        .replace(/\?/g, "[^/]")
        .replaceAll("\u0000", "(?:.*/)?")}(?:/.*)?$`,
    );
  let ignored = false;
  for (const p of patterns) {
    const negated = p.startsWith("!");
    if (toRegex(negated ? p.slice(1) : p).test(target)) ignored = !negated;
  }
  return ignored;
}

function dockerignorePatterns(): string[] {
  if (!existsSync(repoPath(".dockerignore"))) return [];
  return readRepo(".dockerignore")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

// ---------------------------------------------------------------- the helpers can fail

describe("docker checks catch mistakes", () => {
  test("a variable the declaration does not know is reported", () => {
    const env = { MYSQL_HOST: "mysql", MYSQL_PASS: "x", LOG_LEVEL: "info" };
    assert.deepEqual(unknownVariables(env, serviceDeclaration), ["MYSQL_PASS"]);
  });

  test("list-form environment and depends_on are read like the mapping form", () => {
    assert.deepEqual(environmentOf({ environment: ["A=1", "B=x=y", "C"] }), { A: "1", B: "x=y", C: "" });
    assert.deepEqual(dependenciesOf({ depends_on: ["mysql"] }), { mysql: "service_started" });
  });

  test("topic creation lines are read option by option", () => {
    const found = topicCreations(
      "kafka-topics.sh --bootstrap-server k:9092 --create --topic a --partitions 3 && kafka-topics.sh --list",
    );
    assert.deepEqual(found, [{ topic: "a", partitions: 3, ifNotExists: false, bootstrap: "k:9092" }]);
  });

  test("published ports are read in every form", () => {
    assert.deepEqual(portsOf({ ports: ["9464:9464", "127.0.0.1::9464", "9464", "9000-9005:9464/tcp"] }), [
      { hostIp: "", host: "9464", container: "9464" },
      { hostIp: "127.0.0.1", host: "", container: "9464" },
      { hostIp: "", host: "", container: "9464" },
      { hostIp: "", host: "9000-9005", container: "9464" },
    ]);
    assert.deepEqual(portsOf({ ports: [{ target: 9464, published: "9464", host_ip: "127.0.0.1" }] }), [
      { hostIp: "127.0.0.1", host: "9464", container: "9464" },
    ]);
  });

  test("continued Dockerfile lines are one instruction; comments inside them are skipped", () => {
    const ins = parseDockerfile("FROM x\nRUN a \\\n  # note\n  && b\nUSER node\n");
    assert.deepEqual(
      ins.map((i) => [i.instruction, i.args]),
      [
        ["FROM", "x"],
        ["RUN", "a && b"],
        ["USER", "node"],
      ],
    );
  });

  test("COPY sources skip flags and the destination; .dockerignore patterns match", () => {
    assert.deepEqual(copySources({ instruction: "COPY", args: "--chown=node a b/ ./", line: 1 }), ["a", "b/"]);
    assert.deepEqual(copySources({ instruction: "COPY", args: "--from=build /x /y", line: 1 }), []);
    assert.equal(ignoredByDockerignore("src/a.test.ts", ["**/*.test.ts"]), true);
    assert.equal(ignoredByDockerignore("src/", ["node_modules", "test"]), false);
    assert.equal(ignoredByDockerignore("test/x.ts", ["test"]), true);
    assert.equal(ignoredByDockerignore("test/x.ts", ["test", "!test/x.ts"]), false);
  });
});

// ---------------------------------------------------------------- docker-compose.yml

describe("docker-compose.yml", () => {
  const { services } = loadCompose();
  const service = (name: string) => {
    const s = services[name];
    assert.ok(s, `service ${name} is missing`);
    return s;
  };

  test("has the mysql, kafka, kafka-init and analytics services", () => {
    for (const name of ["mysql", "kafka", "kafka-init", "analytics"]) service(name);
  });

  test("uses mysql:8.0 and Apache Kafka 4.x", () => {
    assert.equal(service("mysql").image, "mysql:8.0");
    assert.match(String(service("kafka").image), /^apache\/kafka:4\.\d+(\.\d+)?$/);
    assert.equal(service("kafka-init").image, service("kafka").image, "kafka-init uses the broker's image");
  });

  test("mysql has a mysqladmin ping healthcheck and a named volume", () => {
    const mysql = service("mysql");
    const health = obj(mysql.healthcheck, "mysql healthcheck");
    assert.match(JSON.stringify(health.test), /mysqladmin\b.*\bping\b/);
    const volumes = (mysql.volumes as unknown[] | undefined)?.map(String) ?? [];
    const { raw } = loadCompose();
    const named = Object.keys(obj(raw.volumes ?? {}, "volumes"));
    assert.ok(
      volumes.some((v) => named.includes(v.split(":")[0] ?? "") && v.endsWith(":/var/lib/mysql")),
      "mysql keeps /var/lib/mysql on a named volume",
    );
  });

  test("kafka is a single KRaft node (broker and controller, no ZooKeeper)", () => {
    const env = environmentOf(service("kafka"));
    const roles = (env.KAFKA_PROCESS_ROLES ?? "").split(",").map((r) => r.trim());
    assert.ok(roles.includes("controller") && roles.includes("broker"), `process roles: ${roles.join(",")}`);
    const nodeId = env.KAFKA_NODE_ID;
    assert.ok(nodeId, "KAFKA_NODE_ID is set");
    assert.match(env.KAFKA_CONTROLLER_QUORUM_VOTERS ?? "", new RegExp(`^${nodeId}@[^:]+:\\d+$`));
    assert.ok(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP?.includes("CONTROLLER:"), "controller listener mapped");
    assert.equal(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE, "false");
    for (const [name, s] of Object.entries(services)) {
      assert.doesNotMatch(String(s.image), /zookeeper/i, `${name} is not ZooKeeper`);
      for (const key of Object.keys(environmentOf(s))) assert.doesNotMatch(key, /ZOOKEEPER/, `${name}: ${key}`);
    }
    const health = obj(service("kafka").healthcheck, "kafka healthcheck");
    assert.match(JSON.stringify(health.test), /kafka-topics\.sh --bootstrap-server localhost:9092 --list/);
  });

  test("analytics sets only variables the service declares, with valid values", () => {
    const env = environmentOf(service("analytics"));
    assert.ok(Object.keys(env).length > 0, "analytics has an environment");
    assert.deepEqual(unknownVariables(env, serviceDeclaration), [], "variables unknown to src/config/index.ts");
    assert.doesNotThrow(() => loadConfig(env), "the analytics environment passes the service's own validation");
  });

  test("the demo generator runs the image's generate command on the same broker, only in the demo profile", () => {
    const generator = service("generator");
    const env = environmentOf(generator);
    assert.deepEqual(unknownVariables(env, serviceDeclaration), [], "variables unknown to src/config/index.ts");
    assert.deepEqual(generator.profiles, ["demo"]);
    assert.equal((generator.command as string[])[0], "generate");
    assert.equal(generator.image, service("analytics").image);
    assert.deepEqual(loadConfig(env).kafkaBrokers, loadConfig(environmentOf(service("analytics"))).kafkaBrokers);
  });

  test("analytics reaches the compose mysql and kafka, with the credentials mysql was given", () => {
    const config = loadConfig(environmentOf(service("analytics")));
    const mysqlEnv = environmentOf(service("mysql"));
    assert.equal(config.mysqlHost, "mysql");
    assert.equal(config.mysqlPort, 3306);
    assert.equal(config.mysqlUser, mysqlEnv.MYSQL_USER, "MYSQL_USER");
    assert.equal(config.mysqlPassword, mysqlEnv.MYSQL_PASSWORD, "MYSQL_PASSWORD");
    assert.equal(config.mysqlDatabase, mysqlEnv.MYSQL_DATABASE, "MYSQL_DATABASE");
    assert.ok(mysqlEnv.MYSQL_ROOT_PASSWORD, "mysql has a root password");
    const advertised = environmentOf(service("kafka")).KAFKA_ADVERTISED_LISTENERS ?? "";
    for (const broker of config.kafkaBrokers) {
      assert.ok(
        advertised.split(",").some((l) => l.endsWith(`//${broker}`)),
        `${broker} is advertised by kafka`,
      );
    }
  });

  test("kafka-init creates the five source topics and the dead-letter topic", () => {
    const config = loadConfig(environmentOf(service("analytics")));
    const init = service("kafka-init");
    const created = topicCreations(commandText(init));
    const expected = [...prefixed(config.kafkaTopicPrefix, TOPICS), config.kafkaDlqTopic];
    assert.deepEqual(created.map((c) => c.topic).sort(), [...expected].sort());
    for (const c of created) {
      assert.equal(c.partitions, 6, `${c.topic} partitions`);
      assert.ok(c.ifNotExists, `${c.topic} is created with --if-not-exists`);
      assert.ok(config.kafkaBrokers.includes(c.bootstrap ?? ""), `${c.topic} is created on the broker analytics uses`);
    }
    assert.deepEqual(dependenciesOf(init), { kafka: "service_healthy" });
  });

  test("analytics is built here, waits for mysql and kafka-init, restarts, and publishes 9464", () => {
    const analytics = service("analytics");
    assert.ok(analytics.build === "." || (isObj(analytics.build) && analytics.build.context === "."), "build: .");
    assert.deepEqual(dependenciesOf(analytics), {
      mysql: "service_healthy",
      "kafka-init": "service_completed_successfully",
    });
    assert.equal(analytics.restart, "unless-stopped");
    const published = portsOf(analytics);
    assert.ok(
      published.some((p) => p.container === "9464" && p.hostIp === "127.0.0.1"),
      `metrics port 9464 published on this machine only: ${JSON.stringify(published)}`,
    );
  });

  test("analytics publishes no fixed host port and names no container, so it scales (--scale analytics=3)", () => {
    const analytics = service("analytics");
    // A fixed host port or container name can be taken by one instance only: the second fails to start.
    for (const p of portsOf(analytics)) {
      assert.equal(p.host, "", `analytics publishes ${p.container} on fixed host port ${p.host}`);
    }
    assert.equal(analytics.container_name, undefined, "container_name");
  });

  test("analytics gets longer to stop than its own shutdown timeout", () => {
    const config = loadConfig(environmentOf(service("analytics")));
    // Docker's default grace is 10 s; then SIGKILL cuts the shutdown short.
    const grace = String(service("analytics").stop_grace_period ?? "10s");
    const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(grace);
    assert.ok(m && grace !== "", `stop_grace_period "${grace}" (expected e.g. 20s or 1m30s)`);
    const graceMs = (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000;
    assert.ok(graceMs > config.shutdownTimeoutMs, `${grace} <= SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}`);
  });
});

// ---------------------------------------------------------------- Dockerfile

describe("Dockerfile", () => {
  const instructions = parseDockerfile(readRepo("Dockerfile"));
  const all = (name: string) => instructions.filter((i) => i.instruction === name);
  const last = (name: string) => all(name).at(-1);

  test("runs the service with the launcher's V8 flags and malloc settings, metrics on every interface", () => {
    const env: Record<string, string> = {};
    for (const i of all("ENV")) {
      for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g))
        env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, "");
    }
    const { NODE_ENV: _, METRICS_HOST, ...malloc } = env;
    assert.equal(METRICS_HOST, "0.0.0.0", "inside its own network namespace, the image serves /metrics to the outside");
    // The launcher re-runs itself with the flags when they are missing; on the entrypoint they
    // spare the image that second process. NODE_OPTIONS refuses V8's own flags.
    assert.deepEqual(malloc, SERVICE_ENV);
    const entry = execForm(last("ENTRYPOINT")?.args ?? "");
    assert.deepEqual(entry?.slice(1, -1), SERVICE_NODE_FLAGS);
    assert.equal(entry?.at(-1), "bin/analytics-service.js");
    const start = JSON.parse(readRepo("package.json")).scripts.start as string;
    assert.equal(start, "node bin/analytics-service.js run", "npm start goes through the launcher, which adds them");
  });

  test("is based on node:24-slim", () => {
    assert.equal(last("FROM")?.args.split(/\s+/)[0], "node:24-slim");
  });

  test("runs as a non-root user", () => {
    const user = last("USER")?.args.split(":")[0];
    assert.ok(user, "no USER instruction: the image would run as root");
    assert.ok(!["root", "0"].includes(user), `USER ${user}`);
  });

  test("its entrypoint runs the package's bin script with node", () => {
    const entry = execForm(last("ENTRYPOINT")?.args ?? "");
    assert.ok(entry, "ENTRYPOINT in exec form");
    const pkg = JSON.parse(readRepo("package.json")) as { bin: Record<string, string> };
    const script = Object.values(pkg.bin)[0];
    assert.ok(script);
    assert.equal(entry?.[0], "node");
    assert.equal(entry?.at(-1), script);
    assert.ok(existsSync(repoPath(script)), `${script} exists`);
    assert.deepEqual(execForm(last("CMD")?.args ?? ""), ["run"]);
    assert.ok(
      all("EXPOSE").some((e) => e.args.split(/\s+/).includes("9464")),
      "exposes the metrics port",
    );
  });

  test("installs production dependencies from the lockfile with npm ci", () => {
    const lockCopy = all("COPY").findIndex((c) => copySources(c).includes("package-lock.json"));
    assert.notEqual(lockCopy, -1, "package-lock.json is copied");
    const copyLine = all("COPY")[lockCopy]?.line ?? Infinity;
    const install = all("RUN").find((r) => /\bnpm ci\b/.test(r.args));
    assert.ok(install, "a RUN uses npm ci");
    assert.ok(install.line > copyLine, "npm ci runs after the lockfile is copied");
    assert.match(install.args, /--omit=dev\b/, "devDependencies (the `node` binary package) stay out");
    assert.doesNotMatch(install.args, /\bnpm (install|i)\b/);
  });

  test("every path it copies exists and is not excluded by .dockerignore", () => {
    const patterns = dockerignorePatterns();
    const sources = [...all("COPY"), ...all("ADD")].flatMap(copySources);
    assert.ok(sources.length > 0);
    for (const src of sources) {
      assert.ok(existsSync(repoPath(src)), `COPY ${src}: no such path in the repository`);
      assert.ok(!ignoredByDockerignore(src, patterns), `COPY ${src}: excluded by .dockerignore`);
    }
    const entry = execForm(last("ENTRYPOINT")?.args ?? "")?.at(-1) ?? "";
    for (const needed of [entry, "src/cli.ts", "src/db/migrations/001_tables.sql"]) {
      assert.ok(!ignoredByDockerignore(needed, patterns), `${needed} is excluded by .dockerignore`);
    }
  });
});
