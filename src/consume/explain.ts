import type { Config } from "../config/index.ts";
import { messageOf } from "../errors.ts";

// The Kafka client reports a failed connection as a tree of errors (one per broker tried, each
// with its cause). What went wrong is at the leaves; this turns the tree into one line that names
// the likely cause and the setting to look at.

type KafkaSecurity = Pick<Config, "kafkaBrokers" | "kafkaSsl" | "kafkaSaslMechanism">;

/** Every error in the tree under `err`: itself, its `errors` (AggregateError) and its causes. */
function flatten(err: unknown, out: { message: string; code?: string }[] = [], depth = 0): typeof out {
  if (err === null || err === undefined || depth > 20) return out;
  const e = err as { code?: unknown; errors?: unknown; cause?: unknown };
  out.push({ message: messageOf(err), ...(typeof e.code === "string" ? { code: e.code } : {}) });
  if (Array.isArray(e.errors)) for (const inner of e.errors) flatten(inner, out, depth + 1);
  flatten(e.cause, out, depth + 1);
  return out;
}

/** One line: why the brokers could not be used, and what to set. */
export function explainKafkaFailure(err: unknown, config: KafkaSecurity): string {
  const brokers = config.kafkaBrokers.join(",");
  const all = flatten(err);
  const has = (test: (e: { message: string; code?: string }) => boolean) => all.some(test);
  const security = `now KAFKA_SSL=${config.kafkaSsl}, KAFKA_SASL_MECHANISM=${config.kafkaSaslMechanism}`;
  if (has((e) => /TLS handshake failed/i.test(e.message))) {
    return `the brokers ${brokers} did not complete a TLS handshake: they likely do not expect TLS on this port; set KAFKA_SSL=false or use their TLS listener (${security})`;
  }
  if (has((e) => /certificate|self[- ]signed|unable to verify/i.test(e.message))) {
    return `the brokers' TLS certificate at ${brokers} was not trusted: ${all.find((e) => /certificate|self[- ]signed|unable to verify/i.test(e.message))?.message} (${security})`;
  }
  if (has((e) => e.code === "PLT_KFK_AUTHENTICATION" || /SASL/i.test(e.message))) {
    return `SASL authentication with the brokers ${brokers} failed: check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD, and that the listener expects SASL (${security})`;
  }
  if (has((e) => e.code === "ECONNREFUSED")) {
    return `nothing is listening at ${brokers}; start Kafka or set KAFKA_BOOTSTRAP_SERVERS`;
  }
  if (has((e) => e.code === "ENOTFOUND" || e.code === "EAI_AGAIN")) {
    return `a broker host in ${brokers} can't be resolved; check KAFKA_BOOTSTRAP_SERVERS`;
  }
  // A listener that expects TLS or SASL often just closes the connection or never answers a
  // plaintext request: that is the likely cause when something listens but the talk fails.
  const leaf = all.at(-1)?.message ?? messageOf(err);
  return `no answer from the brokers ${brokers} (${leaf}); start Kafka or set KAFKA_BOOTSTRAP_SERVERS — if they listen with TLS or SASL, a mismatch looks like this: check KAFKA_SSL and KAFKA_SASL_MECHANISM (${security})`;
}
