import fc from "fast-check";
import { jsonPaths } from "../../../src/testing/json-paths.ts";
import { ALL_VALID, type Json } from "./cases.ts";

// The fuzz's raw material: values at and past every limit (numbers, timestamps, strings, raw JSON
// text a serializer would not write), the recipe fast-check draws for each hostile event, and
// the mutation that splices a value into a document.

export const edgeNumbers = [
  0,
  -0,
  -1,
  0.5,
  2147483647,
  2147483648,
  -2147483648,
  -2147483649,
  2 ** 53,
  2 ** 53 + 2,
  1e308,
  -1e308,
  5e-324,
];
export const rawNumbers = [
  "-0",
  "9007199254740993",
  "1e400",
  "-1e400",
  "1e-400",
  "123456789012345678901234567890",
  "1E+2",
];
export const edgeTimestamps = [
  "9999-12-31T23:59:59.999999+00:00",
  "1000-01-01T00:00:00Z",
  "1000-01-01T00:00:00+00:01",
  "0999-12-31T23:59:59+14:00",
  "1000-01-01T00:00:00-14:00",
  "2016-12-31T23:59:60Z",
  "2026-03-01T10:00:01.000001+14:00",
  "2026-03-01T10:00:01.000001-14:00",
  "2026-03-01T10:00:01.0000019Z",
  "2026-02-29T10:00:00Z",
  "2099-01-01T00:00:00Z",
  "2026-12-06T23:59:59+00:00",
  "2026-03-01 10:00:01",
  "2026-03-01t10:00:01z",
];
export const oddStrings = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\u2028\u2029",
  "e\u0301",
  "\u00e9",
  "😀".repeat(60),
  "😀".repeat(201),
  "x".repeat(50),
  "x".repeat(51),
  "x".repeat(100),
  "x".repeat(101),
  "x".repeat(200),
  "x".repeat(201),
  "x".repeat(255),
  "x".repeat(256),
  "x".repeat(500),
  "x".repeat(501),
  "x".repeat(5001),
  "é".repeat(40000),
  "\u202e",
  "__proto__",
  "constructor",
  "null",
];
export const LONE = ["\\ud800", "\\udfff", "a\\udc00b"];

export const recipe = fc.record({
  kind: fc.nat(40),
  a: fc.nat(),
  b: fc.nat(),
  c: fc.nat(),
  d: fc.nat(),
  muts: fc.array(fc.record({ op: fc.nat(6), pick: fc.nat(), v: fc.nat() }), { maxLength: 3 }),
  keyMode: fc.nat(6),
  tsMode: fc.nat(5),
});
export type Recipe = typeof recipe extends fc.Arbitrary<infer T> ? T : never;

export const pickOf = <T>(xs: readonly T[], n: number): T => xs[n % xs.length] as T;
/** Values to splice: a marker for raw JSON text (lone surrogates, big numbers, deep nesting). */
export const RAW = "\u0001raw:";
export function someValue(v: number): unknown {
  switch (v % 9) {
    case 0:
      return pickOf(edgeNumbers, v >> 4);
    case 1:
      return `${RAW}${pickOf(rawNumbers, v >> 4)}`;
    case 2:
      return pickOf(oddStrings, v >> 4);
    case 3:
      return `${RAW}"${pickOf(LONE, v >> 4)}"`;
    case 4:
      return pickOf(edgeTimestamps, v >> 4);
    case 5:
      return `${RAW}${"[".repeat(14 + ((v >> 4) % 6))}1${"]".repeat(14 + ((v >> 4) % 6))}`;
    case 6:
      return pickOf([null, true, [], {}, "1", 1], v >> 4);
    case 7:
      return pickOf(ALL_VALID, v >> 4);
    default:
      return pickOf(ALL_VALID, v >> 4).toUpperCase();
  }
}
export const toText = (v: unknown) =>
  JSON.stringify(v).replace(/"\\u0001raw:((?:[^"\\]|\\.)*)"/g, (_, raw) => JSON.parse(`"${raw}"`));

export function mutate(root: Json, m: Recipe["muts"][number]): void {
  const all = jsonPaths(root);
  const path = all[m.pick % Math.max(1, all.length)];
  if (!path) return;
  const parent = path.slice(0, -1).reduce<unknown>((n, k) => (n as Json)[k as string], root) as Json;
  const last = path.at(-1) as string;
  const node = parent[last];
  switch (m.op) {
    case 0:
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      return;
    case 1:
    case 2:
      parent[last] = someValue(m.v);
      return;
    case 3:
      if (node && typeof node === "object" && !Array.isArray(node))
        (node as Json)[String(pickOf(oddStrings, m.v))] = someValue(m.v >> 3);
      else parent[`${last}_extra`] = someValue(m.v);
      return;
    case 4:
      if (Array.isArray(parent)) parent.push(structuredClone(node));
      return;
    case 5:
      if (typeof node === "string") parent[last] = node.normalize(m.v % 2 ? "NFD" : "NFC") + pickOf(oddStrings, m.v);
      return;
    default:
      parent[last] = null;
  }
}
