import type { BaseOptions } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";

/** Connection options every Kafka client of the service shares. */
export function kafkaBaseOptions(
  config: Pick<
    Config,
    "kafkaBrokers" | "kafkaClientId" | "kafkaSsl" | "kafkaSaslMechanism" | "kafkaSaslUsername" | "kafkaSaslPassword"
  >,
  clientSuffix: string,
): BaseOptions {
  const options: BaseOptions = {
    clientId: `${config.kafkaClientId}-${clientSuffix}`,
    bootstrapBrokers: [...config.kafkaBrokers],
    connectTimeout: 5000,
  };
  if (config.kafkaSsl) options.tls = {};
  if (config.kafkaSaslMechanism !== "none") {
    options.sasl = {
      mechanism: config.kafkaSaslMechanism,
      username: config.kafkaSaslUsername,
      password: config.kafkaSaslPassword,
    };
  }
  return options;
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
