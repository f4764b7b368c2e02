import { Socket } from "node:net";
import { getHeapStatistics } from "node:v8";
import { adminConnection } from "../../test/support/helpers.ts";
import { checkTables, RowDump } from "./check.ts";
import { FrameReader, unpackChunk } from "./chunks.ts";
import { compactModel } from "./compact-model.ts";
import { procStats } from "./procfs.ts";

// The model's process (started by produce.ts with --expose-gc): applies the chunks arriving on fd 4
// from the producing process, in stream order, then, asked by the driver, checks the service's
// tables against what it computed. It holds nothing but the compact model (compact-model.ts).

export interface ModelSummary {
  rows: number;
  byTable: Record<string, number>;
  counts: Record<string, number>;
  /** V8 heap after a full collection: the model and this process's code. */
  heapMb: number;
  rssMb: number;
  cpuSeconds: number;
}
export type ModelRequest = { type: "check"; database: string; dump?: string };
export type ModelReply =
  | { type: "summary"; summary: ModelSummary }
  | { type: "checked"; equal: boolean; report: string; heapMb: number };

const compact = compactModel();
const reader = new FrameReader();
const reply = (r: ModelReply) => process.send?.(r);
const heapMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return Math.round(getHeapStatistics().used_heap_size / 2 ** 20);
};

const chunks = new Socket({ fd: 4, readable: true, writable: false });
chunks.on("data", (data: Buffer) => reader.push(data, (frame) => compact.apply(unpackChunk(frame))));
chunks.on("end", () => {
  if (!reader.idle) throw new Error("the stream of chunks ended inside a frame");
  const byTable = compact.rows();
  const cpu = process.cpuUsage();
  reply({
    type: "summary",
    summary: {
      rows: Object.values(byTable).reduce((a, b) => a + b, 0),
      byTable,
      counts: { ...compact.model.counts },
      heapMb: heapMb(),
      rssMb: Math.round(procStats(process.pid).rssMb),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    },
  });
});

process.on("message", async (request: ModelRequest) => {
  const conn = await adminConnection(request.database);
  const dump = request.dump === undefined ? undefined : new RowDump(request.dump);
  try {
    const result = await checkTables(conn, compact, dump);
    reply({ type: "checked", ...result, heapMb: heapMb() });
  } finally {
    dump?.close();
    await conn.end();
  }
});
