import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadConfig, serviceDeclaration } from "../../src/config/index.ts";
import { TOPICS } from "../../src/domains/registry.ts";
import { prefixed } from "../../src/kafka/topics.ts";
import {
  commandText,
  dependenciesOf,
  environmentOf,
  isObj,
  loadCompose,
  obj,
  portsOf,
  topicCreations,
  unknownVariables,
} from "../support/docker-files.ts";

// Dockerfile and docker-compose.yml, checked without a Docker engine: both are parsed here
// and held against the service's own configuration declaration, topics and files.

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
    assert.deepEqual(generator.build, service("analytics").build, "built, not pulled, before the first build");
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
