import { ConfigError } from "../errors.ts";

// A configuration variable is declared once (name, kind, default, description); parsing,
// `--help` and the README table all come from the declaration.

type Kind = "string" | "int" | "bool" | "enum" | "list";

interface VarBase<K extends Kind, T> {
  kind: K;
  env: string;
  default: T;
  description: string;
  /** Never printed: --help shows "(secret)" and errors never echo the value. */
  secret?: boolean;
}

export interface StringVar extends VarBase<"string", string> {
  allowEmpty?: boolean;
}
export interface IntVar extends VarBase<"int", number> {
  min: number;
  max: number;
}
export type BoolVar = VarBase<"bool", boolean>;
export interface EnumVar<V extends string> extends VarBase<"enum", V> {
  values: readonly V[];
}
export type ListVar = VarBase<"list", readonly string[]>;

export type AnyVar = StringVar | IntVar | BoolVar | EnumVar<string> | ListVar;
export type Declaration = Record<string, AnyVar>;

export type ConfigOf<D extends Declaration> = {
  readonly [K in keyof D]: D[K]["default"];
};

export const str = (env: string, def: string, description: string, extra: Partial<StringVar> = {}): StringVar => ({
  kind: "string",
  env,
  default: def,
  description,
  ...extra,
});

export const int = (env: string, def: number, description: string, min: number, max: number): IntVar => ({
  kind: "int",
  env,
  default: def,
  description,
  min,
  max,
});

export const bool = (env: string, def: boolean, description: string): BoolVar => ({
  kind: "bool",
  env,
  default: def,
  description,
});

export const oneOf = <const V extends string>(
  env: string,
  def: NoInfer<V>,
  values: readonly V[],
  description: string,
): EnumVar<V> => ({ kind: "enum", env, default: def, values, description });

export const list = (env: string, def: readonly string[], description: string): ListVar => ({
  kind: "list",
  env,
  default: def,
  description,
});

function parseOne(v: AnyVar, raw: string): unknown {
  const bad = (what: string) => new ConfigError(`${v.env}: ${what}. ${v.description}`);
  const text = raw.trim();
  switch (v.kind) {
    case "string":
      if (text === "" && !v.allowEmpty) throw bad("must not be empty");
      return v.secret ? raw : text;
    case "int": {
      if (!/^-?\d+$/.test(text)) throw bad(`expected a whole number, got "${text}"`);
      const n = Number(text);
      if (n < v.min || n > v.max) throw bad(`expected a number from ${v.min} to ${v.max}, got ${n}`);
      return n;
    }
    case "bool": {
      const t = text.toLowerCase();
      if (["1", "true", "yes", "on"].includes(t)) return true;
      if (["0", "false", "no", "off"].includes(t)) return false;
      throw bad(`expected true or false, got "${text}"`);
    }
    case "enum":
      if (!v.values.includes(text)) throw bad(`expected one of ${v.values.join(", ")}, got "${text}"`);
      return text;
    case "list": {
      const items = text
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
      if (items.length === 0) throw bad("must list at least one value");
      return items;
    }
  }
}

/** Reads every declared variable from `env`; an unset or empty variable takes its default. */
export function parseDeclaration<D extends Declaration>(decl: D, env: NodeJS.ProcessEnv): ConfigOf<D> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(decl)) {
    const raw = env[v.env];
    out[key] =
      raw === undefined || (raw === "" && !(v.kind === "string" && v.allowEmpty)) ? v.default : parseOne(v, raw);
  }
  return Object.freeze(out) as ConfigOf<D>;
}

export function describeDefault(v: AnyVar): string {
  if (v.secret) return v.default === "" ? "(empty)" : "(secret)";
  if (v.kind === "list") return v.default.join(",");
  if (v.kind === "string" && v.default === "") return "(empty)";
  return String(v.default);
}

/** Lines for --help: variable, default, description. */
export function helpLines(decl: Declaration): string[] {
  const vars = Object.values(decl);
  const w = Math.max(...vars.map((v) => v.env.length));
  const d = Math.max(...vars.map((v) => describeDefault(v).length));
  return vars.map((v) => `  ${v.env.padEnd(w)}  ${describeDefault(v).padEnd(d)}  ${v.description}`);
}
