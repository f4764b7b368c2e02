// Paths into a parsed JSON document, for the fuzz tests that change one value somewhere in it.

export type JsonPath = (string | number)[];

/** Every path to a value inside `root`, the root itself excluded. */
export function jsonPaths(root: unknown, at: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  if (root !== null && typeof root === "object") {
    for (const [k, v] of Object.entries(root)) {
      const p = [...at, Array.isArray(root) ? Number(k) : k];
      out.push(p);
      jsonPaths(v, p, out);
    }
  }
  return out;
}
