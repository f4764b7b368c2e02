// npm run bench -- [--events N] [--partitions P] [--seed S] [--batch B] [--pool C] [--db-latency-ms L]
//                  [--no-ceilings] [--no-check] [--results DIR] [--svg PATH] | [--steady R [--seconds S]]
//                  | --decode-only
//
// Drain (drain.ts): writes a seeded realistic stream into fresh topics while a compact model of
// its tables is computed (produce.ts, compact-model.ts), then measures on this machine
//   1. the Kafka read ceiling: the same topics consumed without processing;
//   2. the service: a fresh group and database, from start until every offset is committed, with
//      its CPU, the database's, deadlocks and events/s once a second (measure.ts); then the tables
//      are checked against the model (check.ts). --db-latency-ms L delays the service's MySQL
//      traffic by L ms each way (latency-proxy.ts): a database on another host;
//   3. the database ceiling: the final rows written by a minimal multi-row INSERT … ON DUPLICATE
//      KEY UPDATE loop in large transactions, without Kafka (database.ts);
// and draws events/s over the drain as SVG (timeline.ts).
// Steady (steady.ts): produces R events/s and reports freshness (produce → row visible) p50/p99.
// Decode only (decode-cost.ts): CPU per event of decoding the stream, and of JSON.parse alone.
// The last line on stdout is one JSON object. --help lists the options (options.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import { arch, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/index.ts";
import { stackUp } from "../stack/index.ts";
import { decodeCost } from "./decode-cost.ts";
import { drain } from "./drain.ts";
import { HELP, help, log, options, stack } from "./options.ts";
import { steady } from "./steady.ts";

async function main() {
  if (help) {
    console.log(HELP);
    return;
  }
  if (options.decodeOnly) {
    log(`decoding ${options.events} events of seed ${options.seed} in one process, without Kafka or MySQL`);
    console.log(JSON.stringify(decodeCost(options.events, options.seed)));
    return;
  }
  const report = await stackUp(stack, loadConfig({}));
  log(report.kafka);
  log(report.database);
  log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"} (${arch()}), ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`,
  );
  const result = options.steady ? await steady(options.steady, options.seconds) : await drain();
  if (options.steady) {
    mkdirSync(options.resultsDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    writeFileSync(join(options.resultsDir, `steady-${stamp}-${options.steady}.json`), `${JSON.stringify(result)}\n`);
  }
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
