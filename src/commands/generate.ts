import { Admin, compatibilityPartitioner, ProduceAcks, Producer } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import { afterOutcome, ConfigError, KafkaUnavailableError } from "../errors.ts";
import { generateEvents, MAX_STEP_MICROS } from "../generate/stream.ts";
import { kafkaBaseOptions } from "../kafka/client-options.ts";
import { explainKafkaFailure } from "../kafka/kafka-errors.ts";
import { prefixed, SOURCE_TOPICS } from "../kafka/topics.ts";
import { parseIsoTime, parseOptions, UsageError } from "./args.ts";
import { FORCE_OPTION, GENERATED_HEADERS, refuseForeignTopics } from "./generate-guard.ts";

// analytics-service generate: a realistic seeded stream into the configured topics, through the
// same envelope as the upstream (src/generate/emit.ts), for demos, load tests and the benchmark.
// By default the stream is stamped so that it ends about when it is produced, so `report`
// (sign-ups over the last 30 days, ...) shows it right after; --start and --seed repeat a run.

export interface GenerateOptions {
  events: number;
  /** Events per second; 0 = as fast as the broker takes them. */
  rate: number;
  seed: number;
  poisonRate: number;
  /** Start of the simulated clock (µs since the epoch); absent: latestStartMicros when production starts. */
  startMicros?: bigint;
  /** Write even into topics holding records generate did not write (generate-guard.ts). */
  intoNonemptyTopics: boolean;
}

/** The earliest instant a MySQL DATETIME holds: the sink rejects event times before it. */
const EARLIEST_START_MS = Date.UTC(1000, 0, 1);

const OPTIONS = {
  events: "string",
  rate: "string",
  seed: "string",
  poison: "string",
  start: "string",
  [FORCE_OPTION]: "boolean",
} as const;

const positive = (name: string, value: string | undefined, fallback: number, allowZero = false): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(
      `generate: --${name} must be a ${allowZero ? "non-negative" : "positive"} number, got "${value}"`,
    );
  }
  return n;
};

/**
 * The most --events: a stream's simulated clock moves up to 5 ms a message and ends by now, so a
 * billion start about two months back; ten trillion would start before the year 1000, which the
 * tables can't hold, and further the clock runs off the calendar.
 */
export const MAX_EVENTS = 1_000_000_000;
/** Seeds are 32-bit: a larger one would repeat a smaller one's stream (generate/random.ts). */
export const MAX_SEED = 2 ** 32 - 1;
/** The slowest --rate but 0: one event in about 17 minutes; far slower rates overflowed a timer and were ignored. */
export const MIN_RATE = 0.001;

/** Digits, or digits in e-notation (1e6): no sign, hex, fraction or blank the user did not mean. */
const WHOLE = /^\d+(?:\.\d+)?(?:e\+?\d+)?$/i;

const whole = (name: string, value: string | undefined, fallback: number, min: number, max: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!WHOLE.test(value) || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `generate: --${name} must be a whole number from ${min} to ${max.toLocaleString("en-US")}, got "${value}"`,
    );
  }
  return n;
};

/** `now`: the wall clock in ms, against which --start is checked (injected by tests). */
export function generateOptions(args: readonly string[], now = Date.now()): GenerateOptions {
  const o = parseOptions("generate", args, OPTIONS);
  const poisonRate = positive("poison", o.poison, 0, true);
  if (poisonRate > 1) throw new UsageError(`generate: --poison is a fraction between 0 and 1, got "${o.poison}"`);
  const options: GenerateOptions = {
    events: whole("events", o.events, 10000, 1, MAX_EVENTS),
    rate: positive("rate", o.rate, 0, true),
    seed: whole("seed", o.seed, 1, 0, MAX_SEED),
    poisonRate,
    intoNonemptyTopics: o[FORCE_OPTION] === true,
  };
  if (options.rate > 0 && options.rate < MIN_RATE) {
    throw new UsageError(
      `generate: --rate must be 0 (as fast as the broker takes them) or at least ${MIN_RATE} events/s, got "${o.rate}"`,
    );
  }
  if (o.start !== undefined) options.startMicros = startOption(o.start, options, now);
  return options;
}

/** --start: an ISO time from year 1000 on, and no later than latestStartMicros for this run. */
function startOption(text: string, options: Pick<GenerateOptions, "events" | "rate">, now: number): bigint {
  // Date.parse maps years 0–99 to 1900–1999: the year is checked first.
  const year = /^\s*(\d{4})-/.exec(text)?.[1];
  // parseIsoTime refuses instants outside years 1000–9999; one just before is named as such.
  const early = (year !== undefined && Number(year) < 1000) || Date.parse(text) < EARLIEST_START_MS;
  const ms = early ? Number.NEGATIVE_INFINITY : parseIsoTime(text);
  if (ms === undefined) {
    throw new UsageError(
      `generate: --start must be an ISO-8601 time such as 2026-03-01T00:00:00Z (UTC when it has no offset), got "${text}"`,
    );
  }
  if (ms < EARLIEST_START_MS) {
    throw new UsageError(
      `generate: --start must be at or after 1000-01-01T00:00:00Z, the earliest time the tables hold, got "${text}"`,
    );
  }
  const latest = latestStartMicros(options.events, options.rate, now);
  if (BigInt(ms) * 1000n > latest) {
    throw new UsageError(
      `generate: --start ${text} would stamp events later than they are produced, and the sink dead-letters events more than MAX_CLOCK_SKEW_MS ahead of their record; for ${options.events} events${options.rate > 0 ? ` at ${options.rate}/s` : ""} start at or before ${isoMs(latest)}`,
    );
  }
  return BigInt(ms) * 1000n;
}

const isoMs = (micros: bigint) => new Date(Number(micros / 1000n)).toISOString();

/** How many messages a paced run sends at once (with --rate, about 1/20 s of them). */
const chunkSizeFor = (rate: number) => (rate > 0 ? Math.max(1, Math.min(500, Math.floor(rate / 20))) : 500);

/**
 * The latest start (µs, whole milliseconds, so that --start with the printed time repeats the run)
 * that keeps every event stamped no later than the wall-clock time it is produced, production
 * beginning at `nowMs`: the sink dead-letters events stamped ahead of their Kafka record's time
 * (by more than MAX_CLOCK_SKEW_MS).
 *
 * The n-th message (from 0) is stamped at most start + (n + 1) × MAX_STEP_MICROS: the exact span
 * is only known by generating the stream, so the bound is what is guaranteed. As fast as the
 * broker takes them (rate 0), every message may go out at once: the stream must end by now, and
 * ends somewhat before it (≈ 45 % of its span, as steps average 2.75 of at most 5 ms). Paced at
 * `rate`, message n goes out no earlier than n / rate after the start, less one chunk: when the
 * simulated clock can run faster than the wall clock (rate above 200/s) the binding message is
 * the last one and the stream ends by the time production does; slower, it is the first one, and
 * the start is now.
 */
export function latestStartMicros(events: number, rate: number, nowMs: number): bigint {
  const step = MAX_STEP_MICROS / 1000; // ms
  const interval = rate > 0 ? 1000 / rate : 0; // ms between paced messages
  const early = (chunkSizeFor(rate) - 1) * interval; // a chunk goes out when its first message is due
  const n = Math.max(1, events);
  const slack = Math.min(-step, (n - 1) * interval - n * step); // min over n of n × interval − (n + 1) × step
  return BigInt(Math.floor(nowMs - early + slack)) * 1000n;
}

/** "12,345 / 100,000  12% ▕███       ▏ 4,321 ev/s  ETA 20 s" */
export function progressLine(done: number, total: number, elapsedS: number, width = 20): string {
  const fraction = total === 0 ? 1 : done / total;
  const rate = elapsedS > 0 ? done / elapsedS : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : 0;
  const bar = "█".repeat(Math.round(fraction * width)).padEnd(width, " ");
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  return `${n(done)} / ${n(total)}  ${String(Math.floor(fraction * 100)).padStart(3)}% ▕${bar}▏ ${n(rate)} ev/s  ETA ${eta} s`;
}

/**
 * The five topics the stream goes to must exist: the broker may not create topics on first write
 * (the local one doesn't), and the producer would then wait for their metadata without a word.
 */
export async function checkTopics(config: Config, topics: readonly string[]): Promise<void> {
  const admin = new Admin({ ...kafkaBaseOptions(config, "generator-admin"), retries: 2 });
  let existing: Set<string>;
  try {
    existing = new Set(await admin.listTopics());
  } catch (err) {
    throw new KafkaUnavailableError(explainKafkaFailure(err, config), err);
  } finally {
    await afterOutcome("closing the Kafka admin client", admin.close());
  }
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  const brokers = config.kafkaBrokers.join(",");
  const remedy = config.kafkaTopicPrefix
    ? `create them, or unset KAFKA_TOPIC_PREFIX (now ${config.kafkaTopicPrefix}) to use the default ones, which \`npm run stack:up\` creates`
    : "create them, or run `npm run stack:up`, which creates them on the local stack";
  throw new ConfigError(
    `generate: topics missing on ${brokers}: ${missing.join(", ")}; the broker does not create topics on first write: ${remedy}`,
  );
}

/** The progress line, redrawn in place on a terminal; elsewhere a line every 5 s and the last one. */
function progressReporter(out: NodeJS.WriteStream, total: number, started: number) {
  const tty = Boolean(out.isTTY);
  let lastReport = 0;
  return (sent: number, final = false) => {
    const elapsed = (performance.now() - started) / 1000;
    if (tty) out.write(`\r${progressLine(sent, total, elapsed)}${final ? "\n" : ""}`);
    else if (final || elapsed - lastReport >= 5) {
      lastReport = elapsed;
      out.write(`${progressLine(sent, total, elapsed)}\n`);
    }
  };
}

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Ctrl-C (or a supervisor's stop) ends the run where it is: said, with how far it got, rather
 * than leaving the topics half-filled without a word (off a terminal the last progress line is
 * up to 5 s old). What was written stays. `progress` says the events sent, and those of the
 * request under way (the broker may have written them). Returns what removes the handlers.
 */
function stopOnSignals(out: NodeJS.WriteStream, total: number, progress: () => { sent: number; sending: number }) {
  const remove = () => {
    for (const name of STOP_SIGNALS) process.removeListener(name, stop);
  };
  const stop = (name: NodeJS.Signals) => {
    const { sent, sending } = progress();
    const maybe = sending > 0 ? `, and up to ${sending} more may have been written` : "";
    out.write(
      `${out.isTTY ? "\n" : ""}stopped by ${name}: ${sent} of ${total} event(s) written${maybe}; they stay in the topics\n`,
    );
    // Ended by the signal itself, not exit(130): a shell running the command (a script, a loop)
    // takes a child that exited to have handled the signal, and goes on with its next command.
    remove();
    process.kill(process.pid, name);
    process.exit(128 + (name === "SIGINT" ? 2 : name === "SIGTERM" ? 15 : 1));
  };
  for (const name of STOP_SIGNALS) process.once(name, stop);
  return remove;
}

export async function runGenerate(
  config: Config,
  options: GenerateOptions,
  out = process.stdout,
  now: () => number = Date.now,
): Promise<number> {
  const topics = prefixed(config.kafkaTopicPrefix, SOURCE_TOPICS);
  await checkTopics(config, topics);
  if (!options.intoNonemptyTopics) await refuseForeignTopics(config, topics);
  const producer = new Producer({
    ...kafkaBaseOptions(config, "generator"),
    acks: ProduceAcks.ALL,
    idempotent: true,
    compression: "lz4",
    // Keys land on the partitions the Java and Python clients would choose.
    partitioner: compatibilityPartitioner,
  });
  // Taken before the pacing starts: production only runs later than the stamps allow for.
  const startMicros = options.startMicros ?? latestStartMicros(options.events, options.rate, now());
  const started = performance.now();
  // The one thing a default run can't be repeated without: its start (rate changes no bytes).
  const poison = options.poisonRate > 0 ? ` --poison ${options.poisonRate}` : "";
  const from = isoMs(startMicros);
  out.write(
    `stamping from ${from}; the same stream again: --events ${options.events}${poison} --seed ${options.seed} --start ${from}\n`,
  );
  let sent = 0;
  const report = progressReporter(out, options.events, started);
  const chunkSize = chunkSizeFor(options.rate);
  let chunk: { topic: string; key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> }[] = [];
  /** Events of the request under way: the broker may have written them when a signal stops the run. */
  let sending = 0;
  const flush = async () => {
    sending = chunk.length;
    await producer.send({ messages: chunk });
    sent += chunk.length;
    sending = 0;
    chunk = [];
    if (options.rate > 0) {
      // Pace to the rate: wait until the events sent so far are due.
      const due = (sent / options.rate) * 1000 - (performance.now() - started);
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    }
    report(sent);
  };
  const stream = generateEvents({
    seed: options.seed,
    events: options.events,
    poisonRate: options.poisonRate,
    startMicros,
  });
  const removeStopHandlers = stopOnSignals(out, options.events, () => ({ sent, sending }));
  try {
    for (const g of stream) {
      chunk.push({
        topic: `${config.kafkaTopicPrefix}${g.topic}`,
        key: Buffer.from(g.key),
        value: g.value ?? (null as unknown as Buffer),
        // Says to consumers, and to the next run's check, that the record is not a real event.
        headers: GENERATED_HEADERS as Map<Buffer, Buffer>,
      });
      if (chunk.length >= chunkSize) await flush();
    }
    if (chunk.length > 0) await flush();
    report(sent, true);
  } finally {
    removeStopHandlers();
    await producer.close();
  }
  return 0;
}
