import { MIX, older, poison, Recent, skip } from "./mix.ts";
import { normal, twin } from "./platform.ts";
import { POISON_CLASSES, type PoisonClass } from "./poison.ts";
import { createState, DEFAULT_START_MICROS, type Generated, tick } from "./state.ts";

// A pure, seeded stream of events as the live platform publishes them: entities of all five
// domains created, then changed many times (platform.ts over users.ts ... posts.ts), plus what
// at-least-once delivery and a messy upstream add (mix.ts: exact re-sends, older events
// re-emitted, poison, unknown types, tombstones). Same options → same bytes. State is bounded by
// the live entities (≈ events/10), so a million events can be produced lazily.

export { type Generated, MIX, POISON_CLASSES, type PoisonClass };
export type { SkipClass } from "./state.ts";
export { DEFAULT_START_MICROS, MAX_STEP_MICROS } from "./state.ts";

export interface StreamOptions {
  seed: number;
  /** How many messages, everything included. */
  events: number;
  /** Share of poison messages (default 0.01). */
  poisonRate?: number;
  /**
   * Start of the simulated clock, microseconds since the epoch (default DEFAULT_START_MICROS,
   * 2026-03-01T00:00:00Z). The clock then moves on by MIN_STEP_MICROS–MAX_STEP_MICROS a message.
   */
  startMicros?: bigint;
}

/** The whole stream in memory: for tests and small runs (a million events is ~2 GB of values). */
export function generateStream(options: StreamOptions): Generated[] {
  return [...generateEvents(options)];
}

/** The same stream, one message at a time; the same options give the same messages as generateStream. */
export function* generateEvents(options: StreamOptions): Generator<Generated> {
  const step = createGenerator(options);
  for (let i = 0; i < options.events; i++) yield step();
}

/**
 * One draw per message picks what it is. The shares lie end to end on [0, 1): poison, duplicate,
 * older, skip, then the platform's own events; a twin takes the top MIX.twin when the newest
 * event can have one. A kind that can't be made yet (no entity to re-send, say) falls back to a
 * platform event, so every message is one draw plus what its kind needs: the stream's bytes
 * depend on this order of draws, so it must not change.
 */
function createGenerator(options: StreamOptions): () => Generated {
  const s = createState(options.seed, options.events, options.startMicros ?? DEFAULT_START_MICROS);
  const recent = new Recent();
  let poisonCount = 0;
  const duplicateAt = options.poisonRate ?? 0.01;
  const olderAt = duplicateAt + MIX.duplicate;
  const skipAt = olderAt + MIX.older;
  const normalAt = skipAt + MIX.unknownType + MIX.nullValue;
  return () => {
    const r = s.rnd.next();
    if (r >= 1 - MIX.twin) {
      const t = twin(s);
      if (t !== undefined) {
        recent.markNewestTwin();
        return recent.remember(t, true);
      }
    }
    tick(s);
    let g: Generated | undefined;
    if (r < duplicateAt) {
      g = poison(s, poisonCount);
      if (g !== undefined) poisonCount++;
    } else if (r < olderAt) g = recent.duplicate(s);
    else if (r < skipAt) g = older(s);
    else if (r < normalAt) g = skip(s);
    return g ?? recent.remember(normal(s), false);
  };
}
