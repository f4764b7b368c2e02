import { ConfigError } from "../errors.ts";
import { kafkaTls } from "../kafka/client-options.ts";
import { DEFAULT_DLQ_TOPIC } from "../kafka/topics.ts";
import { bool, type ConfigOf, int, list, oneOf, parseDeclaration, str } from "./declare.ts";
import { checkBrokers, checkHostAlone } from "./hosts.ts";
import { checkRequestStrings, checkTopicNames } from "./kafka-names.ts";

// docs/operations.md#configuration names and defaults first, then what this service adds.
export const serviceDeclaration = {
  kafkaBrokers: list("KAFKA_BOOTSTRAP_SERVERS", ["localhost:9092"], "Kafka brokers, comma-separated host:port."),
  kafkaClientId: str(
    "KAFKA_CLIENT_ID",
    "mysql-service",
    "Prefix of the client ids the service shows the brokers: `<id>-consumer`, `<id>-dlq`, ... (docs/operations.md#kafka-security).",
  ),
  kafkaGroupId: str("KAFKA_GROUP_ID", "mysql-analytics-service", "Consumer group; offsets are committed under it."),
  kafkaAutoOffsetReset: oneOf(
    "KAFKA_AUTO_OFFSET_RESET",
    "earliest",
    ["earliest", "latest"],
    "Where a group without committed offsets starts, and where it reads on when its committed offset is no longer in the log (deleted by retention): the log's start or its end; a warning line names the offsets never read. Where it starts is committed within 5 s, even before an event comes, so a restart goes on from there.",
  ),
  kafkaTopicPrefix: str(
    "KAFKA_TOPIC_PREFIX",
    "",
    "Prefix of the five source topics (e.g. `prod.` reads prod.user, prod.order, ...): letters, digits, `.`, `_`, `-`.",
    { allowEmpty: true },
  ),
  kafkaDlqTopic: str(
    "KAFKA_DLQ_TOPIC",
    DEFAULT_DLQ_TOPIC,
    "Dead-letter topic for events that can't be applied; never one of the source topics, nor one whose name differs from theirs only by `.` against `_` (Kafka refuses such a pair).",
  ),
  mysqlHost: str(
    "MYSQL_HOST",
    "localhost",
    "MySQL host alone: a name or an address, an IPv6 one without brackets; its port goes in MYSQL_PORT.",
  ),
  mysqlPort: int("MYSQL_PORT", 3306, "MySQL port.", 1, 65535),
  mysqlUser: str("MYSQL_USER", "analytics", "MySQL user."),
  mysqlPassword: str(
    "MYSQL_PASSWORD",
    "analytics123",
    "MySQL password; unset, the local stack's (set your own anywhere else).",
    {
      secret: true,
      allowEmpty: true,
    },
  ),
  mysqlDatabase: str("MYSQL_DATABASE", "analytics", "MySQL database holding the analytics tables."),
  mysqlPoolSize: int("MYSQL_POOL_SIZE", 4, "Connections in the MySQL pool.", 1, 256),
  mysqlSslMode: oneOf(
    "MYSQL_SSL_MODE",
    "preferred",
    ["disabled", "preferred", "required", "verify-ca", "verify-identity"],
    "TLS to MySQL, as MySQL's clients name the modes: preferred uses TLS when the server offers it; verify-ca and verify-identity check its certificate (and host name).",
  ),
  mysqlSslCa: str(
    "MYSQL_SSL_CA",
    "",
    "PEM file of the CA that signed the MySQL server's certificate (verify-ca, verify-identity).",
    {
      allowEmpty: true,
    },
  ),
  mysqlSslCert: str("MYSQL_SSL_CERT", "", "PEM file of a client certificate, for servers that require one.", {
    allowEmpty: true,
  }),
  mysqlSslKey: str("MYSQL_SSL_KEY", "", "PEM file of the client certificate's private key.", { allowEmpty: true }),
  mysqlMigrateUser: str(
    "MYSQL_MIGRATE_USER",
    "",
    "MySQL user that applies migrations (needs CREATE, ALTER, ...); empty: MYSQL_USER does.",
    { allowEmpty: true },
  ),
  mysqlMigratePassword: str("MYSQL_MIGRATE_PASSWORD", "", "Password of MYSQL_MIGRATE_USER.", {
    secret: true,
    allowEmpty: true,
  }),
  kafkaSsl: bool("KAFKA_SSL", false, "Connect to Kafka over TLS."),
  kafkaSslCa: str("KAFKA_SSL_CA", "", "PEM file of the CA that signed the brokers' certificates (a private CA).", {
    allowEmpty: true,
  }),
  kafkaSslCert: str("KAFKA_SSL_CERT", "", "PEM file of a client certificate, for mutual TLS.", { allowEmpty: true }),
  kafkaSslKey: str("KAFKA_SSL_KEY", "", "PEM file of the client certificate's private key.", { allowEmpty: true }),
  kafkaSaslMechanism: oneOf(
    "KAFKA_SASL_MECHANISM",
    "none",
    ["none", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
    "SASL mechanism for Kafka, or none.",
  ),
  kafkaSaslUsername: str("KAFKA_SASL_USERNAME", "", "SASL user name.", { allowEmpty: true }),
  kafkaSaslPassword: str("KAFKA_SASL_PASSWORD", "", "SASL password.", { secret: true, allowEmpty: true }),
  kafkaSessionTimeoutMs: int(
    "KAFKA_SESSION_TIMEOUT_MS",
    30000,
    "How long the group waits for a silent member before reassigning its partitions.",
    6000,
    300000,
  ),
  batchMaxEvents: int(
    "BATCH_MAX_EVENTS",
    4000,
    "Most events taken from Kafka into one batch (split per partition, one transaction each). At most 20000: the batch's events, decoded, are in the 256 MB heap at once (docs/decisions.md).",
    1,
    // More ran the heap out at a backlog, at every restart (measured: docs/decisions.md).
    20000,
  ),
  batchMaxBytes: int(
    "BATCH_MAX_BYTES",
    8388608,
    "Most bytes of event keys, values and headers taken from Kafka into one batch; a larger event goes alone. Bounds memory when the events are large. At most 128 MiB, for the same reason as BATCH_MAX_EVENTS'.",
    65536,
    // A decoded event keeps about its own size in the heap: more ran it out at a backlog of large
    // events, at every restart (docs/decisions.md).
    134217728,
  ),
  batchLingerMs: int(
    "BATCH_LINGER_MS",
    20,
    "How long a batch waits for more events after its first before it is written.",
    0,
    60000,
  ),
  batchesInFlight: int(
    "BATCHES_IN_FLIGHT",
    2,
    "Batches in hand at once: being decoded, waiting, or written side by side (one partition's in order). Together they hold at most BATCH_MAX_EVENTS events and BATCH_MAX_BYTES bytes; in a backlog, one at a time.",
    1,
    64,
  ),
  maxClockSkewMs: int(
    "MAX_CLOCK_SKEW_MS",
    300000,
    "How far an event's timestamp may be ahead of its Kafka record's timestamp (or of now, if that is earlier); further ahead, or a record without a timestamp, is dead-lettered (docs/guarantees.md).",
    0,
    1e15,
  ),
  maxJsonDepth: int(
    "MAX_JSON_DEPTH",
    16,
    "Deepest nesting of what is stored in a JSON column (media_json, attributes_json, ...); deeper is dead-lettered.",
    1,
    // MariaDB's JSON_VALID, the CHECK of its JSON columns, refuses 32 levels: an event nested so
    // deep would pass this check and be refused by the server, as an unnamed constraint error.
    31,
  ),
  maxUnexpectedErrors: int(
    "MAX_UNEXPECTED_ERRORS",
    5,
    "Events failing with unexpected errors (bugs, each dead-lettered) tolerated within a minute; one more stops the service.",
    0,
    1000000,
  ),
  maxMessageBytes: int(
    "MAX_MESSAGE_BYTES",
    1048576,
    "Largest event value accepted; larger ones are dead-lettered with a truncated copy. At most 4 MiB: parsing a crafted value takes many times its size of the 256 MB heap (docs/decisions.md).",
    1024,
    4194304,
  ),
  retryMaxBackoffMs: int(
    "RETRY_MAX_BACKOFF_MS",
    10000,
    "Cap of the exponential backoff while MySQL or Kafka is unavailable.",
    100,
    600000,
  ),
  metricsHost: str(
    "METRICS_HOST",
    "127.0.0.1",
    "Address /metrics, /healthz and /readyz listen on, without a port or brackets; 0.0.0.0 for every interface (the image sets it).",
  ),
  metricsPort: int(
    "METRICS_PORT",
    9464,
    "Port of /metrics, /healthz and /readyz; 0 turns the HTTP endpoint off.",
    0,
    65535,
  ),
  logLevel: oneOf(
    "LOG_LEVEL",
    "info",
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    "Log level; per-event lines appear at debug.",
  ),
  shutdownTimeoutMs: int(
    "SHUTDOWN_TIMEOUT_MS",
    15000,
    "Longest a SIGTERM, SIGINT or SIGHUP shutdown may take before the process exits anyway.",
    1000,
    600000,
  ),
} as const;

export type Config = ConfigOf<typeof serviceDeclaration> & {
  /** Neither KAFKA_BOOTSTRAP_SERVERS nor MYSQL_HOST is set: `run` starts the local development stack first. */
  localStack: boolean;
};

/** Whether the user pointed the service at their own services (then nothing local is started). */
export function isExternallyConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.KAFKA_BOOTSTRAP_SERVERS || env.MYSQL_HOST);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Config = Object.freeze({
    ...parseDeclaration(serviceDeclaration, env),
    localStack: !isExternallyConfigured(env),
  });
  checkBrokers(config.kafkaBrokers);
  checkHostAlone("MYSQL_HOST", config.mysqlHost, "MYSQL_PORT", ", the account in MYSQL_USER and MYSQL_PASSWORD");
  checkHostAlone("METRICS_HOST", config.metricsHost, "METRICS_PORT");
  if (config.kafkaSaslMechanism !== "none" && config.kafkaSaslUsername === "") {
    throw new ConfigError(
      `KAFKA_SASL_USERNAME: must be set when KAFKA_SASL_MECHANISM is ${config.kafkaSaslMechanism}.`,
    );
  }
  // Credentials for no mechanism would be dropped without a word: the connection would go out
  // without the login the operator set up (the TLS settings are held to the same rule).
  if (config.kafkaSaslMechanism === "none" && (config.kafkaSaslUsername !== "" || config.kafkaSaslPassword !== "")) {
    const given = config.kafkaSaslUsername !== "" ? "KAFKA_SASL_USERNAME" : "KAFKA_SASL_PASSWORD";
    throw new ConfigError(
      `${given}: is set, but KAFKA_SASL_MECHANISM is none, so it would not be used; set KAFKA_SASL_MECHANISM to the brokers' mechanism, or unset ${given}${given === "KAFKA_SASL_PASSWORD" ? " (or KAFKA_SASL_PASSWORD_FILE)" : ""}.`,
    );
  }
  checkTopicNames(config);
  checkRequestStrings(config);
  checkMysqlTls(config);
  checkMysqlAccounts(config);
  // The KAFKA_SSL_* files are read and checked now (and kept), so a bad one stops every command
  // before it connects anywhere, not after the migrations.
  kafkaTls(config);
  return config;
}

/**
 * TLS settings that would not do what they seem to: a CA the mode never checks against (the
 * operator believes the server is verified), half of a client certificate, or one that is never
 * sent. The files themselves are read when the first connection is made (src/db/tls.ts).
 */
function checkMysqlTls(config: Config): void {
  const mode = config.mysqlSslMode;
  if (config.mysqlSslCa !== "" && mode !== "verify-ca" && mode !== "verify-identity") {
    throw new ConfigError(
      `MYSQL_SSL_CA: MYSQL_SSL_MODE=${mode} does not check the server's certificate; set MYSQL_SSL_MODE=verify-identity (or verify-ca) to check it against this CA.`,
    );
  }
  if ((config.mysqlSslCert === "") !== (config.mysqlSslKey === "")) {
    const [missing, given] =
      config.mysqlSslCert === "" ? ["MYSQL_SSL_CERT", "MYSQL_SSL_KEY"] : ["MYSQL_SSL_KEY", "MYSQL_SSL_CERT"];
    throw new ConfigError(
      `${missing}: must be set with ${given}: a client certificate needs both its file and its key.`,
    );
  }
  if (config.mysqlSslCert !== "" && mode === "disabled") {
    throw new ConfigError(
      "MYSQL_SSL_CERT: MYSQL_SSL_MODE=disabled connects without TLS and sends no client certificate; set a TLS mode or unset MYSQL_SSL_CERT and MYSQL_SSL_KEY.",
    );
  }
}

function checkMysqlAccounts(config: Config): void {
  if (config.mysqlMigratePassword !== "" && config.mysqlMigrateUser === "") {
    throw new ConfigError(
      "MYSQL_MIGRATE_USER: must be set with MYSQL_MIGRATE_PASSWORD (migrations otherwise run as MYSQL_USER).",
    );
  }
}
