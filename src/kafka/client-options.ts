import { createPrivateKey, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { BaseOptions } from "@platformatic/kafka";
import { readConfigBytes, refuseEncryptedKey, refuseOutOfDate } from "../config/files.ts";
import type { Config } from "../config/index.ts";
import { ConfigError, messageOf } from "../errors.ts";

type KafkaConnectionConfig = Pick<
  Config,
  | "kafkaBrokers"
  | "kafkaClientId"
  | "kafkaSsl"
  | "kafkaSslCa"
  | "kafkaSslCert"
  | "kafkaSslKey"
  | "kafkaSaslMechanism"
  | "kafkaSaslUsername"
  | "kafkaSaslPassword"
>;

type TlsFiles = Pick<Config, "kafkaSsl" | "kafkaSslCa" | "kafkaSslCert" | "kafkaSslKey">;

/** Connection options every Kafka client of the service shares. */
export function kafkaBaseOptions(config: KafkaConnectionConfig, clientSuffix: string): BaseOptions {
  const options: BaseOptions = {
    clientId: `${config.kafkaClientId}-${clientSuffix}`,
    bootstrapBrokers: [...config.kafkaBrokers],
    connectTimeout: 5000,
  };
  const tls = kafkaTls(config);
  if (tls !== undefined) {
    options.tls = tls;
    // Clusters behind a proxy route TLS by SNI, which Node sends only when asked; an IP address
    // is not a server name (RFC 6066), so bootstrap addresses given as IPs go without.
    if (!config.kafkaBrokers.some((b) => isIP(b.slice(0, b.lastIndexOf(":")).replace(/^\[|\]$/g, "")) !== 0)) {
      options.tlsServerName = true;
    }
  }
  if (config.kafkaSaslMechanism !== "none") {
    options.sasl = {
      mechanism: config.kafkaSaslMechanism,
      username: config.kafkaSaslUsername,
      password: config.kafkaSaslPassword,
    };
  }
  return options;
}

// Each file is read once per process: every client (admin, consumer, dead-letter producer) of a
// run shares the bytes, and a file that changes under a running service takes effect at the
// next start, like every other setting.
const tlsCache = new Map<string, ConnectionOptions>();

/**
 * The TLS options of KAFKA_SSL, KAFKA_SSL_CA, KAFKA_SSL_CERT and KAFKA_SSL_KEY, the files read
 * and checked (readable, PEM, the key matches the certificate) the first time; undefined without
 * TLS. A problem is a ConfigError naming the variable.
 */
export function kafkaTls(config: TlsFiles): ConnectionOptions | undefined {
  const { kafkaSsl: ssl, kafkaSslCa: ca, kafkaSslCert: cert, kafkaSslKey: key } = config;
  if (!ssl) {
    const set = [ca && "KAFKA_SSL_CA", cert && "KAFKA_SSL_CERT", key && "KAFKA_SSL_KEY"].filter(Boolean);
    if (set.length > 0) {
      throw new ConfigError(`KAFKA_SSL: must be true to use ${set.join(", ")}; the files are only used over TLS.`);
    }
    return undefined;
  }
  if ((cert === "") !== (key === "")) {
    throw new ConfigError(
      cert === ""
        ? "KAFKA_SSL_CERT: must be set with KAFKA_SSL_KEY; a client certificate and its key go together."
        : "KAFKA_SSL_KEY: must be set with KAFKA_SSL_CERT; a client certificate and its key go together.",
    );
  }
  const cacheKey = JSON.stringify([ca, cert, key]);
  const cached = tlsCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const tls: ConnectionOptions = {};
  // With a CA file, the brokers must be signed by it; without, Node's public CAs decide.
  if (ca !== "") tls.ca = parsed("KAFKA_SSL_CA", ca, (pem) => new X509Certificate(pem)).pem;
  if (cert !== "") {
    const certificate = parsed("KAFKA_SSL_CERT", cert, (pem) => new X509Certificate(pem));
    refuseOutOfDate("KAFKA_SSL_CERT", cert, certificate.value);
    const privateKey = parsed("KAFKA_SSL_KEY", key, (pem) => createPrivateKey(pem));
    if (!certificate.value.checkPrivateKey(privateKey.value)) {
      throw new ConfigError(`KAFKA_SSL_KEY: ${key} is not the key of the certificate in KAFKA_SSL_CERT (${cert}).`);
    }
    tls.cert = certificate.pem;
    tls.key = privateKey.pem;
  }
  tlsCache.set(cacheKey, tls);
  return tls;
}

/** Reads a PEM file and parses it with `parse`, so a wrong file is named now rather than at the first connection. */
function parsed<T>(variable: string, path: string, parse: (pem: Buffer) => T): { pem: Buffer; value: T } {
  const pem = readConfigBytes(variable, path);
  // Node's TLS takes PEM only: a DER file would parse here and fail at every connection.
  if (!pem.includes("-----BEGIN ")) throw new ConfigError(`${variable}: ${path} is not PEM (no -----BEGIN line).`);
  const what = variable === "KAFKA_SSL_KEY" ? "private key" : "certificate";
  refuseEncryptedKey(variable, path, pem.toString("latin1"));
  try {
    return { pem, value: parse(pem) };
  } catch (err) {
    const why = messageOf(err).replace(/^error:[0-9A-F]+:[^:]*::?/, "");
    throw new ConfigError(`${variable}: ${path} is not a PEM ${what} (${why}).`);
  }
}

/**
 * Fetch tuning for every consumer of the service: bounded buffers, so memory does not follow the
 * backlog. A message keeps its whole fetch response alive, so responses are small (1 MiB): less
 * memory at peak than larger ones, at the same throughput (docs/decisions.md); the client's default is 50 MB.
 */
export const CONSUME_TUNING = {
  maxWaitTime: 200,
  maxBytes: 1024 * 1024,
  maxBytesPerPartition: 1024 * 1024,
  highWaterMark: 1024,
};
