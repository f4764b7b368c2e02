import { compatibilityPartitioner, ProduceAcks, Producer } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import { generateEvents } from "../generate/stream.ts";
import { kafkaBaseOptions } from "../kafka/options.ts";
import { parseOptions, UsageError } from "./args.ts";

// analytics-service generate: a realistic seeded stream into the configured topics, through the
// same envelope as the upstream (src/events/emit.ts), for demos, load tests and the benchmark.

export interface GenerateOptions {
  events: number;
  /** Events per second; 0 = as fast as the broker takes them. */
  rate: number;
  seed: number;
  poisonRate: number;
}

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

export function generateOptions(args: readonly string[]): GenerateOptions {
  const o = parseOptions("generate", args, { events: "string", rate: "string", seed: "string", poison: "string" });
  const poisonRate = positive("poison", o.poison, 0, true);
  if (poisonRate > 1) throw new UsageError(`generate: --poison is a fraction between 0 and 1, got "${o.poison}"`);
  return {
    events: Math.floor(positive("events", o.events, 10000)),
    rate: positive("rate", o.rate, 0, true),
    seed: Math.floor(positive("seed", o.seed, 1, true)),
    poisonRate,
  };
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

export async function runGenerate(config: Config, options: GenerateOptions, out = process.stdout): Promise<number> {
  const producer = new Producer({
    ...kafkaBaseOptions(config, "generator"),
    acks: ProduceAcks.ALL,
    idempotent: true,
    compression: "lz4",
    // Keys land on the partitions the Java and Python clients would choose.
    partitioner: compatibilityPartitioner,
  });
  const tty = Boolean(out.isTTY);
  const started = performance.now();
  let sent = 0;
  let lastReport = 0;
  const chunkSize = options.rate > 0 ? Math.max(1, Math.min(500, Math.floor(options.rate / 20))) : 500;
  let chunk: { topic: string; key: Buffer; value: Buffer }[] = [];
  const report = (final = false) => {
    const elapsed = (performance.now() - started) / 1000;
    if (tty) out.write(`\r${progressLine(sent, options.events, elapsed)}${final ? "\n" : ""}`);
    else if (final || elapsed - lastReport >= 5) {
      lastReport = elapsed;
      out.write(`${progressLine(sent, options.events, elapsed)}\n`);
    }
  };
  const flush = async () => {
    await producer.send({ messages: chunk });
    sent += chunk.length;
    chunk = [];
    if (options.rate > 0) {
      // Pace to the rate: wait until the events sent so far are due.
      const due = (sent / options.rate) * 1000 - (performance.now() - started);
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    }
    report();
  };
  try {
    for (const g of generateEvents({ seed: options.seed, events: options.events, poisonRate: options.poisonRate })) {
      chunk.push({
        topic: `${config.kafkaTopicPrefix}${g.topic}`,
        key: Buffer.from(g.key),
        value: g.value ?? (null as unknown as Buffer),
      });
      if (chunk.length >= chunkSize) await flush();
    }
    if (chunk.length > 0) await flush();
    report(true);
  } finally {
    await producer.close();
  }
  return 0;
}
