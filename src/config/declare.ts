import { distance } from "fastest-levenshtein";
import { ConfigError } from "../errors.ts";
import { readConfigFile } from "./files.ts";

// A configuration variable is declared once (name, kind, default, description); parsing,
// `--help` and the README table all come from the declaration.

type Kind = "string" | "int" | "bool" | "enum" | "list";

interface VarBase<K extends Kind, T> {
  kind: K;
  env: string;
  default: T;
  description: string;
  /**
   * Never printed: --help shows "(secret)" and errors never echo the value. A secret may instead
   * be given as a file, named by `<env>_FILE` (secretText).
   */
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

/**
 * A secret without the line breaks at its end: `echo pw > file` adds one, and a Kubernetes Secret
 * made from such a file hands it to its env variable too; no password ends with one. Spaces stay.
 */
const withoutLineBreaksAtEnd = (secret: string) => secret.replace(/[\r\n]+$/, "");
function parseOne(v: AnyVar, raw: string): unknown {
  const bad = (what: string) => new ConfigError(`${v.env}: ${what}. ${v.description}`);
  const text = raw.trim();
  switch (v.kind) {
    case "string":
      if (text === "" && !v.allowEmpty) throw bad("must not be empty");
      return v.secret ? withoutLineBreaksAtEnd(raw) : text;
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

/**
 * Reads every declared variable from `env`; an unset or empty variable takes its default. A
 * secret given as a file is its content, even empty: the file was named on purpose.
 */
export function parseDeclaration<D extends Declaration>(decl: D, env: NodeJS.ProcessEnv): ConfigOf<D> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(decl)) {
    const fromFile = v.secret ? secretFromFile(v, env) : undefined;
    if (fromFile !== undefined) {
      out[key] = parseOne(v, fromFile);
      continue;
    }
    const raw = env[v.env];
    out[key] =
      raw === undefined || (raw === "" && !(v.kind === "string" && v.allowEmpty)) ? v.default : parseOne(v, raw);
  }
  return Object.freeze(out) as ConfigOf<D>;
}

/** The variable that names a file holding `v`'s value (Docker and Kubernetes mount secrets as files). */
export const fileVariable = (v: AnyVar): string => `${v.env}_FILE`;

/**
 * A secret's value from the file `<env>_FILE` names, or undefined when that is unset. Trailing
 * line breaks are dropped (`echo pw > file` adds one; a password never ends with one), and so is
 * a leading UTF-8 byte order mark; spaces are kept. Both forms at once is refused: which one wins would be a guess.
 */
function secretFromFile(v: AnyVar, env: NodeJS.ProcessEnv): string | undefined {
  const variable = fileVariable(v);
  const path = env[variable]?.trim();
  if (!path) return undefined;
  if (env[v.env]) throw new ConfigError(`${v.env}: set either ${v.env} or ${variable}, not both. ${v.description}`);
  // A UTF-8 byte order mark (Notepad, PowerShell's `Out-File -Encoding utf8`) is the file's
  // encoding, not part of the secret: kept, it made a right password a refused one.
  const text = withoutLineBreaksAtEnd(readConfigFile(variable, path).replace(/^\uFEFF/, ""));
  if (text === "" && !(v.kind === "string" && v.allowEmpty)) {
    throw new ConfigError(`${variable}: ${path} is empty. ${v.description}`);
  }
  return text;
}

export function describeDefault(v: AnyVar): string {
  if (v.secret) return v.default === "" ? "(empty)" : "(secret)";
  if (v.kind === "list") return v.default.join(",");
  if (v.kind === "string" && v.default === "") return "(empty)";
  return String(v.default);
}

/** Lines for --help: variable, default, description; a secret's line names its file form. */
export function helpLines(decl: Declaration): string[] {
  const vars = Object.values(decl);
  const w = Math.max(...vars.map((v) => v.env.length));
  const d = Math.max(...vars.map((v) => describeDefault(v).length));
  return vars.map((v) => {
    const orFile = v.secret ? ` Or ${fileVariable(v)}: a file holding it.` : "";
    return `  ${v.env.padEnd(w)}  ${describeDefault(v).padEnd(d)}  ${v.description}${orFile}`;
  });
}

/**
 * Variables set in `env` that are not declared but are one typo away from one that is (its `_FILE`
 * form included; two typos for long names, where a swap of two letters counts two; case aside): `KAFKA_TOPIC_PREFX=prod.` would otherwise
 * leave the default in force without a word, and the service read the unprefixed topics, another
 * group or another database. Only near misses: the environment holds many variables of others.
 * Also `<NAME>_FILE` of a variable that has no file form (noFileForm): it too leaves the default.
 */
export function misspelled(
  decl: Declaration,
  env: NodeJS.ProcessEnv,
): { name: string; meant: string; noFileForm?: true }[] {
  const names = Object.values(decl).flatMap((v) => (v.secret ? [v.env, fileVariable(v)] : [v.env]));
  const known = new Set(names);
  // `<NAME>_FILE` of a variable that is not a secret: images that read secrets from files often
  // take every variable so (MYSQL_DATABASE_FILE, MYSQL_USER_FILE), and this service does not.
  const plain = new Set(Object.values(decl).flatMap((v) => (v.secret ? [] : [v.env])));
  const out: { name: string; meant: string; noFileForm?: true }[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || known.has(name)) continue;
    const upper = name.toUpperCase();
    const base = upper.replace(/_FILE$/, "");
    if (base !== upper && plain.has(base)) {
      out.push({ name, meant: base, noFileForm: true });
      continue;
    }
    const meant = names.find((n) => distance(upper, n) <= (n.length < 12 ? 1 : 2));
    if (meant !== undefined) out.push({ name, meant });
  }
  return out;
}
