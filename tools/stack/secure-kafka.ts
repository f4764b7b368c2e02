import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StackError } from "../../src/errors.ts";
import type { StackConfig } from "./config.ts";
import {
  formatKafkaStorage,
  kafkaAnswers,
  kafkaClasspath,
  newClusterId,
  singleNodeSettings,
  writeBrokerLog4j,
} from "./kafka.ts";
import { lastLines, ownedPid, removeFile, requireCommand, spawnDetached, stopPid, waitUntil } from "./process.ts";

// A broker of a test's own, secured the way production clusters are: a private CA, an SSL
// listener that requires client certificates, and a SASL_SSL listener with PLAIN and SCRAM.
// Certificates are made with openssl and read by the broker as PEM (no Java keystores), SCRAM
// users are written by the storage format step, as KRaft clusters bootstrap them.

/** PEM files made by `makeCertificates`. */
export interface Certificates {
  /** The CA that signed the broker's and the client's certificates. */
  ca: string;
  clientCert: string;
  clientKey: string;
  /** A second CA, which signed nothing the broker trusts. */
  otherCa: string;
  /** A client certificate signed by `otherCa`: the broker rejects it. */
  strangerCert: string;
  strangerKey: string;
  /** The broker's key and certificate in one file (Kafka's PEM keystore). */
  brokerKeystore: string;
}

export interface SecureKafka {
  dir: string;
  /** Plaintext (inter-broker, and for setting up): no TLS, no SASL. */
  plaintext: string;
  /** TLS with a client certificate required. */
  ssl: string;
  /** TLS, then SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. */
  saslSsl: string;
  certs: Certificates;
  pid: number;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new StackError(`openssl ${args[0]} failed: ${(r.stderr || r.stdout).trim()}`);
}

/** A self-signed CA: `<name>.pem`, `<name>.key`. */
function makeCa(dir: string, name: string): void {
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.ec`]);
  openssl(dir, ["pkcs8", "-topk8", "-nocrypt", "-in", `${name}.ec`, "-out", `${name}.key`]);
  openssl(
    dir,
    ["req", "-x509", "-new", "-key", `${name}.key`, "-out", `${name}.pem`, "-days", "2"].concat([
      "-subj",
      `/CN=${name}`,
    ]),
  );
}

/** A key (PKCS#8, as Kafka's PEM store reads it) and a certificate signed by `ca`. */
function makeSigned(dir: string, name: string, ca: string, extensions: string): void {
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.ec`]);
  openssl(dir, ["pkcs8", "-topk8", "-nocrypt", "-in", `${name}.ec`, "-out", `${name}.key`]);
  openssl(dir, ["req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
  openssl(
    dir,
    ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`].concat([
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    ]),
  );
}

/** Makes the CAs and certificates in `dir`. */
export function makeCertificates(dir: string): Certificates {
  requireCommand(
    "openssl",
    "version",
    "install OpenSSL (apt-get install openssl); the test makes its certificates with it",
  );
  mkdirSync(dir, { recursive: true });
  makeCa(dir, "ca");
  makeCa(dir, "other-ca");
  // The clients connect to 127.0.0.1 and check the name, as they should.
  makeSigned(dir, "broker", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth");
  makeSigned(dir, "client", "ca", "extendedKeyUsage=clientAuth");
  makeSigned(dir, "stranger", "other-ca", "extendedKeyUsage=clientAuth");
  const at = (file: string) => join(dir, file);
  const brokerKeystore = at("broker-keystore.pem");
  writeFileSync(brokerKeystore, readFileSync(at("broker.key"), "utf8") + readFileSync(at("broker.pem"), "utf8"));
  return {
    ca: at("ca.pem"),
    clientCert: at("client.pem"),
    clientKey: at("client.key"),
    otherCa: at("other-ca.pem"),
    strangerCert: at("stranger.pem"),
    strangerKey: at("stranger.key"),
    brokerKeystore,
  };
}

interface Layout {
  dir: string;
  ports: { controller: number; plaintext: number; ssl: number; saslSsl: number };
  certs: Certificates;
  user: { name: string; password: string };
}

function brokerProperties(l: Layout): string {
  const { controller, plaintext, ssl, saslSsl } = l.ports;
  const listeners = `PLAINTEXT://127.0.0.1:${plaintext},SSL://127.0.0.1:${ssl},SASL_SSL://127.0.0.1:${saslSsl}`;
  const jaas = (module: string, extra = "") => `org.apache.kafka.common.security.${module} required${extra};`;
  return [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${controller}`,
    `listeners=${listeners},CONTROLLER://127.0.0.1:${controller}`,
    `advertised.listeners=${listeners}`,
    "controller.listener.names=CONTROLLER",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name=PLAINTEXT",
    "ssl.keystore.type=PEM",
    `ssl.keystore.location=${l.certs.brokerKeystore}`,
    "ssl.truststore.type=PEM",
    `ssl.truststore.location=${l.certs.ca}`,
    "listener.name.ssl.ssl.client.auth=required",
    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
    `listener.name.sasl_ssl.plain.sasl.jaas.config=${jaas("plain.PlainLoginModule", ` user_${l.user.name}="${l.user.password}"`)}`,
    `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${jaas("scram.ScramLoginModule")}`,
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${jaas("scram.ScramLoginModule")}`,
    `log.dirs=${join(l.dir, "data")}`,
    ...singleNodeSettings(1, 1),
    "",
  ].join("\n");
}

/** Formats the storage with the SCRAM credentials: KRaft stores users in its metadata log. */
function formatStorage(l: Layout, classpath: string, log4j: string, props: string): void {
  const scram = (mechanism: string) => [
    "--add-scram",
    `${mechanism}=[name=${l.user.name},password=${l.user.password}]`,
  ];
  formatKafkaStorage({
    classpath,
    log4j,
    props,
    clusterId: newClusterId(),
    extra: [...scram("SCRAM-SHA-256"), ...scram("SCRAM-SHA-512")],
    what: "the secured broker's storage",
  });
}

/**
 * Starts the secured broker on four consecutive ports from `firstPort` (controller, plaintext,
 * SSL, SASL_SSL) with its data in `dir`. The user `user` may log in with PLAIN and both SCRAMs.
 */
export async function secureKafkaUp(
  stack: StackConfig,
  opts: {
    dir: string;
    firstPort: number;
    user: { name: string; password: string };
    heapMb?: number;
    /** More lines for the broker's server.properties (an authorizer, say). */
    extra?: string[];
  },
): Promise<SecureKafka> {
  requireCommand("java", "-version", "install a Java runtime 17 or newer (apt-get install default-jre-headless)");
  const p = opts.firstPort;
  const layout: Layout = {
    dir: opts.dir,
    ports: { controller: p, plaintext: p + 1, ssl: p + 2, saslSsl: p + 3 },
    certs: makeCertificates(join(opts.dir, "certs")),
    user: opts.user,
  };
  const classpath = kafkaClasspath(stack);
  const props = join(opts.dir, "server.properties");
  writeFileSync(props, [brokerProperties(layout), ...(opts.extra ?? []), ""].join("\n"));
  // Failed authentications are logged at INFO: the test's log then shows what the broker saw.
  const log4j = writeBrokerLog4j(opts.dir, { "org.apache.kafka.common.network.Selector": "INFO" });
  formatStorage(layout, classpath, log4j, props);
  const heap = opts.heapMb ?? 256;
  const log = join(opts.dir, "server.log");
  const pidFile = join(opts.dir, "kafka.pid");
  const pid = spawnDetached(
    "java",
    [`-Xms${heap}m`, `-Xmx${heap}m`, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"].concat([
      `-Dlog4j2.configurationFile=${log4j}`,
      "-cp",
      classpath,
      "kafka.Kafka",
      props,
    ]),
    log,
    pidFile,
  );
  const plaintext = `127.0.0.1:${layout.ports.plaintext}`;
  const broker: SecureKafka = {
    dir: opts.dir,
    plaintext,
    ssl: `127.0.0.1:${layout.ports.ssl}`,
    saslSsl: `127.0.0.1:${layout.ports.saslSsl}`,
    certs: layout.certs,
    pid,
  };
  try {
    await waitUntil(() => kafkaAnswers(plaintext, 2000), {
      timeoutMs: 90000,
      what: `the secured Kafka on ${plaintext}`,
      alive: () => ownedPid(pidFile, props) !== null,
    });
  } catch (err) {
    await secureKafkaDown(broker);
    throw new StackError(`${(err as Error).message}; last lines of ${log}:\n${lastLines(log)}`);
  }
  return broker;
}

export async function secureKafkaDown(broker: SecureKafka): Promise<void> {
  const pidFile = join(broker.dir, "kafka.pid");
  if (ownedPid(pidFile, join(broker.dir, "server.properties")) === null) return;
  await stopPid(broker.pid, 30000);
  removeFile(pidFile);
}
