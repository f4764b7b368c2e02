import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadStackConfig } from "../stack/config.ts";

// The benchmark's options and what every part of it shares: the stack, the run's tag and the
// names derived from it. `npm run bench -- --help` prints HELP.

export const HELP = `npm run bench -- [options]

A drain (default): produces a seeded stream into fresh topics, then measures the Kafka read
ceiling, the service draining the backlog (from its start until every offset is committed), checks
every table against the model of the stream, and measures the database ceiling. Progress on
stderr; the last line on stdout is one JSON object (also written to the results folder).

  --events N          events in the drained stream (default 200000)
  --partitions P      partitions of each fresh topic (default 6)
  --seed S            seed of the generated stream (default 1)
  --batch B           BATCH_MAX_EVENTS for the service (default: the service's)
  --pool C            MYSQL_POOL_SIZE for the service (default: the service's)
  --db-latency-ms L   delay the service's MySQL traffic by L ms each way (default 0)
  --no-ceilings       skip the Kafka and database ceilings (long drains)
  --no-check          keep no model and check no table: production is faster, nothing is proven
  --results DIR       folder for the JSON report and the chart (default tmp/results)
  --svg PATH          the throughput chart (default <results>/bench-<time>-<events>.svg);
                      --svg docs/throughput.svg replaces the chart the docs show
  --steady R          instead of a drain: produce R events/s and measure freshness
  --seconds S         how long --steady produces (default 60)
  --decode-only       instead of a drain: CPU per event of decoding the stream (and of its
                      JSON.parse alone) in one process, without Kafka or MySQL
  -h, --help          this text

Any of the service's configuration variables set in the environment reach the service
(BATCHES_IN_FLIGHT=3 npm run bench); BENCH_NODE_OPTIONS is added to the service's node flags.`;

const { values: args } = parseArgs({
  allowNegative: true,
  options: {
    events: { type: "string", default: "200000" },
    partitions: { type: "string", default: "6" },
    seed: { type: "string", default: "1" },
    batch: { type: "string" },
    pool: { type: "string" },
    steady: { type: "string" },
    seconds: { type: "string", default: "60" },
    "decode-only": { type: "boolean", default: false },
    "db-latency-ms": { type: "string", default: "0" },
    ceilings: { type: "boolean", default: true },
    check: { type: "boolean", default: true },
    results: { type: "string", default: "tmp/results" },
    svg: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

const whole = (name: string, value: string | undefined, min: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number of at least ${min}: ${value}`);
  return n;
};

export const help = args.help;
export const stack = loadStackConfig();
export const BROKER = `127.0.0.1:${stack.kafkaPort}`;
export const tag = randomBytes(4).toString("hex");
export const prefix = `bench-${tag}.`;
export const METRICS_PORT = 19464;

export const options = {
  events: whole("events", args.events, 1),
  partitions: whole("partitions", args.partitions, 1),
  seed: whole("seed", args.seed, 0),
  batch: args.batch,
  pool: args.pool,
  steady: args.steady === undefined ? undefined : whole("steady", args.steady, 1),
  seconds: whole("seconds", args.seconds, 1),
  decodeOnly: args["decode-only"],
  /** Each way, on the service's MySQL connections only: a database on another host. */
  dbLatencyMs: whole("db-latency-ms", args["db-latency-ms"], 0),
  ceilings: args.ceilings,
  check: args.check,
  resultsDir: resolve(args.results),
  svg: args.svg === undefined ? undefined : resolve(args.svg),
};

export const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
