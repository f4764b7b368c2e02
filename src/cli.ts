import { helpLines } from "./config/declare.ts";
import { type Config, isExternallyConfigured, loadConfig, serviceDeclaration } from "./config/index.ts";
import { migrate } from "./db/migrate.ts";
import { createPool, explainDbError } from "./db/pool.ts";
import { isExpected, messageOf } from "./errors.ts";
import { createLogger } from "./log.ts";
import { AbandonedError } from "./retry.ts";
import { type RunningService, startService } from "./service.ts";
import { loadStackConfig } from "./stack/config.ts";
import { stackUp } from "./stack/index.ts";

// analytics-service [run|migrate] [--help]. Expected failures (bad config, unreachable or
// refusing services) print one line and exit 1; anything else is a bug and prints its stack.

const USAGE = `usage: analytics-service [command]

commands:
  run       consume the five topics into MySQL (the default)
  migrate   apply pending schema migrations and exit
  help      show this text

With neither KAFKA_BOOTSTRAP_SERVERS nor MYSQL_HOST set, \`run\` first starts the local
development stack (npm run stack:up) and uses it.

configuration (environment variables, with defaults):
${helpLines(serviceDeclaration).join("\n")}
`;

async function main(argv: string[]): Promise<number> {
  const command = argv.find((a) => !a.startsWith("-")) ?? "run";
  if (argv.includes("--help") || argv.includes("-h") || command === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (command) {
    case "run":
      return run(loadConfig());
    case "migrate":
      return runMigrate(loadConfig());
    default:
      process.stderr.write(`analytics-service: unknown command "${command}"; try --help\n`);
      return 2;
  }
}

async function run(config: Config): Promise<number> {
  const log = createLogger(config.logLevel);
  if (!isExternallyConfigured(process.env)) {
    log.info("KAFKA_BOOTSTRAP_SERVERS and MYSQL_HOST unset: bringing up the local stack");
    const report = await stackUp(loadStackConfig(), config);
    log.info(report.kafka);
    log.info(report.database);
  }
  const cancel = new AbortController();
  let service: RunningService | null = null;
  let signals = 0;
  const onSignal = (name: string) => {
    if (++signals > 1) {
      log.warn(`${name} again: exiting without finishing the batch in hand (it will be read again)`);
      process.exit(130);
    }
    log.info(`${name}: finishing the batch in hand, committing, leaving the group`);
    const force = setTimeout(() => {
      log.error(`shutdown took longer than SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}; exiting now`);
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    cancel.abort();
    void service?.stop();
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
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

async function runMigrate(config: Config): Promise<number> {
  const pool = createPool(config);
  try {
    const result = await migrate(pool).catch((err: unknown) => {
      throw isExpected(err) ? err : explainDbError(err, config);
    });
    process.stdout.write(
      result.applied.length > 0
        ? `applied ${result.applied.join(", ")}; schema at migration ${result.current}\n`
        : `schema up to date at migration ${result.current}\n`,
    );
    return 0;
  } finally {
    await pool.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isExpected(err)) {
      process.stderr.write(`analytics-service: ${err.message}\n`);
    } else {
      process.stderr.write(`analytics-service: unexpected error: ${messageOf(err)}\n`);
      console.error(err);
    }
    process.exitCode = 1;
  },
);
