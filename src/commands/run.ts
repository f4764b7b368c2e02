import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/index.ts";
import { ConfigError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { AbandonedError } from "../retry.ts";
import { type RunningService, startService } from "../service.ts";

// `analytics-service run`: the service until SIGTERM, SIGINT or SIGHUP (a closed terminal, or a
// supervisor's reload: the JVM of a Kafka Connect worker stops cleanly on it too), which finish the
// batches being written and commit them (a second signal exits at once; SHUTDOWN_TIMEOUT_MS bounds
// the first).
// With neither Kafka nor MySQL configured, the local development stack is started first.

/** The local development stack (tools/stack): in a clone, not in the image. */
async function localStack(): Promise<{
  startLocalStack(config: Config): Promise<{ kafka: string; database: string; config: Config }>;
}> {
  const module = new URL("../../tools/stack/index.ts", import.meta.url);
  if (!existsSync(fileURLToPath(module))) {
    throw new ConfigError(
      "KAFKA_BOOTSTRAP_SERVERS and MYSQL_HOST are unset, and this installation has no local stack to start: set them to your Kafka and MySQL",
    );
  }
  return import(module.href);
}

export async function runService(given: Config): Promise<number> {
  let config = given;
  const log = createLogger(config.logLevel);
  if (config.localStack) {
    log.info("KAFKA_BOOTSTRAP_SERVERS and MYSQL_HOST unset: bringing up the local stack");
    const report = await (await localStack()).startLocalStack(config);
    log.info(report.kafka);
    log.info(report.database);
    // The stack's ports (STACK_KAFKA_PORT, STACK_MYSQL_PORT), not the defaults: another server may hold those.
    config = report.config;
  }
  const cancel = new AbortController();
  let service: RunningService | null = null;
  let signals = 0;
  const onSignal = (name: string) => {
    if (++signals > 1) {
      log.warn(`${name} again: exiting without finishing the batches in hand (they will be read again)`);
      process.exit(130);
    }
    log.info(`${name}: finishing the batches being written, committing, leaving the group`);
    const force = setTimeout(() => {
      log.error(`shutdown took longer than SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}; exiting now`);
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    cancel.abort();
    void service?.stop();
  };
  for (const name of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(name, () => onSignal(name));
  try {
    service = await startService(config, log, {}, cancel.signal);
  } catch (err) {
    if (err instanceof AbandonedError) return 0; // stopped while waiting for MySQL or Kafka
    throw err;
  }
  await service.done;
  log.info("stopped");
  return 0;
}
