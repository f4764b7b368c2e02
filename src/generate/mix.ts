import { emit } from "./emit.ts";
import { type Kind, type PoisonClass, poisonBytes, SCHEDULE } from "./poison.ts";
import { clone, type Generated, type State, stamp, type UserDoc } from "./state.ts";

// What at-least-once delivery and a messy upstream add to the platform's events: exact re-sends,
// older events re-emitted, unknown event types, tombstones and poison. None of it may change the
// tables; poison ends in the dead-letter topic.

/**
 * The mix, as shares of all messages (poison: StreamOptions.poisonRate); the rest are the
 * platform's own events (platform.ts). A twin is a second change of an entity in the same
 * microsecond; it is never re-sent, since a re-send would reorder it against its pair.
 */
export const MIX = { duplicate: 0.03, older: 0.02, unknownType: 0.002, nullValue: 0.002, twin: 0.005 } as const;
/** How many of the newest platform events an exact re-send draws from. */
export const RING = 1024;
const UNKNOWN_ACTIONS = ["merged", "reviewed", "archived", "flagged"];

interface Remembered {
  g: Generated;
  /** One of a same-microsecond pair: never re-sent. */
  twin: boolean;
}

/** The newest RING platform events, for exact re-sends. */
export class Recent {
  readonly ring: Remembered[] = [];
  /** Events remembered so far; the newest is at (size - 1) % RING. */
  size = 0;

  remember(g: Generated, twin: boolean): Generated {
    this.ring[this.size++ % RING] = { g, twin };
    return g;
  }

  /** The newest event has a twin now, so it must not be re-sent either. */
  markNewestTwin(): void {
    const newest = this.ring[(this.size - 1) % RING];
    if (newest) newest.twin = true;
  }

  /** An earlier message again, byte for byte: up to 8 draws for one that is not a twin. */
  duplicate(s: State): Generated | undefined {
    for (let i = 0; i < 8 && this.size > 0; i++) {
      const x = s.rnd.pick(this.ring);
      if (!x.twin) return { ...x.g, resend: "duplicate" };
    }
    return undefined;
  }
}

/** An entity's earlier full-state event, its timestamp kept, with a fresh event_id: the sink must see it is older. */
export function older(s: State): Generated | undefined {
  const { rnd } = s;
  for (let i = 0; i < 8; i++) {
    const pool = rnd.chance(0.3) ? s.graveyard : rnd.pick(s.pools);
    if (pool.length === 0) continue;
    const e = rnd.pick(pool);
    const old = [e.prev, e.last].find((x) => x !== undefined && x.micros < e.micros);
    if (old === undefined) continue;
    const value = { ...old.value, event_id: rnd.uuid() };
    const event = { topic: e.kind, key: e.id, value };
    return { topic: e.kind, key: e.id, value: Buffer.from(JSON.stringify(value)), event, resend: "older" };
  }
  return undefined;
}

/** A tombstone, or an event type the sink does not know, for a live entity: both skipped and counted. */
export function skip(s: State): Generated | undefined {
  const { rnd } = s;
  const live = s.pools.filter((p) => p.length > 0);
  if (live.length === 0) return undefined;
  const e = rnd.pick(rnd.pick(live));
  if (rnd.chance(0.5)) return { topic: e.kind, key: e.id, value: null, skip: "null_value" };
  const value = {
    ...emit("user.updated", e.id, e.doc as UserDoc, { timestamp: stamp(s, s.clock), eventId: rnd.uuid() }).value,
  };
  value.event_type = `${e.kind}.${rnd.pick(UNKNOWN_ACTIONS)}`;
  const event = { topic: e.kind, key: e.id, value };
  return { topic: e.kind, key: e.id, value: Buffer.from(JSON.stringify(value)), event, skip: "unknown_type" };
}

/**
 * The `index`-th poison message (its class by SCHEDULE), built from a live entity's event so it
 * lands among real ones. Undefined while no entity fits the class (the caller retries it later).
 */
export function poison(s: State, index: number): Generated | undefined {
  const { rnd } = s;
  const cls = SCHEDULE[index % SCHEDULE.length] as PoisonClass;
  // Suppliers have no INT column to break.
  const needsInts = cls === "non_integer" || cls === "int_out_of_range";
  const kinds = (Object.keys(s.byKind) as Kind[]).filter(
    (k) => s.byKind[k].length > 0 && (!needsInts || k !== "supplier"),
  );
  if (kinds.length === 0) return undefined;
  const e = rnd.pick(s.byKind[rnd.pick(kinds)]);
  const env: Record<string, unknown> = {
    event_type: "",
    event_id: rnd.uuid(),
    entity_id: e.id,
    timestamp: stamp(s, s.clock),
    data: clone(e.doc),
  };
  env.event_type = e.kind === "order" ? "order.created" : `${e.kind}.updated`;
  return { topic: e.kind, key: e.id, value: poisonBytes(rnd, cls, env, e.kind), poison: cls };
}
