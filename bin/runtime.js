// How the service's Node runs, in one place: the launcher (bin/analytics-service.js) re-runs
// itself with these when they are missing, the image puts them on its entrypoint, and the
// benchmark and tests start the service with them (test/integration/docker.test.ts holds them equal).
// Plain JavaScript, so the launcher can read it on a Node that cannot run TypeScript.

/**
 * A bounded V8 heap: without it V8 grows the heap lazily on a large machine; one V8 helper
 * thread: on two cores shared with the database, more only competed with the service; the old
 * generation let grow 75 % past what survived the last full collection before the next (V8's own
 * choice gave a full collection every few hundred milliseconds: docs/decisions.md). These are
 * V8's flags, which NODE_OPTIONS refuses: they go on the command line.
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

/** The oldest Node that runs the TypeScript sources as the project writes them. */
/** @type {[number, number]} */
export const MIN_NODE = [24, 6];
