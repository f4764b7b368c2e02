// Allocation profile of the service, every thread: `BENCH_NODE_OPTIONS="--import=./tools/bench/heap-sampling.ts"
// npm run bench` writes one .heapprofile per thread (open it in Chrome DevTools' Memory tab) into
// HEAP_PROFILE_DIR (default /tmp/heap-profiles) after HEAP_PROFILE_MS (default 9000) of the
// service's life. V8's sampling heap profiler, told to keep what the collector has already freed:
// it shows what is allocated, not what is retained.
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { threadId } from "node:worker_threads";

const dir = process.env.HEAP_PROFILE_DIR ?? "/tmp/heap-profiles";
const session = new Session();
session.connect();
await session.post("HeapProfiler.enable");
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 16384,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
setTimeout(
  async () => {
    const { profile } = await session.post("HeapProfiler.stopSampling");
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${process.pid}-thread${threadId}.heapprofile`, JSON.stringify(profile));
  },
  Number(process.env.HEAP_PROFILE_MS ?? 9000),
).unref();
