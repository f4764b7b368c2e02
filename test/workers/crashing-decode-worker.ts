import { parentPort } from "node:worker_threads";

// Stands in for decode-worker.ts in decoder.test.ts: a decoder bug that kills the thread.
parentPort?.on("message", () => {
  throw new Error("a bug in the decoder");
});
