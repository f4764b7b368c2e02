// npm run bench -- --decode-only [--events N] [--seed S]
//
// What decoding costs alone, without Kafka or MySQL: the seeded stream's values, decoded in this
// process the way the service decodes them, its heap flags included (bin/runtime.js). It reports
// CPU per event (user + system, garbage collection included) for JSON.parse of the value alone
// and for the whole of decoding (UTF-8 check, parse, validation, flattening, hostile-input
// checks), each the least of the later rounds. JSON.parse is V8's, and a floor for any decoder
// that builds the document as objects first (docs/performance.md).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SERVICE_NODE_FLAGS } from "../../bin/runtime.js";
import { loadConfig } from "../../src/config/index.ts";
import { decode, type SourceRecord } from "../../src/decode/decode.ts";
import { generateEvents } from "../../src/generate/stream.ts";

export interface DecodeCost {
  events: number;
  value_bytes_avg: number;
  json_parse_cpu_us_per_event: number;
  decode_cpu_us_per_event: number;
}

/** Measured in a child process started with the service's flags. */
export function decodeCost(events: number, seed: number): DecodeCost {
  const child = spawnSync(
    process.execPath,
    [...SERVICE_NODE_FLAGS, fileURLToPath(import.meta.url), String(events), String(seed)],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  if (child.status !== 0) throw new Error(`the decode measurement failed (exit ${child.status})`);
  return JSON.parse(child.stdout) as DecodeCost;
}

/** A batch's worth of results is kept, as the service keeps a batch's until it is written. */
const KEPT = 2000;
const ROUNDS = 4;

function cpuPerEvent(records: readonly SourceRecord[], work: (r: SourceRecord) => unknown): number {
  let least = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const kept: unknown[] = new Array(KEPT);
    const start = process.cpuUsage();
    records.forEach((r, i) => {
      kept[i % KEPT] = work(r);
    });
    const used = process.cpuUsage(start);
    // The first round warms the code up.
    if (round > 0) least = Math.min(least, (used.user + used.system) / records.length);
  }
  return Math.round(least * 100) / 100;
}

function measure(events: number, seed: number): DecodeCost {
  const records: SourceRecord[] = [];
  let bytes = 0;
  for (const g of generateEvents({ seed, events })) {
    if (g.value === null) continue;
    bytes += g.value.length;
    // Stamped as the broker would, soon after the event, so the clock-skew rule passes them.
    records.push({ topic: g.topic, key: Buffer.from(g.key), value: g.value, timestamp: BigInt(Date.now()) });
  }
  const config = loadConfig({});
  const limits = { ...config, topicPrefix: "" };
  return {
    events: records.length,
    value_bytes_avg: Math.round(bytes / records.length),
    json_parse_cpu_us_per_event: cpuPerEvent(records, (r) => {
      try {
        return JSON.parse((r.value as Buffer).toString("utf8"));
      } catch {
        return null; // poison: not JSON
      }
    }),
    decode_cpu_us_per_event: cpuPerEvent(records, (r) => decode(r, limits)),
  };
}

if (import.meta.main) {
  const [events = "100000", seed = "1"] = process.argv.slice(2);
  process.stdout.write(JSON.stringify(measure(Number(events), Number(seed))));
}
