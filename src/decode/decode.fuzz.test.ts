import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ROUTES, TOPICS } from "../domains/registry.ts";
import { BadEventError, BadEventReasons } from "../errors.ts";
import { LIMITS } from "../testing/domain-helpers.ts";
import { loadFixtures } from "../testing/fixtures.ts";
import { type JsonPath, jsonPaths } from "../testing/json-paths.ts";
import { type Decoded, decode, type SourceRecord } from "./decode.ts";

// Property-based fuzzing of the decode path: the fixture events, mutated as a hostile or broken
// upstream would — fields removed, added, retyped, nested deep, made huge, odd Unicode, numbers
// and timestamps at and past every limit, bytes cut or flipped, wrong topics, keys and record
// times. Every case must end as an operation, a skip or a rejection for a named rule: never an
// exception, never `unexpected_error` (which would be a bug a message can reach), never a
// secret in the reason, and the same twice. FUZZ_RUNS sets the number of cases (10,000 in CI);
// a failure prints the seed and path to replay it (fc's `seed` and `path` parameters).

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
/** The wall clock, pinned: decoding compares event times with it, and must decide the same twice. */
const NOW = Date.parse("2026-12-05T12:30:00Z");
const FIXTURES = loadFixtures().map((e) => e.value as unknown as Record<string, unknown>);
const SECRETS = ["$2b$12$", "password_hash", "account_number", "Example Bank"];
const REASONS = new Set<string>(Object.values(BadEventReasons));

type Json = unknown;
type Path = JsonPath;

const NESTED = "\u0000nested:";
/** Stands for `n` arrays nested in one another, spliced into the JSON text: JSON.stringify would recurse too deep. */
const nestedMarker = (n: number) => `${NESTED}${n}`;
const toBytes = (v: Json) =>
  Buffer.from(
    JSON.stringify(v).replace(/"\\u0000nested:(\d+)"/g, (_, n) => `${"[".repeat(Number(n))}${"]".repeat(Number(n))}`),
  );

const edgeNumbers = fc.constantFrom(
  0,
  -0,
  1,
  -1,
  0.5,
  2147483647,
  2147483648,
  -2147483648,
  -2147483649,
  4294967296,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  1e308,
  -1e308,
  5e-324,
);
const edgeTimestamps = fc.constantFrom(
  "9999-12-31T23:59:59.999999+00:00",
  "9999-12-31T23:59:59.999999-00:01",
  "1000-01-01T00:00:00Z",
  "1000-01-01T00:00:00+00:01",
  "0999-12-31T23:59:59Z",
  "2024-02-29T12:00:00Z",
  "2023-02-29T12:00:00Z",
  "2026-12-05T12:00:00.123456789+14:00",
  "2026-12-05T12:00:00.1234567890Z",
  "2026-12-05T24:00:00Z",
  "2026-12-05 12:00:00",
  "2026-12-05T12:00:00+99:99",
  "+002026-12-05T12:00:00Z",
  "",
);
const oddStrings = fc.oneof(
  fc.string({ unit: "binary", maxLength: 64 }),
  fc.string({ unit: "grapheme", maxLength: 64 }),
  fc.constantFrom(
    "\u0000",
    "\ud800",
    "\udfff",
    "🌿".repeat(60),
    "ש".repeat(201),
    " ",
    "S ",
    "__proto__",
    "constructor",
  ),
  fc.integer({ min: 1, max: 200_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 1, max: 30_000 }).map((n) => "é".repeat(n)),
);
const values: fc.Arbitrary<Json> = fc.oneof(
  oddStrings,
  edgeNumbers,
  edgeTimestamps,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 6 }),
  fc.integer({ min: 1, max: 20_000 }).map(nestedMarker),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 2000 }),
  fc.dictionary(oddStrings, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 20 }),
);

type Mutation = { hot: boolean; pick: number } & (
  | { kind: "remove" }
  | { kind: "set"; value: Json }
  | { kind: "add"; name: string; value: Json }
  | { kind: "duplicate" }
);

// Half the mutations land on or inside the places the rules guard (the envelope, JSON columns,
// children and their keys): picked among all paths, they would rarely reach them.
const HOT = new Set([
  "event_type",
  "event_id",
  "entity_id",
  "timestamp",
  "media",
  "attributes",
  "variant_attributes",
  "items",
  "variants",
  "item_id",
  "variant_id",
  "order_number",
]);
const isHot = (p: Path) => p.some((k) => HOT.has(String(k)));
const where = { hot: fc.boolean(), pick: fc.nat() };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ ...where, kind: fc.constant("remove" as const) }),
  fc.record({ ...where, kind: fc.constant("set" as const), value: values }),
  fc.record({
    ...where,
    kind: fc.constant("add" as const),
    // A key named like a secret field, in a map it is data of: no reason may name a path through it.
    name: fc.oneof(oddStrings, fc.constantFrom("password_hash", "banking_info")),
    value: values,
  }),
  fc.record({ ...where, kind: fc.constant("duplicate" as const) }),
);

function apply(root: Record<string, unknown>, m: Mutation): void {
  const everywhere = jsonPaths(root);
  const hot = everywhere.filter(isHot);
  const all = m.hot && hot.length > 0 ? hot : everywhere;
  const path = all[m.pick % Math.max(1, all.length)];
  if (!path) return;
  const parent = path.slice(0, -1).reduce<Json>((node, k) => (node as Record<string | number, Json>)[k], root) as
    | Record<string | number, Json>
    | Json[];
  const last = path.at(-1) as string | number;
  const node = (parent as Record<string | number, Json>)[last];
  switch (m.kind) {
    case "remove":
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete (parent as Record<string, Json>)[last];
      return;
    case "set":
      (parent as Record<string | number, Json>)[last] = m.value;
      return;
    case "add":
      if (node !== null && typeof node === "object" && !Array.isArray(node))
        (node as Record<string, Json>)[m.name] = m.value;
      else if (Array.isArray(node)) node.push(m.value);
      return;
    case "duplicate":
      if (Array.isArray(parent)) parent.push(structuredClone(node));
      return;
  }
}

type Bytes = { kind: "none" } | { kind: "cut"; at: number } | { kind: "flip"; at: number; byte: number };
const byteMutation: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: "none" as const }) },
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;
const caseArb = fc.record({
  fixture: fc.nat({ max: FIXTURES.length - 1 }),
  mutations: fc.array(mutation, { maxLength: 4 }),
  bytes: byteMutation,
  topic: fc.oneof({ weight: 6, arbitrary: fc.constant("own") }, fc.constantFrom(...TOPICS, "other", "")),
  key: fc.oneof(
    { weight: 6, arbitrary: fc.constant("entity" as const) },
    fc.constant(null),
    oddStrings.map((s) => Buffer.from(s)),
  ),
  timestamp: fc.oneof(
    { weight: 6, arbitrary: fc.constant(BigInt(Date.parse("2026-12-05T12:00:00Z"))) },
    fc.constantFrom(-1n, 0n, 253402300799999n, 8640000000000000n),
    fc.bigInt({ min: -1n, max: 253402300799999n }),
  ),
});

function recordOf(c: Case): SourceRecord {
  const original = FIXTURES[c.fixture] as Record<string, unknown>;
  const value = structuredClone(original);
  for (const m of c.mutations) apply(value, m);
  let bytes = toBytes(value);
  if (c.bytes.kind === "cut") bytes = bytes.subarray(0, c.bytes.at % (bytes.length + 1));
  if (c.bytes.kind === "flip" && bytes.length > 0) bytes[c.bytes.at % bytes.length] = c.bytes.byte;
  const ownTopic = String(original.event_type).split(".")[0] as string;
  return {
    topic: c.topic === "own" ? ownTopic : c.topic,
    key: c.key === "entity" ? Buffer.from(String(original.entity_id)) : c.key,
    value: bytes,
    timestamp: c.timestamp,
  };
}

/** What two decodes are compared on: rejections by reason and message (the error objects differ). */
const comparable = (d: Decoded) =>
  d.op.kind === "rejected" ? { ...d, op: { reason: d.op.error.reason, message: d.op.error.message } } : d;

test(`decoding ${RUNS} mutated fixture events: always an outcome, never an exception or a bug`, () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      const record = recordOf(c);
      const first = decode(record, LIMITS, ROUTES, NOW);
      const kind = first.op.kind;
      assert.ok(["upsert", "patch", "delete", "skipped", "rejected"].includes(kind), kind);
      if (first.op.kind === "rejected") {
        const { error } = first.op;
        assert.ok(error instanceof BadEventError);
        assert.ok(REASONS.has(error.reason), error.reason);
        assert.notEqual(error.reason, "unexpected_error", `${error.message}: ${String(first.unexpected)}`);
        for (const secret of SECRETS) assert.ok(!error.message.includes(secret), error.message);
        assert.ok(error.message.length < 1000, "a reason stays short");
      }
      assert.deepEqual(comparable(decode(record, LIMITS, ROUTES, NOW)), comparable(first), "the same twice");
    }),
    { numRuns: RUNS },
  );
});
