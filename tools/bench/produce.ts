import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { ModelReply, ModelRequest, ModelSummary } from "./model-process.ts";
import type { AfterProduction, ProduceReport, ProduceRequest } from "./producer-process.ts";

// Producing the stream, from the driver's side: two processes do the work (producer-process.ts
// generates and produces; model-process.ts computes the model of the tables from the chunks the
// producer pipes to it), so that generating, producing and modelling share the cores while the
// driver waits. The producing process ends with production (after the Kafka read ceiling), and
// the generator's memory with it; the model's process stays, holding the compact model, until the
// check.

/** --max-old-space-size by stream length: src/generate keeps about events/10 live entities. */
const heapFlag = (events: number, perEventKb: number) =>
  `--max-old-space-size=${Math.ceil(1024 + (events * perEventKb) / 1024)}`;
const entry = (name: string) => fileURLToPath(new URL(name, import.meta.url));

export interface Produced {
  sent: number;
  /** From starting the processes until the model has every chunk. */
  seconds: number;
  /** The producing process's CPU seconds (every thread) and highest RSS. */
  producerCpuSeconds: number;
  producerPeakRssMb: number;
  /** The Kafka read ceiling, measured by the producing process once the model had every chunk; null: not asked. */
  kafkaCeiling: number | null;
  model: ModelHandle | null;
}

export interface ModelHandle {
  pid: number;
  summary: ModelSummary;
  /** Compares the tables of `database` with the model (once), dumping them to `dump` if given. */
  check(database: string, dump?: string): Promise<{ equal: boolean; report: string; heapMb: number }>;
  close(): Promise<void>;
}

/** The next message of `type` from a child, or the child's failure. */
function next<M extends { type: string }, T extends M["type"]>(
  child: ChildProcess,
  type: T,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: M) => {
      if (m.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(m as Extract<M, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`${child.spawnfile} ${child.spawnargs.at(-1)} exited (${signal ?? code}) before its ${type}`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

export async function produceStream(
  options: { broker: string; prefix: string; seed: number; events: number; check: boolean; ceiling: string | null },
  progress: (sent: number, seconds: number) => void,
): Promise<Produced> {
  const started = performance.now();
  const stdio = ["ignore", "inherit", "inherit", "ipc", "pipe"] as const;
  const model = options.check
    ? spawn(process.execPath, ["--expose-gc", heapFlag(options.events, 0.3), entry("./model-process.ts")], {
        stdio: [...stdio],
      })
    : null;
  const producer = spawn(process.execPath, [heapFlag(options.events, 0.8), entry("./producer-process.ts")], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const producerExit = once(producer, "exit");
  producer.on("message", (m: ProduceReport) => {
    if (m.type === "progress") progress(m.sent, m.seconds);
  });
  const done = next<ProduceReport, "done">(producer, "done");
  const summary = model ? next<ModelReply, "summary">(model, "summary") : null;
  summary?.catch(() => undefined); // awaited below, once production is done
  const { broker, prefix, seed, events } = options;
  // The driver's end of the model's pipe goes to the producer (and is closed here): the chunks go
  // from one process to the other without passing through this one.
  producer.send(
    { broker, prefix, seed, events, model: model !== null } satisfies ProduceRequest,
    model?.stdio[4] as Socket,
  );
  try {
    const report = await done;
    const modelSummary = await summary;
    const seconds = (performance.now() - started) / 1000;
    const ceiling = options.ceiling === null ? null : next<ProduceReport, "ceiling">(producer, "ceiling");
    producer.send(
      (options.ceiling === null
        ? { type: "exit" }
        : { type: "ceiling", tag: options.ceiling }) satisfies AfterProduction,
    );
    const kafkaCeiling = ceiling === null ? null : (await ceiling).eventsPerSecond;
    await producerExit;
    return {
      sent: report.sent,
      seconds,
      producerCpuSeconds: report.cpuSeconds,
      producerPeakRssMb: report.peakRssMb,
      kafkaCeiling,
      model:
        model && modelSummary
          ? {
              pid: model.pid as number,
              summary: modelSummary.summary,
              async check(database, dump) {
                const reply = next<ModelReply, "checked">(model, "checked");
                model.send({ type: "check", database, dump } satisfies ModelRequest);
                return await reply;
              },
              close: () => stop(model),
            }
          : null,
    };
  } catch (err) {
    await stop(producer);
    if (model) await stop(model);
    throw err;
  }
}
