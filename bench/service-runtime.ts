// How the service runs in production: package.json's start script and the Dockerfile set the
// same (test/docker.test.ts holds them equal); the benchmark runs the service with them.

/**
 * A bounded V8 heap: without it V8 grows the heap lazily on a large machine; one V8 helper thread:
 * on two cores shared with the database, four only competed with the service; the old generation
 * let grow 75 % past what survived the last full collection before the next: V8's own choice,
 * with a batch's rows outliving the young generation, gave a full collection every 150–200 ms
 * (docs/decisions.md). `--heap-growing-percent` is V8's own flag, which NODE_OPTIONS refuses: the
 * flags go on the command line.
 */
export const SERVICE_NODE_FLAGS = [
  "--max-old-space-size=256",
  "--max-semi-space-size=16",
  "--v8-pool-size=1",
  "--heap-growing-percent=75",
];

/**
 * glibc malloc: few arenas; buffers over 128 KiB always mapped, so freed ones go back to the
 * system; up to 4 MiB free at the top of an arena kept, so the socket reads of the next fetch
 * reuse the last one's memory instead of faulting in fresh pages (docs/decisions.md).
 */
export const SERVICE_ENV = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "131072",
  MALLOC_TRIM_THRESHOLD_: "4194304",
};
