import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../errors.ts";
import { type AnyVar, fileVariable } from "./declare.ts";
import { loadConfig, serviceDeclaration } from "./index.ts";

// Property-based fuzzing of the configuration as a careless operator sets it: each declared
// variable given a hostile text (spaces and controls around or inside, other scripts' digits,
// numbers in other notations, past every bound, ports out of range, very long). Every case must
// either load with the value the operator wrote, within its documented range, or be refused with a
// ConfigError that names the variable: never another exception, never a value coerced into range.

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const HOSTILE = [
  "",
  " ",
  "\t",
  "\n",
  "\u0000",
  " 5 ",
  "5\n",
  "\t5",
  "5\u00006",
  "١٢",
  "１２",
  "1e3",
  "0x10",
  "0b1",
  "1_000",
  "Infinity",
  "-Infinity",
  "NaN",
  "-0",
  "+5",
  "007",
  "5.0",
  "5.5",
  "9007199254740993",
  "2147483648",
  "-2147483649",
  "99999999999999999999999",
  "-1",
  "0",
  "1",
  "65535",
  "65536",
  "true",
  "TRUE",
  "yes",
  "On",
  "no",
  "\uFFFD\uD800",
  "5s",
  "10ms",
  "1MiB",
  "localhost:0",
  "localhost:65536",
  "localhost:x",
  "localhost:",
  ":9092",
  "[::1]:9092",
  "::1",
  "[::1]",
  "::1:9092",
  "a:1,",
  ",a:1",
  "a:1,,b:2",
  "a:1,a:1",
  "kafka://a:1",
  "a:1 b:2",
  "a:009092",
  "earliest",
  "EARLIEST",
  "PLAIN",
  "plain",
  "analytics-dlq",
  "user",
  "prod.",
  ".",
  "..",
  "__consumer_offsets",
];

const hostile = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc
    .tuple(fc.constantFrom(...HOSTILE), fc.constantFrom(" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", ""))
    .map(([s, pad]) => `${pad}${s}${pad}`),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.integer().map(String),
  fc.constantFrom("9".repeat(400), "a".repeat(70_000), `${"a".repeat(250)}`),
);

const VARS = Object.values(serviceDeclaration) as AnyVar[];

/** What an accepted value may be: the operator's text, within the declared range. */
function checkAccepted(v: AnyVar, raw: string, value: unknown): void {
  const text = raw.trim();
  switch (v.kind) {
    case "int": {
      assert.ok(Number.isSafeInteger(value), `${v.env}=${JSON.stringify(raw)} gave ${value}`);
      const n = value as number;
      assert.ok(n >= v.min && n <= v.max, `${v.env}=${JSON.stringify(raw)} gave ${n}, out of ${v.min}..${v.max}`);
      if (text !== "") {
        assert.equal(BigInt(text), BigInt(n), `${v.env}=${JSON.stringify(raw)} gave ${n}`);
      }
      return;
    }
    case "bool":
      assert.equal(typeof value, "boolean");
      return;
    case "enum":
      assert.ok(v.values.includes(value as string), `${v.env}=${JSON.stringify(raw)} gave ${value}`);
      return;
    case "list":
      assert.ok(Array.isArray(value) && value.length > 0);
      for (const item of value as string[]) assert.ok(text === "" || text.includes(item));
      return;
    case "string":
      if (!v.secret && text !== "") assert.equal(value, text);
  }
}

const keyOf = new Map(Object.entries(serviceDeclaration).map(([k, v]) => [v.env, k]));

/** loadConfig(env) loads each set variable as written, or refuses with a ConfigError naming one first. */
function loadsOrNames(env: Record<string, string>): void {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `${JSON.stringify(env)} threw ${String(err)}`);
    const named = VARS.some(
      (d) => err.message.startsWith(`${d.env}:`) || err.message.startsWith(`${fileVariable(d)}:`),
    );
    assert.ok(named, `${JSON.stringify(env)}: "${err.message}" names no variable first`);
    return;
  }
  for (const [name, raw] of Object.entries(env)) {
    const v = VARS.find((d) => d.env === name) as AnyVar;
    checkAccepted(v, raw, config[keyOf.get(name) as keyof typeof config]);
  }
}

test("each variable, set to a hostile text, loads as written within its range or is refused naming it", () => {
  fc.assert(
    fc.property(fc.constantFrom(...VARS), hostile, (v, raw) => loadsOrNames({ [v.env]: raw })),
    { numRuns: RUNS },
  );
});

test("two variables set at once, each hostile: the same, whatever the pair", () => {
  const setting = fc.tuple(fc.constantFrom(...VARS), hostile);
  fc.assert(
    fc.property(setting, setting, ([a, x], [b, y]) =>
      loadsOrNames(a.env === b.env ? { [a.env]: x } : { [a.env]: x, [b.env]: y }),
    ),
    { numRuns: RUNS },
  );
});
