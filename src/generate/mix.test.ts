import assert from "node:assert/strict";
import { test } from "node:test";
import { older, poison, Recent, RING, skip } from "./mix.ts";
import { normal } from "./platform.ts";
import { SCHEDULE } from "./poison.ts";
import { createState, type Generated, type State, tick } from "./state.ts";

const START = 1_767_225_600_000_000n;
const message = (key: string): Generated => ({ topic: "user", key, value: Buffer.from(key) });
/** A state with `n` platform events behind it. */
function played(n: number, seed = 3): State {
  const s = createState(seed, 10000, START);
  for (let i = 0; i < n; i++) {
    tick(s);
    normal(s);
  }
  return s;
}

test("Recent keeps the newest RING events and never re-sends a twin", () => {
  const s = createState(1, 1000, START);
  const recent = new Recent();
  assert.equal(recent.duplicate(s), undefined, "nothing to re-send yet");
  for (let i = 0; i < RING + 10; i++) recent.remember(message(`m${i}`), false);
  assert.equal(recent.ring.length, RING);
  assert.equal(recent.ring[9]?.g.key, `m${RING + 9}`, "the oldest were overwritten");

  const only = new Recent();
  only.remember(message("a"), false);
  only.markNewestTwin();
  only.remember(message("b"), true);
  assert.equal(only.duplicate(s), undefined, "both of a pair are left alone");
  only.remember(message("c"), false);
  for (let i = 0; i < 50; i++) {
    const d = only.duplicate(s);
    if (d) assert.deepEqual(d, { ...message("c"), resend: "duplicate" });
  }
});

test("older re-sends an entity's earlier event with its old timestamp and a fresh event_id", () => {
  const s = played(3000);
  const byId = new Map([...s.pools.flat(), ...s.graveyard].map((e) => [e.id, e]));
  for (let i = 0; i < 200; i++) {
    const g = older(s);
    if (!g) continue;
    const e = byId.get(g.key);
    assert.ok(e && g.event);
    const earlier = [e.prev, e.last].find((x) => x?.value.timestamp === g.event?.value.timestamp);
    assert.ok(earlier && earlier.micros < e.micros, "older than the entity's newest event");
    assert.notEqual(g.event.value.event_id, earlier.value.event_id);
    assert.equal(g.resend, "older");
  }
  assert.equal(older(createState(1, 1000, START)), undefined, "no entity yet");
});

test("skip makes tombstones and unknown types for live entities only", () => {
  assert.equal(skip(createState(1, 1000, START)), undefined);
  const s = played(500);
  const live = new Set(s.pools.flat().map((e) => e.id));
  const kinds = new Set<string | undefined>();
  for (let i = 0; i < 100; i++) {
    const g = skip(s) as Generated;
    kinds.add(g.skip);
    assert.ok(live.has(g.key));
    if (g.skip === "null_value") assert.equal(g.value, null);
    else assert.match(g.event?.value.event_type ?? "", new RegExp(`^${g.topic}\\.(merged|reviewed|archived|flagged)$`));
  }
  assert.deepEqual([...kinds].sort(), ["null_value", "unknown_type"]);
});

test("poison follows the schedule, and never breaks an integer of a supplier (they have none)", () => {
  assert.equal(poison(createState(1, 1000, START), 0), undefined);
  const s = played(500);
  SCHEDULE.forEach((cls, i) => {
    const g = poison(s, i) as Generated;
    assert.equal(g.poison, cls);
    if (cls === "non_integer" || cls === "int_out_of_range") assert.notEqual(g.topic, "supplier");
  });
});
