import { once } from "node:events";
import type { Socket } from "node:net";
import { type Generated, generateEvents } from "../../src/generate/stream.ts";
import { packChunk } from "./chunks.ts";
import { kafkaCeiling, newProducer } from "./kafka.ts";
import { procStats } from "./procfs.ts";

// The producing process (started by produce.ts): generates the seeded stream and produces it in
// chunks without waiting for each: while the broker writes one chunk the next is generated (at
// most SENDS_IN_FLIGHT unacknowledged; the idempotent producer keeps them in order). Each chunk
// also goes, as one frame, down a pipe to the model's process (model-process.ts); the pipe's
// back-pressure keeps it from running ahead of the model. The generator's state (src/generate)
// lives here and goes back to the system when production is over. Then, asked to, it measures the
// Kafka read ceiling on the same topics, so that the consumer's buffers too stay out of the driver.

export interface ProduceRequest {
  broker: string;
  prefix: string;
  seed: number;
  events: number;
  /** Whether the model's pipe comes with the request (not with --no-check). */
  model: boolean;
}
/** After "done": the Kafka read ceiling, or nothing more. */
export type AfterProduction = { type: "ceiling"; tag: string } | { type: "exit" };
export type ProduceReport =
  | { type: "progress"; sent: number; seconds: number }
  | { type: "done"; sent: number; seconds: number; cpuSeconds: number; peakRssMb: number }
  | { type: "ceiling"; eventsPerSecond: number };

const CHUNK = 2000;
const SENDS_IN_FLIGHT = 4;

// The request comes with the driver's end of the model's pipe, when there is a model.
const [request, toModel] = (await once(process, "message")) as [ProduceRequest, Socket | undefined];
const report = (r: ProduceReport) => process.send?.(r);
const producer = newProducer(request.broker);
const inFlight: Promise<unknown>[] = [];
const started = performance.now();
const seconds = () => (performance.now() - started) / 1000;
let sent = 0;
let nextReport = request.events / 10;

async function dispatch(chunk: Generated[]): Promise<void> {
  inFlight.push(
    producer.send({
      messages: chunk.map((g) => ({
        topic: `${request.prefix}${g.topic}`,
        key: Buffer.from(g.key),
        value: g.value as Buffer,
      })),
    }),
  );
  sent += chunk.length;
  while (inFlight.length > SENDS_IN_FLIGHT) await inFlight.shift();
  // Waiting for the pipe to drain, or for one turn of the event loop: the sockets move meanwhile.
  if (toModel && !toModel.write(packChunk(chunk))) await once(toModel, "drain");
  else await new Promise((r) => setImmediate(r));
  if (sent >= nextReport) {
    report({ type: "progress", sent, seconds: seconds() });
    nextReport += request.events / 10;
  }
}

let chunk: Generated[] = [];
for (const g of generateEvents({ seed: request.seed, events: request.events })) {
  chunk.push(g);
  if (chunk.length === CHUNK) {
    await dispatch(chunk);
    chunk = [];
  }
}
if (chunk.length > 0) await dispatch(chunk);
await Promise.all(inFlight);
const produced = seconds();
await producer.close();
if (toModel) {
  toModel.end();
  await once(toModel, "finish");
}
const cpu = process.cpuUsage();
report({
  type: "done",
  sent,
  seconds: produced,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  peakRssMb: procStats(process.pid).hwmMb,
});
const [after] = (await once(process, "message")) as [AfterProduction];
if (after.type === "ceiling") {
  report({ type: "ceiling", eventsPerSecond: await kafkaCeiling(request.broker, request.prefix, sent, after.tag) });
}
process.disconnect();
