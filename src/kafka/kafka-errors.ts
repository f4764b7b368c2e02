import type { Config } from "../config/index.ts";
import { messageOf } from "../errors.ts";

// The Kafka client reports a failed connection as a tree of errors (one per broker tried, each
// with its cause). What went wrong is at the leaves; this turns the tree into one line that names
// the likely cause and the setting to look at. Each rule matches what the real broker and client
// produce for that mismatch (test/integration/kafka-security.test.ts, kafka-mismatch.test.ts).

type KafkaSecurity = Pick<
  Config,
  "kafkaBrokers" | "kafkaSsl" | "kafkaSslCa" | "kafkaSslCert" | "kafkaSaslMechanism" | "kafkaSaslUsername"
>;

interface Leaf {
  message: string;
  code?: string;
  /** The broker's error name, for errors it answered with (e.g. SASL_AUTHENTICATION_FAILED). */
  apiId?: string;
  /** The response the error came with, for a request the broker answered with errors. */
  response?: unknown;
}

/** Every error in the tree under `err`: itself, its `errors` (AggregateError) and its causes. */
function flatten(err: unknown, out: Leaf[] = [], depth = 0): Leaf[] {
  if (err === null || err === undefined || depth > 20) return out;
  const e = err as { code?: unknown; apiId?: unknown; response?: unknown; errors?: unknown; cause?: unknown };
  out.push({
    message: messageOf(err),
    ...(typeof e.code === "string" ? { code: e.code } : {}),
    ...(typeof e.apiId === "string" ? { apiId: e.apiId } : {}),
    ...(e.response !== undefined ? { response: e.response } : {}),
  });
  if (Array.isArray(e.errors)) for (const inner of e.errors) flatten(inner, out, depth + 1);
  flatten(e.cause, out, depth + 1);
  return out;
}

// Node's codes for a chain that does not end at a trusted CA.
const UNKNOWN_CA = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
]);

const CLOSED = "Connection closed";
const NO_MECHANISM = "Cannot find a suitable SASL mechanism.";

/** The brokers answered and refused the SASL login: waiting can't fix it, the settings can. */
export const loginRefused = (err: unknown) => flatten(err).some((e) => e.apiId === "SASL_AUTHENTICATION_FAILED");

/** One line: why the brokers could not be used, and what to set. */
export function explainKafkaFailure(err: unknown, config: KafkaSecurity): string {
  const brokers = config.kafkaBrokers.join(",");
  const all = flatten(err);
  const has = (test: (e: Leaf) => boolean) => all.some(test);
  const security = `now KAFKA_SSL=${config.kafkaSsl}, KAFKA_SASL_MECHANISM=${config.kafkaSaslMechanism}`;
  const sasl = config.kafkaSaslMechanism !== "none";
  // A TLS listener answers plaintext with a TLS record (the client says so) or, once SASL has
  // started, by closing the connection.
  if (
    !config.kafkaSsl &&
    (has((e) => e.message === "Broker requires TLS.") ||
      (sasl && all.some((e, i) => e.message === NO_MECHANISM && all[i + 1]?.message === CLOSED)))
  ) {
    return `the brokers ${brokers} expect TLS on this port: set KAFKA_SSL=true, and KAFKA_SSL_CA if a private CA signed their certificate (${security})`;
  }
  if (has((e) => /TLS handshake failed/i.test(e.message))) {
    return `the brokers ${brokers} did not complete a TLS handshake: they likely do not expect TLS on this port; set KAFKA_SSL=false or use their TLS listener (${security})`;
  }
  const unknownCa = all.find((e) => e.code !== undefined && UNKNOWN_CA.has(e.code));
  if (unknownCa !== undefined) {
    return `the brokers' certificate at ${brokers} is not signed by a CA the service trusts (${unknownCa.code}): set KAFKA_SSL_CA to the PEM file of the CA that signed it (now ${caSetting(config)})`;
  }
  const certificate = explainCertificate(all, config, brokers);
  if (certificate !== undefined) return certificate;
  if (has((e) => /certificate|self[- ]signed|unable to verify/i.test(e.message))) {
    return `the brokers' TLS certificate at ${brokers} was not trusted: ${all.find((e) => /certificate|self[- ]signed|unable to verify/i.test(e.message))?.message} (${security})`;
  }
  // The brokers answered: a topic asked for is not there (deleted meanwhile, as in a failed rejoin).
  // Not "no answer ... start Kafka": nothing is wrong with the brokers or the settings. The client
  // names the topic at the index of the broker's error in its own list, often another one: not repeated.
  if (has((e) => /^Unknown topic /.test(e.message))) {
    return `the brokers ${brokers} no longer know a topic asked for, likely a source topic deleted meanwhile`;
  }
  return explainAfterConnect(all, config, brokers, security) ?? explainUnreached(all, err, brokers, security);
}

/** KAFKA_SSL_CA as a line says it: the file, or the CAs Node trusts without one. */
const caSetting = (config: KafkaSecurity) =>
  `KAFKA_SSL_CA=${config.kafkaSslCa === "" ? "unset: Node's public CAs" : config.kafkaSslCa}`;

/**
 * A broker certificate signed by a trusted CA that Node still refuses: out of its validity, or not
 * issued for the host connected to (a bootstrap address, or one the brokers advertise). Said with
 * what to change, as the MySQL side says it (db/tls.ts).
 */
function explainCertificate(all: Leaf[], config: KafkaSecurity, brokers: string): string | undefined {
  const ca = caSetting(config);
  if (all.some((e) => e.code === "CERT_HAS_EXPIRED")) {
    return `a certificate of the brokers at ${brokers} has expired (CERT_HAS_EXPIRED): renew the brokers' certificate, or the CA in KAFKA_SSL_CA if that is the one expired (now ${ca})`;
  }
  if (all.some((e) => e.code === "CERT_NOT_YET_VALID")) {
    return `a certificate of the brokers at ${brokers} is not valid yet (CERT_NOT_YET_VALID): check this machine's clock, or issue the brokers' certificate to start earlier (now ${ca})`;
  }
  const altname = all.find((e) => e.code === "ERR_TLS_CERT_ALTNAME_INVALID");
  if (altname !== undefined) {
    const why = altname.message.replace(/^.*?altnames: /, "");
    return `the brokers' certificate at ${brokers} is not issued for the host the service connected to (${why}): set KAFKA_BOOTSTRAP_SERVERS to names or addresses the certificate lists, and have the brokers advertise such names (advertised.listeners)`;
  }
  return undefined;
}

/** Mismatches the broker shows once the connection (and TLS) is up: SASL, client certificates. */
function explainAfterConnect(all: Leaf[], config: KafkaSecurity, brokers: string, security: string) {
  const has = (test: (e: Leaf) => boolean) => all.some(test);
  const mechanism = config.kafkaSaslMechanism;
  if (has((e) => e.apiId === "SASL_AUTHENTICATION_FAILED")) {
    return `the brokers ${brokers} refused the ${mechanism} login of KAFKA_SASL_USERNAME=${config.kafkaSaslUsername}: check KAFKA_SASL_PASSWORD, and that the user exists for ${mechanism} (${security})`;
  }
  if (has((e) => e.apiId === "ILLEGAL_SASL_STATE")) {
    return `the brokers ${brokers} do not expect SASL on this port: set KAFKA_SASL_MECHANISM=none or use their SASL listener (${security})`;
  }
  // The brokers list the mechanisms their listener takes in the refusal of ours.
  const unsupported = all.find((e) => e.apiId === "UNSUPPORTED_SASL_MECHANISM");
  if (unsupported !== undefined) {
    const offered = all
      .map((e) => (e.response as { mechanisms?: unknown } | undefined)?.mechanisms)
      .find((m): m is string[] => Array.isArray(m) && m.every((x) => typeof x === "string"));
    const list = offered === undefined || offered.length === 0 ? "" : `; they offer ${offered.join(", ")}`;
    return `the brokers ${brokers} do not take SASL ${mechanism} on this listener${list}: set KAFKA_SASL_MECHANISM to one the brokers offer (the service speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512) (${security})`;
  }
  if (has((e) => e.code === "PLT_KFK_AUTHENTICATION" || /SASL/i.test(e.message))) {
    return `SASL authentication with the brokers ${brokers} failed: check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD, and that the listener expects SASL (${security})`;
  }
  // A broker that requires client certificates (ssl.client.auth=required) checks ours after the
  // TLS 1.3 handshake has completed on our side: its refusal (a TLS alert) reaches the client
  // library, which reports only that the connection closed. Over TLS without SASL, that is what
  // a rejected or missing client certificate looks like; a SASL listener looks the same.
  const closedAfterConnect =
    has((e) => e.message === CLOSED) && !has((e) => /^Connection to .* failed/.test(e.message));
  if (config.kafkaSsl && mechanism === "none" && closedAfterConnect) {
    return config.kafkaSslCert === ""
      ? `the brokers ${brokers} closed the connection after the TLS handshake: they likely require a client certificate (set KAFKA_SSL_CERT and KAFKA_SSL_KEY) or SASL (set KAFKA_SASL_MECHANISM) (${security})`
      : `the brokers ${brokers} closed the connection after the TLS handshake: they likely reject the client certificate KAFKA_SSL_CERT=${config.kafkaSslCert} (signed by a CA they do not trust, or expired), or expect SASL (${security})`;
  }
  return undefined;
}

/** Nothing answered, or nothing that speaks Kafka with these settings. */
function explainUnreached(all: Leaf[], err: unknown, brokers: string, security: string): string {
  if (all.some((e) => e.code === "ECONNREFUSED")) {
    return `nothing is listening at ${brokers}; start Kafka or set KAFKA_BOOTSTRAP_SERVERS`;
  }
  if (all.some((e) => e.code === "ENOTFOUND" || e.code === "EAI_AGAIN")) {
    return `a broker host in ${brokers} can't be resolved; check KAFKA_BOOTSTRAP_SERVERS`;
  }
  // A listener that expects TLS or SASL often just closes the connection or never answers a
  // plaintext request: that is the likely cause when something listens but the talk fails.
  const leaf = all.at(-1)?.message ?? messageOf(err);
  return `no answer from the brokers ${brokers} (${leaf}); start Kafka or set KAFKA_BOOTSTRAP_SERVERS — if they listen with TLS or SASL, a mismatch looks like this: check KAFKA_SSL and KAFKA_SASL_MECHANISM (${security})`;
}

/**
 * Why the group could not be joined again. The member was in the group: the brokers answer these
 * settings. A connection a broker accepted and then closed, with no broker refusing or unresolved,
 * is not "no answer" (nor a TLS or SASL mismatch, which the join before would have met): the
 * broker dropped it. A broker that stopped refuses the next attempt, and is said as such.
 */
export function explainRejoinFailure(err: unknown, config: KafkaSecurity): string {
  if (!flatten(err).some((e) => e.message === CLOSED) || brokersUnreached(err)) return explainKafkaFailure(err, config);
  return `a broker of ${config.kafkaBrokers.join(",")} closed a connection it had accepted, as it does on a request it can't read or while it shuts down: its server log says which`;
}

/** Network failures under which no broker was reached, or a connection was lost. */
const UNREACHED = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EPIPE"]);

/** Whether `err` is, somewhere in its tree, a broker not reached (what explainKafkaFailure then names). */
export function brokersUnreached(err: unknown): boolean {
  return flatten(err).some((e) => e.code !== undefined && UNREACHED.has(e.code));
}

/** The errors the brokers answered with, by name (e.g. INVALID_RECORD), without the unnamed ones. */
export function brokerErrors(err: unknown): string[] {
  const names = flatten(err).flatMap((e) => (e.apiId && e.apiId !== "UNKNOWN_SERVER_ERROR" ? [e.apiId] : []));
  return [...new Set(names)];
}

/** Kafka's error code for a topic the principal may not use so (TOPIC_AUTHORIZATION_FAILED). */
const TOPIC_AUTHORIZATION_FAILED = 29;

/**
 * The topics (by id, or by name for requests older than topic ids) that a response in `err`'s tree
 * refused for their authorization: the client's error names none of them.
 */
export function topicsRefusedAuthorization(err: unknown): string[] {
  const found = new Set<string>();
  for (const { response } of flatten(err)) {
    const responses = (response as { responses?: unknown } | undefined)?.responses;
    if (!Array.isArray(responses)) continue;
    for (const r of responses as { topicId?: string; topic?: string; partitions?: { errorCode?: number }[] }[]) {
      const name = r.topic ?? r.topicId;
      if (name && r.partitions?.some((p) => p.errorCode === TOPIC_AUTHORIZATION_FAILED)) found.add(name);
    }
  }
  return [...found];
}
