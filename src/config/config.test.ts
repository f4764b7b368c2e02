import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { stackDeclaration } from "../../tools/stack/config.ts";
import { ConfigError } from "../errors.ts";
import { helpLines, parseDeclaration, str } from "./declare.ts";
import { isExternallyConfigured, loadConfig, serviceDeclaration } from "./index.ts";

/** `loadConfig(env)` throws a one-line ConfigError starting with `variable:`. */
function assertConfigError(env: NodeJS.ProcessEnv, variable: string, detail?: RegExp): ConfigError {
  let caught: unknown;
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      caught = err;
      return true;
    },
  );
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, "CONFIG");
  assert.equal(caught.expected, true);
  assert.ok(caught.message.startsWith(`${variable}: `), `"${caught.message}" should start with "${variable}: "`);
  assert.ok(!caught.message.includes("\n"), "one line");
  if (detail) assert.match(caught.message, detail);
  return caught;
}

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
        batchMaxEvents: 1000,
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
    assertConfigError({ MAX_MESSAGE_BYTES: "100" }, "MAX_MESSAGE_BYTES");
  });

  test("an enum value not in the list", () => {
    assertConfigError({ KAFKA_AUTO_OFFSET_RESET: "newest" }, "KAFKA_AUTO_OFFSET_RESET", /earliest, latest/);
    assertConfigError({ LOG_LEVEL: "verbose" }, "LOG_LEVEL");
    assertConfigError({ KAFKA_SASL_MECHANISM: "GSSAPI" }, "KAFKA_SASL_MECHANISM");
  });

  test("a boolean that is not one", () => {
    assertConfigError({ KAFKA_SSL: "maybe" }, "KAFKA_SSL");
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
      lines.find((l) => l.includes("MYSQL_PASSWORD")) ?? "",
      /MYSQL_PASSWORD\s+\(secret\)\s+MySQL password\./,
    );
    assert.match(lines.find((l) => l.includes("KAFKA_SASL_PASSWORD")) ?? "", /KAFKA_SASL_PASSWORD\s+\(empty\)/);
    assert.match(lines.find((l) => l.includes("MYSQL_PORT")) ?? "", /MYSQL_PORT\s+3306\s+MySQL port\./);
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

describe("secrets from files (<NAME>_FILE)", () => {
  const dir = mkdtempSync(join(tmpdir(), "config-test-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  test("every secret variable, the local stack's included, is read from its file, line breaks at the end dropped", () => {
    const secrets = [...Object.values(serviceDeclaration), ...Object.values(stackDeclaration)].filter((v) => v.secret);
    assert.deepEqual(
      secrets.map((v) => v.env),
      ["MYSQL_PASSWORD", "MYSQL_MIGRATE_PASSWORD", "KAFKA_SASL_PASSWORD", "STACK_MYSQL_ADMIN_PASSWORD"],
    );
    const c = loadConfig({
      MYSQL_PASSWORD_FILE: file("mysql", " pa ss \n"),
      MYSQL_MIGRATE_USER: "migrator",
      MYSQL_MIGRATE_PASSWORD_FILE: file("migrate", "m1gr4te\r\n"),
      KAFKA_SASL_MECHANISM: "PLAIN",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD_FILE: ` ${file("sasl", "s4sl")} `,
    });
    assert.equal(c.mysqlPassword, " pa ss ", "spaces kept, the newline dropped");
    assert.equal(c.mysqlMigratePassword, "m1gr4te");
    assert.equal(c.kafkaSaslPassword, "s4sl");
    const stack = parseDeclaration(stackDeclaration, { STACK_MYSQL_ADMIN_PASSWORD_FILE: file("admin", "r00t\n") });
    assert.equal(stack.mysqlAdminPassword, "r00t");
  });

  test("an empty file is an empty password, not the default", () => {
    assert.equal(loadConfig({ MYSQL_PASSWORD_FILE: file("empty", "\n") }).mysqlPassword, "");
    assert.equal(loadConfig({ MYSQL_PASSWORD_FILE: "" }).mysqlPassword, "analytics123", "an empty _FILE is unset");
  });

  test("both forms at once, a missing or unreadable file: one line naming the variable, never the value", () => {
    const path = file("both", "hunter2-file");
    const both = assertConfigError({ MYSQL_PASSWORD: "hunter2-env", MYSQL_PASSWORD_FILE: path }, "MYSQL_PASSWORD");
    assert.equal(
      both.message,
      "MYSQL_PASSWORD: set either MYSQL_PASSWORD or MYSQL_PASSWORD_FILE, not both. MySQL password.",
    );
    const missing = join(dir, "nope");
    assert.equal(
      assertConfigError({ KAFKA_SASL_PASSWORD_FILE: missing }, "KAFKA_SASL_PASSWORD_FILE").message,
      `KAFKA_SASL_PASSWORD_FILE: can't read ${missing}: no such file`,
    );
    assert.equal(
      assertConfigError({ MYSQL_PASSWORD_FILE: dir }, "MYSQL_PASSWORD_FILE").message,
      `MYSQL_PASSWORD_FILE: can't read ${dir}: it is a directory`,
    );
    if (process.getuid?.() !== 0) {
      const locked = file("locked", "hunter2-locked");
      chmodSync(locked, 0o000);
      assertConfigError({ MYSQL_PASSWORD_FILE: locked }, "MYSQL_PASSWORD_FILE", /permission denied/);
    }
    const elsewhere = assertConfigError({ MYSQL_PASSWORD_FILE: path, MYSQL_PORT: "x" }, "MYSQL_PORT");
    for (const err of [both, elsewhere]) assert.ok(!err.message.includes("hunter2"), err.message);
  });

  test("a secret that may not be empty refuses an empty file, naming it", () => {
    const decl = { token: str("API_TOKEN", "", "Token for the API.", { secret: true }) };
    const path = file("token", "\n\n");
    assert.throws(
      () => parseDeclaration(decl, { API_TOKEN_FILE: path }),
      (err: unknown) =>
        err instanceof ConfigError && err.message === `API_TOKEN_FILE: ${path} is empty. Token for the API.`,
    );
  });

  test("--help names the file form of each secret, and only of secrets", () => {
    const lines = helpLines(serviceDeclaration);
    for (const v of Object.values(serviceDeclaration)) {
      const line = lines.find((l) => l.trimStart().startsWith(`${v.env} `)) ?? "";
      assert.equal(line.includes(`Or ${v.env}_FILE: a file holding it.`), v.secret === true, line);
    }
  });
});

describe("MySQL TLS and the migrating account", () => {
  test("the modes, and files named for them", () => {
    assert.equal(loadConfig({}).mysqlSslMode, "preferred");
    const c = loadConfig({
      MYSQL_SSL_MODE: "verify-identity",
      MYSQL_SSL_CA: "/etc/ca.pem",
      MYSQL_SSL_CERT: "/etc/c.pem",
      MYSQL_SSL_KEY: "/etc/c.key",
    });
    assert.deepEqual(
      [c.mysqlSslMode, c.mysqlSslCa, c.mysqlSslCert, c.mysqlSslKey],
      ["verify-identity", "/etc/ca.pem", "/etc/c.pem", "/etc/c.key"],
    );
    assertConfigError(
      { MYSQL_SSL_MODE: "REQUIRED" },
      "MYSQL_SSL_MODE",
      /disabled, preferred, required, verify-ca, verify-identity/,
    );
  });

  test("a CA under a mode that never checks the certificate is refused, not ignored", () => {
    for (const mode of ["disabled", "preferred", "required"]) {
      const err = assertConfigError({ MYSQL_SSL_MODE: mode, MYSQL_SSL_CA: "/etc/ca.pem" }, "MYSQL_SSL_CA");
      assert.equal(
        err.message,
        `MYSQL_SSL_CA: MYSQL_SSL_MODE=${mode} does not check the server's certificate; set MYSQL_SSL_MODE=verify-identity (or verify-ca) to check it against this CA.`,
      );
    }
    assert.equal(loadConfig({ MYSQL_SSL_MODE: "verify-ca", MYSQL_SSL_CA: "/etc/ca.pem" }).mysqlSslCa, "/etc/ca.pem");
  });

  test("a client certificate needs its key (and the other way round), and a TLS mode", () => {
    assertConfigError({ MYSQL_SSL_CERT: "/c.pem" }, "MYSQL_SSL_KEY", /must be set with MYSQL_SSL_CERT/);
    assertConfigError({ MYSQL_SSL_KEY: "/c.key" }, "MYSQL_SSL_CERT", /must be set with MYSQL_SSL_KEY/);
    assertConfigError(
      { MYSQL_SSL_MODE: "disabled", MYSQL_SSL_CERT: "/c.pem", MYSQL_SSL_KEY: "/c.key" },
      "MYSQL_SSL_CERT",
      /disabled connects without TLS/,
    );
    assert.equal(
      loadConfig({ MYSQL_SSL_MODE: "required", MYSQL_SSL_CERT: "/c.pem", MYSQL_SSL_KEY: "/c.key" }).mysqlSslKey,
      "/c.key",
    );
  });

  test("a migration password without its user is refused, without the password", () => {
    const err = assertConfigError(
      { MYSQL_MIGRATE_PASSWORD: "hunter2-m" },
      "MYSQL_MIGRATE_USER",
      /MYSQL_MIGRATE_PASSWORD/,
    );
    assert.ok(!err.message.includes("hunter2"));
    const c = loadConfig({ MYSQL_MIGRATE_USER: "migrator", MYSQL_MIGRATE_PASSWORD: "pw" });
    assert.deepEqual([c.mysqlMigrateUser, c.mysqlMigratePassword], ["migrator", "pw"]);
  });
});
