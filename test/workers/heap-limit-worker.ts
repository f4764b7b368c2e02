import { getHeapStatistics } from "node:v8";
import { parentPort } from "node:worker_threads";

// Stands in for decode-worker.ts in decoder.test.ts: tells the heap limit its isolate was given,
// which counts the young generation's size.
parentPort?.postMessage(getHeapStatistics().heap_size_limit);
