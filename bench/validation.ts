/**
 * Hot-path validation benchmark: zod@4 vs valibot@1 vs typebox@1 (compiled).
 *
 * Validates the real `product.updated` event (line 7 of
 * /work/shared/fixtures/lifecycle.ndjson, its `value`) against the same schema
 * written in each library and measures:
 *   (a) ops/s validating the already JSON.parsed object (returning the typed value)
 *   (b) ops/s for JSON.parse(Buffer) + validate
 *   (c) µs/op to reject an invalid doc (variants.<key>.price_cents is a string)
 *       and produce a field path; the path each library gives is printed.
 *
 * Unknown keys are allowed and ignored everywhere. zod/valibot `object()` strips
 * them from the returned copy (the idiomatic default, primary rows); the
 * `looseObject()` variants, which keep them, are measured as extra rows.
 * TypeBox `Check()` is a type guard that returns nothing new, so extras stay.
 *
 * Run:  cd /work/main && npx --no node bench/validation.ts
 * Tune: BENCH_MS (default 2000), BENCH_WARMUP_MS (500), BENCH_REPEATS (3),
 *       LIFECYCLE_FIXTURE (path to the ndjson fixture).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Static, Type } from "typebox";
import { Compile } from "typebox/compile";
import * as v from "valibot";
import { z } from "zod";

// ---------------------------------------------------------------------------
// Settings and fixture
// ---------------------------------------------------------------------------

const RUN_MS = Number(process.env.BENCH_MS ?? 2000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 500);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const FIXTURE =
  process.env.LIFECYCLE_FIXTURE ?? fileURLToPath(new URL("../../shared/fixtures/lifecycle.ndjson", import.meta.url));
const FIXTURE_LINE = 7; // 1-based

const INT32_MAX = 2_147_483_647;
const HEX24 = /^[0-9a-fA-F]{24}$/;

function loadEvent(): Record<string, unknown> {
  const lines = readFileSync(FIXTURE, "utf8").split("\n");
  const line = lines[FIXTURE_LINE - 1];
  if (line === undefined) throw new Error(`${FIXTURE}: no line ${FIXTURE_LINE}`);
  const record = JSON.parse(line) as { value?: { event_type?: unknown } };
  const value = record.value;
  if (value?.event_type !== "product.updated") {
    throw new Error(`${FIXTURE}:${FIXTURE_LINE} is not a product.updated event (got ${String(value?.event_type)})`);
  }
  return value as Record<string, unknown>;
}

function libVersion(pkg: string): string {
  const url = new URL(`../node_modules/${pkg}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}

// ---------------------------------------------------------------------------
// Schemas: the SAME shape in each library
// ---------------------------------------------------------------------------

// --- zod -------------------------------------------------------------------
// `obj` is z.object (strips unknown keys) or z.looseObject (keeps them).
function buildZod(obj: typeof z.object) {
  const Int = z.int();
  const Variant = obj({
    variant_id: z.string(),
    variant_name: z.string(),
    attributes: z.array(obj({ attribute_name: z.string(), attribute_value: z.string() })),
    price_cents: Int,
    cost_cents: Int.nullish(),
    quantity: Int.optional(),
    package_dimensions: obj({
      width_cm: z.number(),
      height_cm: z.number(),
      depth_cm: z.number(),
    }),
    image_url: z.string().nullish(),
  });
  const Product = obj({
    supplier_id: z.string(),
    supplier_info: z.record(z.string(), z.string()),
    name: z.string().min(1).max(200),
    short_description: z.string().max(500).nullish(),
    category: z.string(),
    unit_type: z.string(),
    metadata: obj({ base_sku: z.string(), brand: z.string().nullish() }),
    base_price_cents: z.int32().min(0),
    stats: obj({
      view_count: Int.optional(),
      favorite_count: Int.optional(),
      purchase_count: Int.optional(),
      total_reviews: Int.optional(),
    }),
    status: z.string(),
    published_at: z.string().nullish(),
    created_at: z.string(),
    updated_at: z.string(),
    variants: z.record(z.string(), Variant),
  });
  return obj({
    event_type: z.string(),
    event_id: z.string().max(36),
    entity_id: z.string().regex(HEX24),
    timestamp: z.string(),
    data: Product,
  });
}

// --- valibot ---------------------------------------------------------------
// `obj` is v.object (strips unknown keys) or v.looseObject (keeps them).
function buildValibot(obj: typeof v.object) {
  const Int = v.pipe(v.number(), v.integer());
  const Variant = obj({
    variant_id: v.string(),
    variant_name: v.string(),
    attributes: v.array(obj({ attribute_name: v.string(), attribute_value: v.string() })),
    price_cents: Int,
    cost_cents: v.nullish(Int),
    quantity: v.optional(Int),
    package_dimensions: obj({
      width_cm: v.number(),
      height_cm: v.number(),
      depth_cm: v.number(),
    }),
    image_url: v.nullish(v.string()),
  });
  const Product = obj({
    supplier_id: v.string(),
    supplier_info: v.record(v.string(), v.string()),
    name: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
    short_description: v.nullish(v.pipe(v.string(), v.maxLength(500))),
    category: v.string(),
    unit_type: v.string(),
    metadata: obj({ base_sku: v.string(), brand: v.nullish(v.string()) }),
    base_price_cents: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(INT32_MAX)),
    stats: obj({
      view_count: v.optional(Int),
      favorite_count: v.optional(Int),
      purchase_count: v.optional(Int),
      total_reviews: v.optional(Int),
    }),
    status: v.string(),
    published_at: v.nullish(v.string()),
    created_at: v.string(),
    updated_at: v.string(),
    variants: v.record(v.string(), Variant),
  });
  return obj({
    event_type: v.string(),
    event_id: v.pipe(v.string(), v.maxLength(36)),
    entity_id: v.pipe(v.string(), v.regex(HEX24)),
    timestamp: v.string(),
    data: Product,
  });
}

// --- typebox ---------------------------------------------------------------
// Type.Object allows additional properties unless additionalProperties:false.
const OptNullable = <T extends Parameters<typeof Type.Optional>[0]>(t: T) =>
  Type.Optional(Type.Union([t, Type.Null()]));

const TbVariant = Type.Object({
  variant_id: Type.String(),
  variant_name: Type.String(),
  attributes: Type.Array(
    Type.Object({
      attribute_name: Type.String(),
      attribute_value: Type.String(),
    }),
  ),
  price_cents: Type.Integer(),
  cost_cents: OptNullable(Type.Integer()),
  quantity: Type.Optional(Type.Integer()),
  package_dimensions: Type.Object({
    width_cm: Type.Number(),
    height_cm: Type.Number(),
    depth_cm: Type.Number(),
  }),
  image_url: OptNullable(Type.String()),
});
const TbProduct = Type.Object({
  supplier_id: Type.String(),
  supplier_info: Type.Record(Type.String(), Type.String()),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  short_description: OptNullable(Type.String({ maxLength: 500 })),
  category: Type.String(),
  unit_type: Type.String(),
  metadata: Type.Object({
    base_sku: Type.String(),
    brand: OptNullable(Type.String()),
  }),
  base_price_cents: Type.Integer({ minimum: 0, maximum: INT32_MAX }),
  stats: Type.Object({
    view_count: Type.Optional(Type.Integer()),
    favorite_count: Type.Optional(Type.Integer()),
    purchase_count: Type.Optional(Type.Integer()),
    total_reviews: Type.Optional(Type.Integer()),
  }),
  status: Type.String(),
  published_at: OptNullable(Type.String()),
  created_at: Type.String(),
  updated_at: Type.String(),
  variants: Type.Record(Type.String(), TbVariant),
});
const TbEvent = Type.Object({
  event_type: Type.String(),
  event_id: Type.String({ maxLength: 36 }),
  entity_id: Type.String({ pattern: HEX24.source }),
  timestamp: Type.String(),
  data: TbProduct,
});

const ZEvent = buildZod(z.object);
const ZEventLoose = buildZod(z.looseObject as unknown as typeof z.object);
const VEvent = buildValibot(v.object);
const VEventLoose = buildValibot(v.looseObject as unknown as typeof v.object);
const TbEventC = Compile(TbEvent);

// ---------------------------------------------------------------------------
// Static types: the three derived types must describe the same shape.
// (type-only; erased at runtime, checked by `tsc --noEmit`)
// ---------------------------------------------------------------------------
type ZodProductEvent = z.infer<typeof ZEvent>;
type ValibotProductEvent = v.InferOutput<typeof VEvent>;
type TypeboxProductEvent = Static<typeof TbEvent>;
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AssertTrue<T extends true> = T;
export type _SameShape = [
  AssertTrue<Mutual<ZodProductEvent, ValibotProductEvent>>,
  AssertTrue<Mutual<ZodProductEvent, TypeboxProductEvent>>,
  AssertTrue<Mutual<ValibotProductEvent, TypeboxProductEvent>>,
];

// ---------------------------------------------------------------------------
// Validators as used on the hot path: unknown in -> typed value out (or throw)
// ---------------------------------------------------------------------------

function zodValidate(input: unknown): ZodProductEvent {
  const r = ZEvent.safeParse(input);
  if (!r.success) throw r.error;
  return r.data;
}
function zodLooseValidate(input: unknown) {
  const r = ZEventLoose.safeParse(input);
  if (!r.success) throw r.error;
  return r.data;
}
function valibotValidate(input: unknown): ValibotProductEvent {
  const r = v.safeParse(VEvent, input);
  if (!r.success) throw new v.ValiError(r.issues);
  return r.output;
}
function valibotLooseValidate(input: unknown) {
  const r = v.safeParse(VEventLoose, input);
  if (!r.success) throw new v.ValiError(r.issues);
  return r.output;
}
function typeboxValidate(input: unknown): TypeboxProductEvent {
  // Check() is a type guard: on success `input` is the typed value, no copy.
  if (!TbEventC.Check(input)) throw new Error("typebox: invalid");
  return input;
}

// Error-path producers for (c): validate, and turn the first issue into a path.
function zodErrorPath(input: unknown): string {
  const r = ZEvent.safeParse(input);
  if (r.success) return "";
  return r.error.issues[0]?.path.map(String).join(".") ?? "?";
}
function valibotErrorPath(input: unknown): string {
  const r = v.safeParse(VEvent, input);
  if (r.success) return "";
  const issue = r.issues[0];
  return (issue && v.getDotPath(issue)) ?? "?";
}
function typeboxErrorPath(input: unknown): string {
  if (TbEventC.Check(input)) return "";
  return TbEventC.Errors(input)[0]?.instancePath ?? "?";
}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

const event = loadEvent();
const eventBuf = Buffer.from(JSON.stringify(event), "utf8");
const variantKey = Object.keys((event.data as { variants: Record<string, unknown> }).variants)[0];
if (variantKey === undefined) throw new Error("fixture has no variants");

type Mut = Record<string, Record<string, Record<string, Record<string, unknown>>>>;
function mutate(fn: (doc: Mut) => void): unknown {
  const doc = structuredClone(event) as Mut;
  fn(doc);
  return doc;
}
const vk = variantKey;
const variantOf = (d: Mut) => d.data?.variants?.[vk] as Record<string, unknown>;
// The timed invalid doc: variants.<key>.price_cents is a (numeric) string.
const invalidDoc = mutate((d) => {
  variantOf(d).price_cents = String(variantOf(d).price_cents);
});

// ---------------------------------------------------------------------------
// Conformance: all three schemas must agree before numbers mean anything.
// ---------------------------------------------------------------------------

const libs = {
  zod: { ok: (x: unknown) => ZEvent.safeParse(x).success, path: zodErrorPath },
  valibot: {
    ok: (x: unknown) => v.safeParse(VEvent, x).success,
    path: valibotErrorPath,
  },
  typebox: { ok: (x: unknown) => TbEventC.Check(x), path: typeboxErrorPath },
} as const;
type LibName = keyof typeof libs;
const LIB_NAMES = Object.keys(libs) as LibName[];

const conformance: Array<[string, unknown, boolean]> = [
  ["fixture (has unknown keys: data.id, stock_locations, …)", event, true],
  [
    "extra unknown keys at every level",
    mutate((d) => {
      (d as Record<string, unknown>).x_extra = 1;
      (d.data as Record<string, unknown>).x_extra = { a: 1 };
      variantOf(d).x_extra = "y";
    }),
    true,
  ],
  [
    "optional/nullable fields absent or null",
    mutate((d) => {
      const data = d.data as Record<string, unknown>;
      delete data.short_description;
      data.published_at = null;
      (data.metadata as Record<string, unknown>).brand = null;
      data.stats = {};
      delete variantOf(d).quantity;
      variantOf(d).cost_cents = null;
      delete variantOf(d).image_url;
    }),
    true,
  ],
  ["price_cents is a string", invalidDoc, false],
  [
    "entity_id not 24 hex",
    mutate((d) => {
      (d as Record<string, unknown>).entity_id = "zz";
    }),
    false,
  ],
  [
    "event_id longer than 36",
    mutate((d) => {
      (d as Record<string, unknown>).event_id = "x".repeat(37);
    }),
    false,
  ],
  [
    "base_price_cents > int32",
    mutate((d) => {
      (d.data as Record<string, unknown>).base_price_cents = INT32_MAX + 1;
    }),
    false,
  ],
  [
    "base_price_cents negative",
    mutate((d) => {
      (d.data as Record<string, unknown>).base_price_cents = -1;
    }),
    false,
  ],
  [
    "name empty",
    mutate((d) => {
      (d.data as Record<string, unknown>).name = "";
    }),
    false,
  ],
  [
    "cost_cents fractional",
    mutate((d) => {
      variantOf(d).cost_cents = 1.5;
    }),
    false,
  ],
  [
    "supplier_info value not a string",
    mutate((d) => {
      (d.data as Record<string, unknown>).supplier_info = { name: 1 };
    }),
    false,
  ],
  [
    "attributes[1].attribute_value not a string",
    mutate((d) => {
      (variantOf(d).attributes as Array<Record<string, unknown>>)[1] = {
        attribute_name: "Color",
        attribute_value: 42,
      };
    }),
    false,
  ],
  [
    "package_dimensions missing",
    mutate((d) => {
      delete variantOf(d).package_dimensions;
    }),
    false,
  ],
];

let disagreements = 0;
for (const [label, doc, expected] of conformance) {
  for (const lib of LIB_NAMES) {
    const got = libs[lib].ok(doc);
    if (got !== expected) {
      disagreements++;
      console.error(`conformance: ${lib} says ${got} for "${label}" (expected ${expected})`);
    }
  }
}
if (disagreements > 0) {
  throw new Error(`${disagreements} conformance disagreement(s); schemas are not equivalent`);
}
// The strip/loose variants and the typed wrappers must accept the fixture too.
zodValidate(event);
zodLooseValidate(event);
valibotValidate(event);
valibotLooseValidate(event);
typeboxValidate(event);
if ("stock_locations" in (zodValidate(event).data as object)) {
  throw new Error("expected z.object to strip unknown keys");
}
if (!("stock_locations" in (zodLooseValidate(event).data as object))) {
  throw new Error("expected z.looseObject to keep unknown keys");
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

let sink = 0; // keeps results observable so the JIT cannot drop the work
function runFor(fn: () => unknown, ms: number): number {
  const batch = 64;
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let t = t0;
  do {
    for (let i = 0; i < batch; i++) {
      if (fn() === sink) sink++;
    }
    n += batch;
    t = performance.now();
  } while (t < end);
  return n / ((t - t0) / 1000); // ops/s
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

type Metric = "valid" | "buffer" | "error";
interface Case {
  row: string;
  metric: Metric;
  fn: () => unknown;
}
const fromBuf = () => JSON.parse(eventBuf.toString("utf8")) as unknown;
const cases: Case[] = [
  { row: "JSON.parse only", metric: "buffer", fn: fromBuf },
  { row: "zod", metric: "valid", fn: () => zodValidate(event) },
  { row: "zod", metric: "buffer", fn: () => zodValidate(fromBuf()) },
  { row: "zod", metric: "error", fn: () => zodErrorPath(invalidDoc) },
  { row: "valibot", metric: "valid", fn: () => valibotValidate(event) },
  { row: "valibot", metric: "buffer", fn: () => valibotValidate(fromBuf()) },
  { row: "valibot", metric: "error", fn: () => valibotErrorPath(invalidDoc) },
  { row: "typebox", metric: "valid", fn: () => typeboxValidate(event) },
  { row: "typebox", metric: "buffer", fn: () => typeboxValidate(fromBuf()) },
  { row: "typebox", metric: "error", fn: () => typeboxErrorPath(invalidDoc) },
  {
    row: "zod (looseObject)",
    metric: "valid",
    fn: () => zodLooseValidate(event),
  },
  {
    row: "zod (looseObject)",
    metric: "buffer",
    fn: () => zodLooseValidate(fromBuf()),
  },
  {
    row: "valibot (looseObject)",
    metric: "valid",
    fn: () => valibotLooseValidate(event),
  },
  {
    row: "valibot (looseObject)",
    metric: "buffer",
    fn: () => valibotLooseValidate(fromBuf()),
  },
];

// Warm up every case, then interleave repeats (round-robin) so drift in
// machine load/thermal state is spread across libraries instead of biasing one.
const totalS = Math.round((cases.length * (WARMUP_MS + REPEATS * RUN_MS)) / 1000);
console.log(
  `validation bench: node ${process.version}, ${cases.length} cases × (${WARMUP_MS} ms warm-up + ${REPEATS} × ${RUN_MS} ms) ≈ ${totalS} s`,
);
for (const c of cases) runFor(c.fn, WARMUP_MS);
const samples = new Map<Case, number[]>();
for (let r = 0; r < REPEATS; r++) {
  for (const c of cases) {
    const ops = runFor(c.fn, RUN_MS);
    const list = samples.get(c) ?? [];
    list.push(ops);
    samples.set(c, list);
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

interface RowResult {
  valid_ops_s?: number;
  buffer_ops_s?: number;
  error_us?: number;
  error_path?: string;
  runs: Partial<Record<Metric, number[]>>;
}
const rows = new Map<string, RowResult>();
for (const c of cases) {
  const runs = samples.get(c) ?? [];
  const row = rows.get(c.row) ?? { runs: {} };
  const med = median(runs);
  row.runs[c.metric] = runs.map((x) => Math.round(x));
  if (c.metric === "valid") row.valid_ops_s = Math.round(med);
  if (c.metric === "buffer") row.buffer_ops_s = Math.round(med);
  if (c.metric === "error") row.error_us = Number((1e6 / med).toFixed(2));
  rows.set(c.row, row);
}
for (const lib of LIB_NAMES) {
  const row = rows.get(lib);
  if (row) row.error_path = libs[lib].path(invalidDoc);
}

const fmtOps = (n?: number) => (n === undefined ? "-" : n.toLocaleString("en-US"));
const spread = (xs?: number[]) => {
  if (!xs || xs.length < 2) return "";
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return ` ±${((100 * (hi - lo)) / 2 / median(xs)).toFixed(0)}%`;
};
const header = [
  "library",
  "(a) parsed obj ops/s",
  "(b) Buffer→JSON.parse+validate ops/s",
  "(c) invalid→error path µs/op",
  "error path given",
];
const table: string[][] = [...rows.entries()].map(([name, r]) => [
  name,
  r.valid_ops_s === undefined ? "-" : fmtOps(r.valid_ops_s) + spread(r.runs.valid),
  r.buffer_ops_s === undefined ? "-" : fmtOps(r.buffer_ops_s) + spread(r.runs.buffer),
  r.error_us === undefined ? "-" : r.error_us.toFixed(2),
  r.error_path === undefined ? "-" : JSON.stringify(r.error_path),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] ?? "").length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
console.log();
console.log(`median of ${REPEATS} × ${RUN_MS} ms (± = half the min–max range of the runs)`);
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const row of table) console.log(line(row));

// Error detail as each library reports it (first issue only).
console.log();
console.log(
  `error detail for data.variants.${variantKey}.price_cents = "${String(
    ((invalidDoc as Mut).data?.variants?.[variantKey] as Record<string, unknown>).price_cents,
  )}":`,
);
{
  const zr = ZEvent.safeParse(invalidDoc);
  const zi = zr.success ? undefined : zr.error.issues[0];
  console.log(
    `  zod      issue.path=${JSON.stringify(zi?.path)} code=${zi?.code} message=${JSON.stringify(zi?.message)}`,
  );
  const vr = v.safeParse(VEvent, invalidDoc);
  const vi = vr.success ? undefined : vr.issues[0];
  console.log(
    `  valibot  getDotPath=${JSON.stringify(vi && v.getDotPath(vi))} issue.path keys=${JSON.stringify(vi?.path?.map((p) => p.key))} message=${JSON.stringify(vi?.message)}`,
  );
  const te = TbEventC.Errors(invalidDoc)[0];
  console.log(
    `  typebox  instancePath=${JSON.stringify(te?.instancePath)} keyword=${te?.keyword} schemaPath=${JSON.stringify(te?.schemaPath)} message=${JSON.stringify(te?.message)}`,
  );
  // Pitfall: TypeBox's Parse() runs Convert() on failure and coerces "2500" -> 2500.
  let tbParse: string;
  try {
    const out = TbEventC.Parse(invalidDoc) as TypeboxProductEvent;
    tbParse = `accepted, price_cents=${JSON.stringify(out.data.variants[variantKey]?.price_cents)} (coerced)`;
  } catch (err) {
    tbParse = `rejected (${(err as Error).name})`;
  }
  console.log(`  note: typebox Validator.Parse() on the same doc: ${tbParse}; use Check()/Errors() for strictness`);
}
{
  // A second sample inside an array and a nullable union, for path quality.
  const arrDoc = conformance.find((c) => c[0].startsWith("attributes[1]"))?.[1];
  const unionDoc = mutate((d) => {
    variantOf(d).cost_cents = "900";
  });
  for (const [label, doc] of [
    ["attributes[1].attribute_value=42", arrDoc],
    ['cost_cents="900" (nullish int)', unionDoc],
  ] as const) {
    const paths = LIB_NAMES.map((lib) => `${lib}=${JSON.stringify(libs[lib].path(doc))}`).join("  ");
    console.log(`  ${label}: ${paths}`);
  }
}

const result = {
  bench: "validation",
  event: "product.updated",
  fixture: `${FIXTURE}:${FIXTURE_LINE}`,
  date: new Date().toISOString(),
  node: process.version,
  versions: {
    zod: libVersion("zod"),
    valibot: libVersion("valibot"),
    typebox: libVersion("typebox"),
  },
  settings: {
    run_ms: RUN_MS,
    warmup_ms: WARMUP_MS,
    repeats: REPEATS,
    payload_bytes: eventBuf.length,
  },
  typebox_compiled_with_eval: TbEventC.IsEvaluated(),
  results: Object.fromEntries(rows),
  sink,
};
console.log();
console.log(JSON.stringify(result));
