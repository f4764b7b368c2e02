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
