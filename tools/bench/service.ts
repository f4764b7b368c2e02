import { type ChildProcess, spawn } from "node:child_process";
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from "../../bin/runtime.js";
import { serviceDeclaration } from "../../src/config/index.ts";
import { BROKER, METRICS_PORT, options, prefix, stack } from "./options.ts";

// The service as deployed (bin/analytics-service.js with the flags and malloc settings of
// bin/runtime.js), as a child process on a fresh database and group.

/** The service's configuration variables set in the bench's environment (BATCH_LINGER_MS=…). */
function tuning(): Record<string, string> {
  const set = Object.values(serviceDeclaration).flatMap((v) => {
    const value = process.env[v.env];
    return value === undefined ? [] : [[v.env, value] as const];
  });
  return Object.fromEntries(set);
}

export function startService(database: string, groupId: string, extra: Record<string, string> = {}): ChildProcess {
  // BENCH_NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the service.
  const nodeOptions = (process.env.BENCH_NODE_OPTIONS ?? "").split(" ").filter(Boolean);
  return spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...nodeOptions, "bin/analytics-service.js", "run"], {
    env: {
      PATH: process.env.PATH ?? "",
      ...tuning(),
      ...SERVICE_ENV,
      KAFKA_BOOTSTRAP_SERVERS: BROKER,
      KAFKA_GROUP_ID: groupId,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_DLQ_TOPIC: `${prefix}dlq`,
      MYSQL_HOST: "127.0.0.1",
      MYSQL_PORT: String(stack.mysqlPort),
      MYSQL_USER: stack.mysqlAdminUser,
      MYSQL_PASSWORD: stack.mysqlAdminPassword,
      MYSQL_DATABASE: database,
      METRICS_PORT: String(METRICS_PORT),
      LOG_LEVEL: "error",
      ...(options.batch ? { BATCH_MAX_EVENTS: options.batch } : {}),
      ...(options.pool ? { MYSQL_POOL_SIZE: options.pool } : {}),
      // For heap-sampling.ts, when it is preloaded through BENCH_NODE_OPTIONS.
      ...Object.fromEntries(
        ["HEAP_PROFILE_DIR", "HEAP_PROFILE_MS"].flatMap((v) => (process.env[v] ? [[v, process.env[v]]] : [])),
      ),
      ...extra,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
}

export async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}
