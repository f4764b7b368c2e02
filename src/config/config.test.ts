import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../errors.ts";
import { assertConfigError } from "../testing/config.ts";
import { helpLines, misspelled, parseDeclaration, str } from "./declare.ts";
import { isExternallyConfigured, loadConfig, serviceDeclaration } from "./index.ts";

describe("defaults", () => {
  test("an empty environment gives the docs/operations.md#configuration defaults", () => {
    const c = loadConfig({});
    assert.deepEqual(
      {
        KAFKA_BOOTSTRAP_SERVERS: c.kafkaBrokers,
        KAFKA_CLIENT_ID: c.kafkaClientId,
        KAFKA_GROUP_ID: c.kafkaGroupId,
        KAFKA_AUTO_OFFSET_RESET: c.kafkaAutoOffsetReset,
        MYSQL_HOST: c.mysqlHost,
        MYSQL_PORT: c.mysqlPort,
        MYSQL_USER: c.mysqlUser,
        MYSQL_PASSWORD: c.mysqlPassword,
        MYSQL_DATABASE: c.mysqlDatabase,
      },
      {
        KAFKA_BOOTSTRAP_SERVERS: ["localhost:9092"],
        KAFKA_CLIENT_ID: "mysql-service",
        KAFKA_GROUP_ID: "mysql-analytics-service",
        KAFKA_AUTO_OFFSET_RESET: "earliest",
        MYSQL_HOST: "localhost",
        MYSQL_PORT: 3306,
        MYSQL_USER: "analytics",
        MYSQL_PASSWORD: "analytics123",
        MYSQL_DATABASE: "analytics",
      },
    );
  });

  test("the service's own variables have their documented defaults", () => {
    const c = loadConfig({});
    assert.deepEqual(
      {
        kafkaTopicPrefix: c.kafkaTopicPrefix,
        kafkaDlqTopic: c.kafkaDlqTopic,
        mysqlPoolSize: c.mysqlPoolSize,
        kafkaSsl: c.kafkaSsl,
        kafkaSaslMechanism: c.kafkaSaslMechanism,
        kafkaSaslUsername: c.kafkaSaslUsername,
        kafkaSaslPassword: c.kafkaSaslPassword,
        kafkaSessionTimeoutMs: c.kafkaSessionTimeoutMs,
        batchMaxEvents: c.batchMaxEvents,
        batchMaxBytes: c.batchMaxBytes,
        batchLingerMs: c.batchLingerMs,
        batchesInFlight: c.batchesInFlight,
        maxMessageBytes: c.maxMessageBytes,
        retryMaxBackoffMs: c.retryMaxBackoffMs,
        logLevel: c.logLevel,
        shutdownTimeoutMs: c.shutdownTimeoutMs,
      },
      {
        kafkaTopicPrefix: "",
        kafkaDlqTopic: "analytics-dlq",
        mysqlPoolSize: 4,
        kafkaSsl: false,
        kafkaSaslMechanism: "none",
        kafkaSaslUsername: "",
        kafkaSaslPassword: "",
        kafkaSessionTimeoutMs: 30000,
        batchMaxEvents: 4000,
        batchMaxBytes: 8388608,
        batchLingerMs: 20,
        batchesInFlight: 2,
        maxMessageBytes: 1048576,
        retryMaxBackoffMs: 10000,
        logLevel: "info",
        shutdownTimeoutMs: 15000,
      },
    );
  });

  test("a variable set to the empty string takes its default", () => {
    const c = loadConfig({ MYSQL_HOST: "", MYSQL_PORT: "", KAFKA_BOOTSTRAP_SERVERS: "", KAFKA_SSL: "" });
    assert.equal(c.mysqlHost, "localhost");
    assert.equal(c.mysqlPort, 3306);
    assert.deepEqual(c.kafkaBrokers, ["localhost:9092"]);
    assert.equal(c.kafkaSsl, false);
  });

  test("the config is frozen", () => {
    assert.ok(Object.isFrozen(loadConfig({})));
  });
});

describe("values are read and normalised", () => {
  test("every kind of variable", () => {
    const c = loadConfig({
      KAFKA_BOOTSTRAP_SERVERS: " broker-1:9092, 10.0.0.2:29092 ,",
      KAFKA_AUTO_OFFSET_RESET: "latest",
      KAFKA_TOPIC_PREFIX: "prod.",
      MYSQL_HOST: "  db.internal  ",
      MYSQL_PORT: " 3307 ",
      KAFKA_SSL: "YES",
      KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
      KAFKA_SASL_USERNAME: "svc",
      LOG_LEVEL: "debug",
      BATCH_LINGER_MS: "0",
    });
    assert.deepEqual(c.kafkaBrokers, ["broker-1:9092", "10.0.0.2:29092"]);
    assert.equal(c.kafkaAutoOffsetReset, "latest");
    assert.equal(c.kafkaTopicPrefix, "prod.");
    assert.equal(c.mysqlHost, "db.internal");
    assert.equal(c.mysqlPort, 3307);
    assert.equal(c.kafkaSsl, true);
    assert.equal(c.kafkaSaslMechanism, "SCRAM-SHA-512");
    assert.equal(c.kafkaSaslUsername, "svc");
    assert.equal(c.logLevel, "debug");
    assert.equal(c.batchLingerMs, 0);
  });

  test("booleans accept 1/0, true/false, yes/no, on/off", () => {
    for (const v of ["1", "true", "yes", "on", "TRUE"]) assert.equal(loadConfig({ KAFKA_SSL: v }).kafkaSsl, true, v);
    for (const v of ["0", "false", "no", "off"]) assert.equal(loadConfig({ KAFKA_SSL: v }).kafkaSsl, false, v);
  });

  test("integer bounds are inclusive", () => {
    assert.equal(loadConfig({ MYSQL_PORT: "1" }).mysqlPort, 1);
    assert.equal(loadConfig({ MYSQL_PORT: "65535" }).mysqlPort, 65535);
  });

  test("a password is kept exactly as given, spaces included", () => {
    assert.equal(loadConfig({ MYSQL_PASSWORD: " pa ss " }).mysqlPassword, " pa ss ");
  });
});

describe("bad values stop the service with one line naming the variable", () => {
  test("a port that is not a whole number", () => {
    assertConfigError({ MYSQL_PORT: "abc" }, "MYSQL_PORT", /whole number/);
    assertConfigError({ MYSQL_PORT: "3306.5" }, "MYSQL_PORT");
    assertConfigError({ MYSQL_PORT: "1e3" }, "MYSQL_PORT");
  });

  test("a number out of range", () => {
    assertConfigError({ MYSQL_PORT: "0" }, "MYSQL_PORT", /1 to 65535/);
    assertConfigError({ MYSQL_PORT: "65536" }, "MYSQL_PORT", /1 to 65535/);
    assertConfigError({ MYSQL_PORT: "-1" }, "MYSQL_PORT");
    assertConfigError({ BATCH_MAX_EVENTS: "0" }, "BATCH_MAX_EVENTS");
    // Over 20,000 events or 128 MiB, a backlog decoded in one batch runs the 256 MB heap out.
    assertConfigError({ BATCH_MAX_EVENTS: "20001" }, "BATCH_MAX_EVENTS", /1 to 20000/);
    assert.equal(loadConfig({ BATCH_MAX_EVENTS: "20000" }).batchMaxEvents, 20000);
    assertConfigError({ BATCH_MAX_BYTES: "134217729" }, "BATCH_MAX_BYTES", /65536 to 134217728/);
    assertConfigError({ BATCH_MAX_BYTES: "1073741824" }, "BATCH_MAX_BYTES");
    assert.equal(loadConfig({ BATCH_MAX_BYTES: "134217728" }).batchMaxBytes, 134217728);
    assertConfigError({ MAX_MESSAGE_BYTES: "100" }, "MAX_MESSAGE_BYTES");
    // Letters in a source topic would be read back, fail again and be dead-lettered again for ever.
    assertConfigError({ KAFKA_DLQ_TOPIC: "user" }, "KAFKA_DLQ_TOPIC", /source topic of user events/);
    assertConfigError({ KAFKA_TOPIC_PREFIX: "prod.", KAFKA_DLQ_TOPIC: "prod.order" }, "KAFKA_DLQ_TOPIC");
    assert.equal(loadConfig({ KAFKA_TOPIC_PREFIX: "prod.", KAFKA_DLQ_TOPIC: "order" }).kafkaDlqTopic, "order");
    // Kafka refuses a topic whose name differs from an existing one's only by '.' against '_'.
    assertConfigError(
      { KAFKA_TOPIC_PREFIX: "prod.", KAFKA_DLQ_TOPIC: "prod_order" },
      "KAFKA_DLQ_TOPIC",
      /collides with the source topic prod\.order \(KAFKA_TOPIC_PREFIX "prod\."\)/,
    );
    assertConfigError({ KAFKA_TOPIC_PREFIX: "eu_", KAFKA_DLQ_TOPIC: "eu.user" }, "KAFKA_DLQ_TOPIC", /collides/);
    assert.equal(
      loadConfig({ KAFKA_TOPIC_PREFIX: "prod.", KAFKA_DLQ_TOPIC: "prod_orders" }).kafkaDlqTopic,
      "prod_orders",
    );
    // An internal topic was said not to exist (the brokers list none), and takes no client's records.
    assertConfigError({ KAFKA_DLQ_TOPIC: "__consumer_offsets" }, "KAFKA_DLQ_TOPIC", /Kafka's internal topics/);
    assertConfigError({ KAFKA_DLQ_TOPIC: "__transaction_state" }, "KAFKA_DLQ_TOPIC", /Kafka's internal topics/);
    // KRaft's metadata log: listed by no broker, and its creation is refused.
    assertConfigError({ KAFKA_DLQ_TOPIC: "__cluster_metadata" }, "KAFKA_DLQ_TOPIC", /is one of Kafka's internal/);
    // A name colliding with an internal topic ('.' for '_') can't be created beside it.
    assertConfigError(
      { KAFKA_DLQ_TOPIC: "__consumer.offsets" },
      "KAFKA_DLQ_TOPIC",
      /collides with __consumer_offsets, one of Kafka's internal topics/,
    );
    // Over 4 MiB, one crafted value (a list of empty objects) runs the 256 MB heap out while it is parsed.
    assertConfigError({ MAX_MESSAGE_BYTES: "4194305" }, "MAX_MESSAGE_BYTES", /1024 to 4194304/);
    assert.equal(loadConfig({ MAX_MESSAGE_BYTES: "4194304" }).maxMessageBytes, 4194304);
    // MariaDB refuses JSON of 32 levels (its JSON columns' CHECK): 31 is the deepest a column takes.
    assertConfigError({ MAX_JSON_DEPTH: "32" }, "MAX_JSON_DEPTH", /1 to 31/);
    assert.equal(loadConfig({ MAX_JSON_DEPTH: "31" }).maxJsonDepth, 31);
  });

  test("an enum value not in the list", () => {
    assertConfigError({ KAFKA_AUTO_OFFSET_RESET: "newest" }, "KAFKA_AUTO_OFFSET_RESET", /earliest, latest/);
    assertConfigError({ LOG_LEVEL: "verbose" }, "LOG_LEVEL");
    assertConfigError({ KAFKA_SASL_MECHANISM: "GSSAPI" }, "KAFKA_SASL_MECHANISM");
  });

  test("a boolean that is not one", () => {
    assertConfigError({ KAFKA_SSL: "maybe" }, "KAFKA_SSL");
  });

  test("a host given as a URL is refused without quoting its password", () => {
    const kafka = assertConfigError(
      { KAFKA_BOOTSTRAP_SERVERS: "SASL_SSL://svc:Pa55@word@kafka.prod:9093" },
      "KAFKA_BOOTSTRAP_SERVERS",
    );
    assert.match(kafka.message, /"SASL_SSL:\/\/…@kafka\.prod:9093" is not host:port/);
    const mysql = assertConfigError({ MYSQL_HOST: "mysql://svc:Pa55word@db.prod:3306/analytics" }, "MYSQL_HOST");
    assert.match(mysql.message, /^MYSQL_HOST: "mysql:\/\/…@db\.prod:3306\/analytics" is not a host name or address; /);
    assertConfigError({ MYSQL_HOST: "svc:Pa55word@db" }, "MYSQL_HOST", /"…@db"/);
    // Credentials without a scheme or a colon (a token, a URL-encoded user:password) are no host
    // either: accepted, they went on to the Kafka outage line ("a broker host in … can't be resolved").
    const token = assertConfigError(
      { KAFKA_BOOTSTRAP_SERVERS: "kafka-a.prod:9093,svc%3APa55word@kafka.prod:9093" },
      "KAFKA_BOOTSTRAP_SERVERS",
      /"…@kafka\.prod:9093" is not host:port/,
    );
    // A comma in the password splits the URL: the first entry holds the user and the password's first part.
    const comma = assertConfigError(
      { KAFKA_BOOTSTRAP_SERVERS: "SASL_SSL://svc:Pa55,word@kafka.prod:9093" },
      "KAFKA_BOOTSTRAP_SERVERS",
      /"SASL_SSL:\/\/…" is not host:port/,
    );
    for (const err of [kafka, mysql, token, comma]) assert.ok(!err.message.includes("Pa55"), err.message);
    assert.equal(loadConfig({ MYSQL_HOST: "::1" }).mysqlHost, "::1");
  });

  test("a host given with its port, or an IPv6 address in brackets, says where each goes", () => {
    // Accepted, each went on to "can't be resolved" or "not an address of this machine".
    for (const [variable, port] of [
      ["MYSQL_HOST", "MYSQL_PORT"],
      ["METRICS_HOST", "METRICS_PORT"],
    ] as const) {
      const err = assertConfigError({ [variable]: "127.0.0.1:3306" }, variable);
      assert.equal(
        err.message,
        `${variable}: "127.0.0.1:3306" holds a port; give the host alone (127.0.0.1) and the port in ${port}.`,
      );
      assertConfigError({ [variable]: "db.internal:" }, variable, /holds a port; give the host alone \(db\.internal\)/);
      for (const bracketed of ["[::1]", "[::1]:3306"]) {
        const b = assertConfigError({ [variable]: bracketed }, variable);
        assert.equal(
          b.message,
          `${variable}: "${bracketed}" is an address in brackets; give it without them (::1), its port in ${port}.`,
        );
      }
      assertConfigError({ [variable]: "db[1]" }, variable, /is not a host name or address/);
      for (const fine of ["::1", "fe80::1:2", "::", "db.internal", "10.0.0.7"]) {
        assert.doesNotThrow(() => loadConfig({ [variable]: fine }), `${variable}=${fine}`);
      }
    }
  });

  test("a broker list that is not host:port", () => {
    assertConfigError({ KAFKA_BOOTSTRAP_SERVERS: "localhost" }, "KAFKA_BOOTSTRAP_SERVERS", /host:port/);
    assertConfigError({ KAFKA_BOOTSTRAP_SERVERS: "a:9092,b:port" }, "KAFKA_BOOTSTRAP_SERVERS", /"b:port"/);
    assertConfigError({ KAFKA_BOOTSTRAP_SERVERS: "kafka://a:9092" }, "KAFKA_BOOTSTRAP_SERVERS");
    assertConfigError({ KAFKA_BOOTSTRAP_SERVERS: " , " }, "KAFKA_BOOTSTRAP_SERVERS", /at least one/);
  });

  test("a required string set to spaces only", () => {
    assertConfigError({ MYSQL_HOST: "   " }, "MYSQL_HOST", /empty/);
  });

  test("a SASL user name or password without a mechanism: refused, not dropped", () => {
    assertConfigError({ KAFKA_SASL_USERNAME: "svc" }, "KAFKA_SASL_USERNAME", /KAFKA_SASL_MECHANISM is none/);
    const password = assertConfigError({ KAFKA_SASL_PASSWORD: "hunter2-sasl" }, "KAFKA_SASL_PASSWORD");
    assert.ok(!password.message.includes("hunter2-"), password.message);
    assert.equal(loadConfig({ KAFKA_SASL_MECHANISM: "PLAIN", KAFKA_SASL_USERNAME: "u" }).kafkaSaslPassword, "");
  });

  test("SASL without a user name", () => {
    assertConfigError({ KAFKA_SASL_MECHANISM: "PLAIN" }, "KAFKA_SASL_USERNAME", /PLAIN/);
    assert.equal(loadConfig({ KAFKA_SASL_MECHANISM: "PLAIN", KAFKA_SASL_USERNAME: "u" }).kafkaSaslUsername, "u");
  });
});

describe("secrets", () => {
  const SECRETS = { MYSQL_PASSWORD: "hunter2-mysql", KAFKA_SASL_PASSWORD: "hunter2-sasl" };

  test("are read (positive control)", () => {
    const c = loadConfig({ ...SECRETS, KAFKA_SASL_MECHANISM: "PLAIN", KAFKA_SASL_USERNAME: "u" });
    assert.equal(c.mysqlPassword, "hunter2-mysql");
    assert.equal(c.kafkaSaslPassword, "hunter2-sasl");
  });

  test("never appear in an error message", () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ ...SECRETS, MYSQL_PORT: "hunter2" }, "MYSQL_PORT"],
      [{ ...SECRETS, KAFKA_SASL_MECHANISM: "PLAIN" }, "KAFKA_SASL_USERNAME"],
      [{ ...SECRETS, KAFKA_BOOTSTRAP_SERVERS: "nope" }, "KAFKA_BOOTSTRAP_SERVERS"],
      [{ ...SECRETS, LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    ];
    for (const [env, variable] of cases) {
      const err = assertConfigError(env, variable);
      assert.ok(!err.message.includes("hunter2-"), err.message);
    }
  });

  test("a secret declared without allowEmpty reports emptiness without its value", () => {
    const decl = { token: str("API_TOKEN", "", "Token for the API.", { secret: true }) };
    assert.throws(
      () => parseDeclaration(decl, { API_TOKEN: "   " }),
      (err: unknown) =>
        err instanceof ConfigError && err.message === "API_TOKEN: must not be empty. Token for the API.",
    );
  });

  test("--help shows every variable, secrets as (secret) or (empty), never their defaults", () => {
    const lines = helpLines(serviceDeclaration);
    assert.equal(lines.length, Object.keys(serviceDeclaration).length);
    for (const v of Object.values(serviceDeclaration)) {
      assert.ok(
        lines.some((l) => l.trimStart().startsWith(`${v.env} `)),
        `no help line for ${v.env}`,
      );
    }
    const text = lines.join("\n");
    assert.ok(!text.includes("analytics123"));
    assert.match(
      lines.find((l) => l.trimStart().startsWith("MYSQL_PASSWORD")) ?? "",
      /MYSQL_PASSWORD\s+\(secret\)\s+MySQL password;/,
    );
    assert.match(
      lines.find((l) => l.trimStart().startsWith("KAFKA_SASL_PASSWORD")) ?? "",
      /KAFKA_SASL_PASSWORD\s+\(empty\)/,
    );
    assert.match(lines.find((l) => l.trimStart().startsWith("MYSQL_PORT")) ?? "", /MYSQL_PORT\s+3306\s+MySQL port\./);
    assert.match(lines.find((l) => l.includes("KAFKA_BOOTSTRAP_SERVERS")) ?? "", /localhost:9092/);
  });

  test("--help hides a secret default of any declaration", () => {
    const lines = helpLines({
      key: str("SIGNING_KEY", "s3cr3t-default", "Signing key.", { secret: true }),
      name: str("NAME", "visible-default", "A name."),
    });
    assert.ok(!lines.join("\n").includes("s3cr3t-default"));
    assert.ok(lines.join("\n").includes("visible-default"));
  });
});

describe("isExternallyConfigured", () => {
  test("true when Kafka or MySQL is pointed elsewhere, else false", () => {
    assert.equal(isExternallyConfigured({}), false);
    assert.equal(isExternallyConfigured({ KAFKA_BOOTSTRAP_SERVERS: "" }), false);
    assert.equal(isExternallyConfigured({ KAFKA_BOOTSTRAP_SERVERS: "k:9092" }), true);
    assert.equal(isExternallyConfigured({ MYSQL_HOST: "db" }), true);
  });
  test("read once into the configuration: run asks it, not the environment", () => {
    assert.equal(loadConfig({}).localStack, true);
    assert.equal(loadConfig({ MYSQL_HOST: "db" }).localStack, false);
    assert.equal(loadConfig({ KAFKA_BOOTSTRAP_SERVERS: "k:9092" }).localStack, false);
  });
});

describe("broker addresses", () => {
  test("a port outside 1–65535 is refused", () => {
    for (const bad of ["localhost:99999", "localhost:0"]) {
      assert.throws(
        () => loadConfig({ KAFKA_BOOTSTRAP_SERVERS: bad }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /^KAFKA_BOOTSTRAP_SERVERS: /);
          return true;
        },
      );
    }
  });
  test("IPv6 literals in brackets are accepted", () => {
    assert.deepEqual(loadConfig({ KAFKA_BOOTSTRAP_SERVERS: "[::1]:9092,kafka:9092" }).kafkaBrokers, [
      "[::1]:9092",
      "kafka:9092",
    ]);
  });
});

describe("topic names", () => {
  const refusal = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    return undefined;
  };
  test("a prefix or dead-letter topic Kafka can't name is refused in one line; the limits themselves pass", () => {
    for (const prefix of ["prod/", "prodé.", "prod .", "p".repeat(249 - "supplier".length + 1)]) {
      assert.match(
        refusal({ KAFKA_TOPIC_PREFIX: prefix }) ?? "",
        /^KAFKA_TOPIC_PREFIX: ".*" makes topic names Kafka refuses \(/,
        prefix,
      );
    }
    for (const topic of ["analytics dlq", "dlq/x", ".", "..", "d".repeat(250)]) {
      assert.match(
        refusal({ KAFKA_DLQ_TOPIC: topic }) ?? "",
        /^KAFKA_DLQ_TOPIC: ".*" is not a topic name Kafka takes;/,
        topic,
      );
    }
    assert.equal(
      refusal({ KAFKA_TOPIC_PREFIX: "p".repeat(249 - "supplier".length), KAFKA_DLQ_TOPIC: "d".repeat(249) }),
      undefined,
    );
    assert.equal(refusal({ KAFKA_TOPIC_PREFIX: "prod-eu_1.", KAFKA_DLQ_TOPIC: "prod-eu_1.dlq" }), undefined);
  });
});

test("misspelled: the _FILE form of a variable that has none is named, as images that read every variable from a file take it", () => {
  const env = {
    MYSQL_DATABASE_FILE: "/run/secrets/db",
    mysql_user_file: "/run/secrets/user",
    KAFKA_SASL_USERNAME_FILE: "/run/secrets/kafka-user",
    MYSQL_SSL_CA_FILE: "/etc/mysql/ca.pem",
    MYSQL_PASSWORD_FILE: "/run/secrets/pw",
    MYSQL_ROOT_PASSWORD_FILE: "/run/secrets/root",
  };
  assert.deepEqual(misspelled(serviceDeclaration, env), [
    { name: "MYSQL_DATABASE_FILE", meant: "MYSQL_DATABASE", noFileForm: true },
    { name: "mysql_user_file", meant: "MYSQL_USER", noFileForm: true },
    { name: "KAFKA_SASL_USERNAME_FILE", meant: "KAFKA_SASL_USERNAME", noFileForm: true },
    { name: "MYSQL_SSL_CA_FILE", meant: "MYSQL_SSL_CA", noFileForm: true },
  ]);
});

test("misspelled: a variable one typo from a declared one is named with what was meant; others are let be", () => {
  const env = {
    KAFKA_TOPIC_PREFX: "prod.",
    KAFKA_BOOTSTRAP_SERVER: "kafka:9092",
    MYSQL_DATABSAE: "analytics_prod",
    mysql_host: "db",
    MYSQL_PASSWORD_FIEL: "/run/secrets/pw",
    KAFKA_GROUP_ID: "g",
    MYSQL_HOME: "/etc/mysql",
    MYSQL_SERVICE_HOST: "10.0.0.5",
    KAFKA_PORT_9092_TCP: "tcp://10.0.0.6:9092",
    PATH: "/usr/bin",
  };
  assert.deepEqual(misspelled(serviceDeclaration, env), [
    { name: "KAFKA_TOPIC_PREFX", meant: "KAFKA_TOPIC_PREFIX" },
    { name: "KAFKA_BOOTSTRAP_SERVER", meant: "KAFKA_BOOTSTRAP_SERVERS" },
    { name: "MYSQL_DATABSAE", meant: "MYSQL_DATABASE" },
    { name: "mysql_host", meant: "MYSQL_HOST" },
    { name: "MYSQL_PASSWORD_FIEL", meant: "MYSQL_PASSWORD_FILE" },
  ]);
});

test("a group or client id longer than a Kafka request's string is one line", () => {
  assert.equal(loadConfig({ KAFKA_GROUP_ID: "g".repeat(32767) }).kafkaGroupId.length, 32767);
  for (const [variable, value, bytes] of [
    ["KAFKA_GROUP_ID", "g".repeat(40_000), 40_000],
    ["KAFKA_GROUP_ID", "ü".repeat(16_384), 32_768],
  ] as const) {
    assert.throws(
      () => loadConfig({ [variable]: value }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message === `${variable}: ${bytes} bytes, more than the 32767 a Kafka request can carry; use a shorter one.`,
    );
  }
  // The consumer's member id, <id>-consumer-<uuid>, is the longest string made of the client id:
  // one of 32,749 bytes passed, and the broker failed every JoinGroup ("unexpected error").
  assert.equal(loadConfig({ KAFKA_CLIENT_ID: "c".repeat(32_721) }).kafkaClientId.length, 32_721);
  for (const [value, bytes] of [
    ["c".repeat(32_722), 32_722],
    ["c".repeat(32_749), 32_749],
    ["ü".repeat(16_361), 32_722],
  ] as const) {
    assert.throws(
      () => loadConfig({ KAFKA_CLIENT_ID: value }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message ===
          `KAFKA_CLIENT_ID: ${bytes} bytes, more than the 32721 a Kafka request can carry once the consumer's member id is made of it (<id>-consumer-<uuid>); use a shorter one.`,
    );
  }
});
