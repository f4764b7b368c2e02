// npm run bench:profile -- DIR [--events N]
//
// Where the service's time went, from the V8 CPU profiles that
// `BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" npm run bench` writes (one per thread): each
// sample is charged to the innermost frame of its stack that belongs to a part of the pipeline,
// so JSON.parse counts as decoding and mysql2's escaping as sending statements. With --events,
// each share is also given in µs per event.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** The part of a .cpuprofile this reads (V8's Profiler.Profile). */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  /** µs since the previous sample. */
  timeDeltas: number[];
}

/** V8's own pseudo-frames, each its own part. */
const V8_FRAMES = new Map([
  ["(garbage collector)", "garbage collection"],
  ["(idle)", "idle"],
  ["(program)", "V8 internals"],
]);

const SENDING = "mysql2: sending statements (escaping, packets, socket writes)";
const RECEIVING = "mysql2: reading results";

/** First rule that a frame's URL matches names its part; mysql2 is split by who called it. */
const PARTS: [RegExp, string][] = [
  [/\/src\/(decode|domains)\/|\/typebox\//, "decoding: JSON, validation, flattening"],
  [/\/src\/plan\//, "planning (versions, coalescing)"],
  [/\/src\/write\//, "statements: text, locking reads, writes"],
  [/\/node_modules\/mysql2\//, "mysql2"],
  [/\/node_modules\/@platformatic\/kafka\/|^wasm:/, "Kafka client (fetch, record decoding, CRC)"],
  [/\/src\/|\/node_modules\/(pino|prom-client)\//, "pipeline, batching, metrics, logs"],
];

function partOfUrl(url: string): string | undefined {
  return PARTS.find(([pattern]) => pattern.test(url))?.[1];
}

/** The part each node's self time is charged to. */
export function classify(profile: CpuProfile): Map<number, string> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const parts = new Map<number, string>();
  for (const node of profile.nodes) {
    const own = V8_FRAMES.get(node.callFrame.functionName);
    if (own) {
      parts.set(node.id, own);
      continue;
    }
    let part: string | undefined;
    let at: number | undefined = node.id;
    while (at !== undefined && part === undefined) {
      part = partOfUrl(byId.get(at)?.callFrame.url ?? "");
      at = parent.get(at);
    }
    if (part === "mysql2") {
      // Called from the service's own statement code: a query being escaped and written.
      // Otherwise it runs off a socket read: results being parsed.
      let sending = false;
      for (; at !== undefined && !sending; at = parent.get(at)) {
        sending = /\/src\/write\//.test(byId.get(at)?.callFrame.url ?? "");
      }
      part = sending ? SENDING : RECEIVING;
    }
    parts.set(node.id, part ?? "other: Node.js internals, timers, sockets");
  }
  return parts;
}

/** µs of samples per part, largest first, and the profile's total. */
export function summarize(profile: CpuProfile): { total: number; parts: [string, number][] } {
  const parts = classify(profile);
  const time = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const part = parts.get(id) ?? "unknown";
    time.set(part, (time.get(part) ?? 0) + dt);
  });
  return { total, parts: [...time].sort((a, b) => b[1] - a[1]) };
}

export function report(name: string, profile: CpuProfile, events?: number): string {
  const { total, parts } = summarize(profile);
  const lines = [`${name}: ${(total / 1e6).toFixed(1)} s sampled`];
  for (const [part, us] of parts) {
    const share = `${((100 * us) / total).toFixed(1)} %`.padStart(7);
    const perEvent = events ? `  ${(us / events).toFixed(1).padStart(5)} µs/event` : "";
    lines.push(`${share}${perEvent}  ${part}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ options: { events: { type: "string" } }, allowPositionals: true });
  const dir = positionals[0];
  if (!dir) {
    console.error("usage: npm run bench:profile -- DIR [--events N]  (DIR holds .cpuprofile files)");
    process.exit(2);
  }
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  } catch (err) {
    console.error(`profile-summary: can't read ${dir}: ${(err as Error).message}`);
    process.exit(1);
  }
  if (files.length === 0) {
    console.error(
      `profile-summary: no .cpuprofile files in ${dir}; write them with BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=${dir}"`,
    );
    process.exit(1);
  }
  const events = values.events === undefined ? undefined : Number(values.events);
  for (const f of files) {
    console.log(report(f, JSON.parse(readFileSync(join(dir, f), "utf8")) as CpuProfile, events));
  }
}
