import assert from "node:assert/strict";
import { test } from "node:test";
import {
  admit,
  createState,
  type Entity,
  GRAVEYARD,
  MAX_STEP_MICROS,
  MIN_STEP_MICROS,
  objectId,
  remove,
  retire,
  type State,
  tick,
  type UserDoc,
} from "./state.ts";

const START = 1_767_225_600_000_000n; // 2026-01-01T00:00:00Z
const doc = (id: string) => ({ id }) as unknown as UserDoc;
const slotsConsistent = (pool: Entity[]) => pool.every((e, i) => e.slot === i);
const fill = (s: State, n: number) => Array.from({ length: n }, (_, i) => admit(s, "user", `u${i}`, doc(`u${i}`)));

test("the clock moves on by MIN_STEP_MICROS–MAX_STEP_MICROS a tick, and reaches both ends", () => {
  const s = createState(1, 1000, START);
  const steps = new Set<bigint>();
  for (let i = 0; i < 100_000; i++) {
    const before = s.clock;
    tick(s);
    steps.add(s.clock - before);
  }
  const sorted = [...steps].sort((a, b) => (a < b ? -1 : 1));
  assert.equal(sorted[0], BigInt(MIN_STEP_MICROS));
  assert.equal(sorted.at(-1), BigInt(MAX_STEP_MICROS));
});

test("objectIds: the clock's seconds, then 10 random hex digits, then a counter", () => {
  const s = createState(1, 1000, START + 1_500_000n);
  const [a, b] = [objectId(s), objectId(s)];
  assert.match(a, /^[0-9a-f]{24}$/);
  assert.equal(a.slice(0, 8), (1_767_225_601).toString(16));
  assert.equal(a.slice(18), "000000");
  assert.equal(b.slice(18), "000001");
  assert.equal(s.serial, 2);
});

test("admit keeps the live entities under maxEntities by replacing one of the same kind", () => {
  const s = createState(1, 0, START); // maxEntities: the floor of 100
  assert.equal(s.maxEntities, 100);
  const first = fill(s, 100);
  assert.equal(s.users.length, 100);
  const newcomer = admit(s, "user", "new", doc("new"));
  assert.equal(s.users.length, 100);
  assert.equal(s.users[newcomer.slot], newcomer);
  assert.equal(first.filter((e) => !e.live).length, 1, "exactly one went quiet");
  assert.ok(slotsConsistent(s.users));
});

test("remove is O(1) and keeps every slot right; retire sends the entity to a bounded graveyard", () => {
  const s = createState(1, 100_000, START);
  const users = fill(s, 5);
  remove(s.users, users[1] as Entity);
  assert.deepEqual(
    s.users.map((e) => e.id),
    ["u0", "u4", "u2", "u3"],
  );
  assert.ok(slotsConsistent(s.users));
  remove(s.users, users[3] as Entity); // the last one
  assert.ok(slotsConsistent(s.users));

  const many = fill(s, GRAVEYARD + 50);
  for (const e of many) retire(s, s.users, e as Entity);
  assert.equal(s.graveyard.length, GRAVEYARD);
  assert.ok(many.every((e) => !e.live));
  assert.ok(slotsConsistent(s.users));
});
