import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Admin, ProduceAcks, Producer } from "@platformatic/kafka";
import type { Config } from "../../src/config/index.ts";
import { TOPICS } from "../../src/domains/registry.ts";
import { emit } from "../../src/generate/emit.ts";
import { kafkaBaseOptions } from "../../src/kafka/client-options.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { type SecureKafka, secureKafkaDown, secureKafkaUp } from "../../tools/stack/secure-kafka.ts";
import {
  capturingLogger,
  hexId,
  kafkaRefusal,
  onPrivatePorts,
  produce,
  randomName,
  runCliSync,
  stack,
  type TestTopics,
  testConfig,
  testDatabase,
  testService,
  topicsReady,
  waitFor,
} from "../support/helpers.ts";

// A broker of the test's own, secured as clusters are (tools/stack/secure-kafka.ts): the service
// consumes through its mutual-TLS listener and through SASL_SSL with PLAIN and both SCRAMs, every
// client configured by the service's own kafkaBaseOptions; each mismatch ends in one exact line.

const USER = { name: "analytics", password: randomBytes(12).toString("hex") };
let broker: SecureKafka;
const dirs: string[] = [];

before(async () => {
  broker = await onPrivatePorts(4, async (firstPort) => {
    const dir = mkdtempSync(join(tmpdir(), "analytics-secure-kafka-"));
    dirs.push(dir);
    return secureKafkaUp(stack, { dir, firstPort, user: USER, heapMb: 256 });
  });
});

after(async () => {
  if (broker !== undefined) await secureKafkaDown(broker);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const mutualTls = () => ({
  KAFKA_BOOTSTRAP_SERVERS: broker.ssl,
  KAFKA_SSL: "true",
  KAFKA_SSL_CA: broker.certs.ca,
  KAFKA_SSL_CERT: broker.certs.clientCert,
  KAFKA_SSL_KEY: broker.certs.clientKey,
});
const saslSsl = (mechanism: string, password = USER.password) => ({
  KAFKA_BOOTSTRAP_SERVERS: broker.saslSsl,
  KAFKA_SSL: "true",
  KAFKA_SSL_CA: broker.certs.ca,
  KAFKA_SASL_MECHANISM: mechanism,
  KAFKA_SASL_USERNAME: USER.name,
  KAFKA_SASL_PASSWORD: password,
});

/** The five source topics and a dead-letter topic, created through the secured connection itself. */
async function secureTopics(config: Config): Promise<TestTopics> {
  const prefix = `${randomName("t")}.`;
  const all = [...TOPICS, "dlq"].map((topic) => `${prefix}${topic}`);
  const admin = new Admin({ ...kafkaBaseOptions(config, "test-admin"), retries: 2 });
  try {
    await admin.createTopics({ topics: all, partitions: 1, replicas: 1 });
    await topicsReady(admin, all, 1);
  } finally {
    await admin.close();
  }
  return { prefix, dlq: `${prefix}dlq`, all };
}

for (const [name, env] of [
  ["mutual TLS (client certificate required)", mutualTls],
  ["SASL_SSL with PLAIN", () => saslSsl("PLAIN")],
  ["SASL_SSL with SCRAM-SHA-256", () => saslSsl("SCRAM-SHA-256")],
  ["SASL_SSL with SCRAM-SHA-512", () => saslSsl("SCRAM-SHA-512")],
] as const) {
  test(`the service consumes through ${name}`, { timeout: 60_000 }, async (t) => {
    const db = await testDatabase(t);
    const unplaced = testConfig(db, { prefix: "", dlq: "unused", all: [] }, env());
    const topics = await secureTopics(unplaced);
    const config = testConfig(db, topics, env());
    await testService(t, config);
    // The producer is configured the way the service's clients are: the same options, same files.
    const producer = new Producer({ ...kafkaBaseOptions(config, "test-producer"), acks: ProduceAcks.ALL });
    t.after(() => producer.close());
    const doc = fixture("user.created").value.data as Record<string, unknown>;
    const users = Array.from({ length: 5 }, (_, i) => emit("user.created", hexId(i, "5e"), doc as never));
    await produce(producer, topics.prefix, users);
    await waitFor("five users in MySQL", async () => {
      const [row] = await db.query<{ n: number | string }>("SELECT COUNT(*) AS n FROM users");
      return Number(row?.n) === 5;
    });
  });
}

test("a client certificate the broker rejects, or none, is named in one line", async () => {
  const stranger = {
    ...mutualTls(),
    KAFKA_SSL_CERT: broker.certs.strangerCert,
    KAFKA_SSL_KEY: broker.certs.strangerKey,
  };
  assert.equal(
    await kafkaRefusal(stranger),
    `the brokers ${broker.ssl} closed the connection after the TLS handshake: they likely reject the client certificate KAFKA_SSL_CERT=${broker.certs.strangerCert} (signed by a CA they do not trust, or expired), or expect SASL (now KAFKA_SSL=true, KAFKA_SASL_MECHANISM=none)`,
  );
  const none = { KAFKA_BOOTSTRAP_SERVERS: broker.ssl, KAFKA_SSL: "true", KAFKA_SSL_CA: broker.certs.ca };
  assert.equal(
    await kafkaRefusal(none),
    `the brokers ${broker.ssl} closed the connection after the TLS handshake: they likely require a client certificate (set KAFKA_SSL_CERT and KAFKA_SSL_KEY) or SASL (set KAFKA_SASL_MECHANISM) (now KAFKA_SSL=true, KAFKA_SASL_MECHANISM=none)`,
  );
});

test("a wrong SCRAM or PLAIN password is named in one line, without the password", async () => {
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]) {
    const line = await kafkaRefusal(saslSsl(mechanism, "not-the-password"));
    assert.equal(
      line,
      `the brokers ${broker.saslSsl} refused the ${mechanism} login of KAFKA_SASL_USERNAME=${USER.name}: check KAFKA_SASL_PASSWORD, and that the user exists for ${mechanism} (now KAFKA_SSL=true, KAFKA_SASL_MECHANISM=${mechanism})`,
    );
    assert.ok(!line.includes("not-the-password"));
  }
});

test("dlq list names a wrong password in its one line, as the service does", () => {
  const r = runCliSync(["dlq", "list"], { ...saslSsl("SCRAM-SHA-256", "not-the-password"), MYSQL_HOST: "127.0.0.1" });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(
    r.stderr,
    `analytics-service: Kafka: reading analytics-dlq failed: the brokers ${broker.saslSsl} refused the SCRAM-SHA-256 login of KAFKA_SASL_USERNAME=${USER.name}: check KAFKA_SASL_PASSWORD, and that the user exists for SCRAM-SHA-256 (now KAFKA_SSL=true, KAFKA_SASL_MECHANISM=SCRAM-SHA-256)\n`,
  );
});

test("a broker certificate from a CA the service does not trust is named in one line", async () => {
  const line = `the brokers' certificate at ${broker.saslSsl} is not signed by a CA the service trusts (UNABLE_TO_VERIFY_LEAF_SIGNATURE): set KAFKA_SSL_CA to the PEM file of the CA that signed it`;
  assert.equal(
    await kafkaRefusal({ ...saslSsl("SCRAM-SHA-256"), KAFKA_SSL_CA: broker.certs.otherCa }),
    `${line} (now KAFKA_SSL_CA=${broker.certs.otherCa})`,
  );
  assert.equal(
    await kafkaRefusal({ ...saslSsl("SCRAM-SHA-256"), KAFKA_SSL_CA: "" }),
    `${line} (now KAFKA_SSL_CA=unset: Node's public CAs)`,
  );
});

test("plaintext towards a TLS listener and SASL towards one without it are named in one line", async () => {
  const expectTls = (at: string, mechanism: string) =>
    `the brokers ${at} expect TLS on this port: set KAFKA_SSL=true, and KAFKA_SSL_CA if a private CA signed their certificate (now KAFKA_SSL=false, KAFKA_SASL_MECHANISM=${mechanism})`;
  assert.equal(await kafkaRefusal({ KAFKA_BOOTSTRAP_SERVERS: broker.ssl }), expectTls(broker.ssl, "none"));
  const saslNoTls = { ...saslSsl("SCRAM-SHA-512"), KAFKA_SSL: "false", KAFKA_SSL_CA: "" };
  assert.equal(await kafkaRefusal(saslNoTls), expectTls(broker.saslSsl, "SCRAM-SHA-512"));
  assert.equal(
    await kafkaRefusal({ ...mutualTls(), KAFKA_SASL_MECHANISM: "PLAIN", KAFKA_SASL_USERNAME: USER.name }),
    `the brokers ${broker.ssl} do not expect SASL on this port: set KAFKA_SASL_MECHANISM=none or use their SASL listener (now KAFKA_SSL=true, KAFKA_SASL_MECHANISM=PLAIN)`,
  );
});

test("the service stops its start on a wrong password, with one line naming it, as it does for MySQL's", async (t) => {
  const db = await testDatabase(t);
  const { log } = capturingLogger();
  const config = testConfig(db, { prefix: "x.", dlq: "x.dlq", all: [] }, saslSsl("SCRAM-SHA-256", "stale-secret"));
  const cancel = new AbortController();
  t.after(() => cancel.abort());
  await assert.rejects(startService(config, log, {}, cancel.signal), {
    name: "ConfigError",
    message: `Kafka: the brokers ${broker.saslSsl} refused the SCRAM-SHA-256 login of KAFKA_SASL_USERNAME=${USER.name}: check KAFKA_SASL_PASSWORD, and that the user exists for SCRAM-SHA-256 (now KAFKA_SSL=true, KAFKA_SASL_MECHANISM=SCRAM-SHA-256)`,
  });
});

test("a missing, unreadable or mismatched TLS file is one configuration line naming the variable", () => {
  const options = (env: Record<string, string>) =>
    kafkaBaseOptions(testConfig({ name: "unused" }, { prefix: "", dlq: "unused", all: [] }, env), "probe");
  const missing = join(broker.dir, "certs", "missing.pem");
  assert.throws(() => options({ ...mutualTls(), KAFKA_SSL_CA: missing }), {
    name: "ConfigError",
    message: `KAFKA_SSL_CA: can't read ${missing}: no such file`,
  });
  assert.throws(() => options({ ...mutualTls(), KAFKA_SSL_KEY: broker.certs.strangerKey }), {
    message: `KAFKA_SSL_KEY: ${broker.certs.strangerKey} is not the key of the certificate in KAFKA_SSL_CERT (${broker.certs.clientCert}).`,
  });
  assert.throws(() => options({ ...mutualTls(), KAFKA_SSL_KEY: "" }), {
    message: "KAFKA_SSL_KEY: must be set with KAFKA_SSL_CERT; a client certificate and its key go together.",
  });
  assert.throws(() => options({ ...mutualTls(), KAFKA_SSL_CA: broker.certs.clientKey }), {
    message: `KAFKA_SSL_CA: ${broker.certs.clientKey} is not a PEM certificate (no start line).`,
  });
  assert.throws(() => options({ ...mutualTls(), KAFKA_SSL: "false" }), {
    message:
      "KAFKA_SSL: must be true to use KAFKA_SSL_CA, KAFKA_SSL_CERT, KAFKA_SSL_KEY; the files are only used over TLS.",
  });
});
