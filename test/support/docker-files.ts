import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DockerfileParser } from "dockerfile-ast";
import { parse } from "yaml";
import type { Declaration } from "../../src/config/declare.ts";

// Reading the image and compose files as Docker would, for test/integration/docker.test.ts and
// compose.test.ts: no Docker engine runs here, so they are checked by parsing.

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const repoPath = (p: string) => `${ROOT}${p.replace(/^\.?\/+/, "")}`;
export const readRepo = (p: string) => readFileSync(repoPath(p), "utf8");

// ---------------------------------------------------------------- compose helpers

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function obj(v: unknown, what: string): Obj {
  assert.ok(isObj(v), `${what} must be a mapping`);
  return v;
}

/** A service's `environment`, in either compose form (mapping or `KEY=value` list), as strings. */
export function environmentOf(service: Obj): Record<string, string> {
  const env = service.environment;
  const out: Record<string, string> = {};
  if (env === undefined || env === null) return out;
  if (Array.isArray(env)) {
    for (const item of env) {
      const text = String(item);
      const eq = text.indexOf("=");
      if (eq === -1) out[text] = "";
      else out[text.slice(0, eq)] = text.slice(eq + 1);
    }
    return out;
  }
  for (const [k, v] of Object.entries(obj(env, "environment"))) out[k] = v === null ? "" : String(v);
  return out;
}

/** Every variable name the service reads, from the declaration entries' `.env`. */
export function declaredVariables(decl: Declaration): Set<string> {
  return new Set(Object.values(decl).map((v) => v.env));
}

/** Names in `env` the declaration does not know (a typo or a variable the service ignores). */
export function unknownVariables(env: Record<string, string>, decl: Declaration): string[] {
  const known = declaredVariables(decl);
  return Object.keys(env).filter((k) => !known.has(k));
}

/** `depends_on` in either compose form, as service → condition. */
export function dependenciesOf(service: Obj): Record<string, string> {
  const deps = service.depends_on;
  if (deps === undefined) return {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [String(d), "service_started"]));
  return Object.fromEntries(
    Object.entries(obj(deps, "depends_on")).map(([name, d]) => [
      name,
      isObj(d) && typeof d.condition === "string" ? d.condition : "service_started",
    ]),
  );
}

/** The shell text a service runs: its entrypoint and command, whichever form they take. */
export function commandText(service: Obj): string {
  const part = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  return [...part(service.entrypoint), ...part(service.command)].join("\n");
}

export interface TopicCreation {
  topic: string;
  partitions: number | undefined;
  ifNotExists: boolean;
  bootstrap: string | undefined;
}

/** Each `kafka-topics.sh ... --create` line of a script, with its options. */
export function topicCreations(script: string): TopicCreation[] {
  const out: TopicCreation[] = [];
  for (const line of script.split(/\n|&&|;/)) {
    const words = line
      .trim()
      .split(/\s+/)
      .map((w) => w.replace(/^["']|["']$/g, ""));
    if (!words.some((w) => w.endsWith("kafka-topics.sh")) || !words.includes("--create")) continue;
    const option = (name: string) => {
      const i = words.indexOf(name);
      return i === -1 ? undefined : words[i + 1];
    };
    const topic = option("--topic");
    assert.ok(topic, `kafka-topics.sh --create without --topic: ${line.trim()}`);
    const partitions = option("--partitions");
    out.push({
      topic,
      partitions: partitions === undefined ? undefined : Number(partitions),
      ifNotExists: words.includes("--if-not-exists"),
      bootstrap: option("--bootstrap-server"),
    });
  }
  return out;
}

export function loadCompose(): { services: Record<string, Obj>; raw: Obj } {
  const raw = obj(parse(readRepo("docker-compose.yml")), "docker-compose.yml");
  const services = obj(raw.services, "services");
  return {
    raw,
    services: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, obj(v, `service ${k}`)])),
  };
}

export interface PublishedPort {
  hostIp: string;
  /** The host port or range; empty when Docker picks an ephemeral one. */
  host: string;
  container: string;
}

/** A service's `ports`, short (`[ip:][host:]container[/proto]`) or long form. */
export function portsOf(service: Obj): PublishedPort[] {
  const ports = (service.ports as unknown[] | undefined) ?? [];
  return ports.map((p) => {
    if (isObj(p)) {
      return { hostIp: String(p.host_ip ?? ""), host: String(p.published ?? ""), container: String(p.target) };
    }
    const parts = String(p)
      .replace(/\/\w+$/, "")
      .split(":");
    const container = parts.pop() ?? "";
    const host = parts.pop() ?? "";
    return { hostIp: parts.join(":"), host, container };
  });
}

// ---------------------------------------------------------------- Dockerfile helpers

export interface Instruction {
  instruction: string;
  args: string;
  line: number;
}

/** Dockerfile instructions as Docker reads them (dockerfile-ast: continuations joined, comments inside them skipped). */
export function parseDockerfile(text: string): Instruction[] {
  return DockerfileParser.parse(text)
    .getInstructions()
    .map((i) => ({
      instruction: i.getKeyword().toUpperCase(),
      args: i
        .getArguments()
        .map((a) => a.getValue())
        .join(" "),
      line: i.getRange().start.line + 1,
    }));
}

/** Arguments of an exec-form instruction (`["a", "b"]`), or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  const parsed: unknown = JSON.parse(args);
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === "string"), `bad exec form: ${args}`);
  return parsed;
}

/** Source paths of a COPY/ADD from the build context (none for `--from=` copies). */
export function copySources(ins: Instruction): string[] {
  const exec = execForm(ins.args);
  const words = exec ?? ins.args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith("--"));
  if (flags.some((f) => f.startsWith("--from="))) return [];
  const paths = words.filter((w) => !w.startsWith("--"));
  assert.ok(paths.length >= 2, `line ${ins.line}: ${ins.instruction} needs a source and a destination`);
  return paths.slice(0, -1);
}

/** Whether .dockerignore patterns leave `path` out of the build context (last match wins). */
export function ignoredByDockerignore(path: string, patterns: readonly string[]): boolean {
  const clean = (p: string) => p.replace(/^\.?\/+/, "").replace(/\/+$/, "");
  const target = clean(path);
  const toRegex = (pattern: string) =>
    new RegExp(
      `^${clean(pattern)
        .replace(/[.+^${}()|[\]]/g, "\\$&")
        .replace(/\*\*\/?/g, "\u0000")
        .replace(/\*/g, "[^/]*")
        .replace(/\?/g, "[^/]")
        .replaceAll("\u0000", "(?:.*/)?")}(?:/.*)?$`,
    );
  let ignored = false;
  for (const p of patterns) {
    const negated = p.startsWith("!");
    if (toRegex(negated ? p.slice(1) : p).test(target)) ignored = !negated;
  }
  return ignored;
}

export function dockerignorePatterns(): string[] {
  if (!existsSync(repoPath(".dockerignore"))) return [];
  return readRepo(".dockerignore")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}
