import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from "../../bin/runtime.js";
import { serviceDeclaration } from "../../src/config/index.ts";
import {
  copySources,
  dependenciesOf,
  dockerignorePatterns,
  environmentOf,
  execForm,
  ignoredByDockerignore,
  parseDockerfile,
  portsOf,
  readRepo,
  repoPath,
  topicCreations,
  unknownVariables,
} from "../support/docker-files.ts";

// Dockerfile and docker-compose.yml, checked without a Docker engine: both are parsed here
// and held against the service's own configuration declaration, topics and files.

// ---------------------------------------------------------------- the helpers can fail

describe("docker checks catch mistakes", () => {
  test("a variable the declaration does not know is reported", () => {
    const env = { MYSQL_HOST: "mysql", MYSQL_PASS: "x", LOG_LEVEL: "info" };
    assert.deepEqual(unknownVariables(env, serviceDeclaration), ["MYSQL_PASS"]);
  });

  test("list-form environment and depends_on are read like the mapping form", () => {
    assert.deepEqual(environmentOf({ environment: ["A=1", "B=x=y", "C"] }), { A: "1", B: "x=y", C: "" });
    assert.deepEqual(dependenciesOf({ depends_on: ["mysql"] }), { mysql: "service_started" });
  });

  test("topic creation lines are read option by option", () => {
    const found = topicCreations(
      "kafka-topics.sh --bootstrap-server k:9092 --create --topic a --partitions 3 && kafka-topics.sh --list",
    );
    assert.deepEqual(found, [{ topic: "a", partitions: 3, ifNotExists: false, bootstrap: "k:9092" }]);
  });

  test("published ports are read in every form", () => {
    assert.deepEqual(portsOf({ ports: ["9464:9464", "127.0.0.1::9464", "9464", "9000-9005:9464/tcp"] }), [
      { hostIp: "", host: "9464", container: "9464" },
      { hostIp: "127.0.0.1", host: "", container: "9464" },
      { hostIp: "", host: "", container: "9464" },
      { hostIp: "", host: "9000-9005", container: "9464" },
    ]);
    assert.deepEqual(portsOf({ ports: [{ target: 9464, published: "9464", host_ip: "127.0.0.1" }] }), [
      { hostIp: "127.0.0.1", host: "9464", container: "9464" },
    ]);
  });

  test("continued Dockerfile lines are one instruction; comments inside them are skipped", () => {
    const ins = parseDockerfile("FROM x\nRUN a \\\n  # note\n  && b\nUSER node\n");
    assert.deepEqual(
      ins.map((i) => [i.instruction, i.args]),
      [
        ["FROM", "x"],
        ["RUN", "a && b"],
        ["USER", "node"],
      ],
    );
  });

  test("COPY sources skip flags and the destination; .dockerignore patterns match", () => {
    assert.deepEqual(copySources({ instruction: "COPY", args: "--chown=node a b/ ./", line: 1 }), ["a", "b/"]);
    assert.deepEqual(copySources({ instruction: "COPY", args: "--from=build /x /y", line: 1 }), []);
    assert.equal(ignoredByDockerignore("src/a.test.ts", ["**/*.test.ts"]), true);
    assert.equal(ignoredByDockerignore("src/", ["node_modules", "test"]), false);
    assert.equal(ignoredByDockerignore("test/x.ts", ["test"]), true);
    assert.equal(ignoredByDockerignore("test/x.ts", ["test", "!test/x.ts"]), false);
  });
});

// ---------------------------------------------------------------- Dockerfile

describe("Dockerfile", () => {
  const instructions = parseDockerfile(readRepo("Dockerfile"));
  const all = (name: string) => instructions.filter((i) => i.instruction === name);
  const last = (name: string) => all(name).at(-1);

  test("runs the service with the launcher's V8 flags and malloc settings, metrics on every interface", () => {
    const env: Record<string, string> = {};
    for (const i of all("ENV")) {
      for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g))
        env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, "");
    }
    const { NODE_ENV: _, METRICS_HOST, ...malloc } = env;
    assert.equal(METRICS_HOST, "0.0.0.0", "inside its own network namespace, the image serves /metrics to the outside");
    // The launcher re-runs itself with the flags when they are missing; on the entrypoint they
    // spare the image that second process. NODE_OPTIONS refuses V8's own flags.
    assert.deepEqual(malloc, SERVICE_ENV);
    const entry = execForm(last("ENTRYPOINT")?.args ?? "");
    assert.deepEqual(entry?.slice(1, -1), SERVICE_NODE_FLAGS);
    assert.equal(entry?.at(-1), "bin/analytics-service.js");
    const start = JSON.parse(readRepo("package.json")).scripts.start as string;
    assert.equal(
      start,
      "exec node bin/analytics-service.js run",
      "npm start goes through the launcher, which adds them; exec: npm signals the service itself, not a shell",
    );
  });

  test("is based on node:24-slim", () => {
    assert.equal(last("FROM")?.args.split(/\s+/)[0], "node:24-slim");
  });

  test("runs as a non-root user", () => {
    const user = last("USER")?.args.split(":")[0];
    assert.ok(user, "no USER instruction: the image would run as root");
    assert.ok(!["root", "0"].includes(user), `USER ${user}`);
  });

  test("its entrypoint runs the package's bin script with node", () => {
    const entry = execForm(last("ENTRYPOINT")?.args ?? "");
    assert.ok(entry, "ENTRYPOINT in exec form");
    const pkg = JSON.parse(readRepo("package.json")) as { bin: Record<string, string> };
    const script = Object.values(pkg.bin)[0];
    assert.ok(script);
    assert.equal(entry?.[0], "node");
    assert.equal(entry?.at(-1), script);
    assert.ok(existsSync(repoPath(script)), `${script} exists`);
    assert.deepEqual(execForm(last("CMD")?.args ?? ""), ["run"]);
    assert.ok(
      all("EXPOSE").some((e) => e.args.split(/\s+/).includes("9464")),
      "exposes the metrics port",
    );
  });

  test("installs production dependencies from the lockfile with npm ci", () => {
    const lockCopy = all("COPY").findIndex((c) => copySources(c).includes("package-lock.json"));
    assert.notEqual(lockCopy, -1, "package-lock.json is copied");
    const copyLine = all("COPY")[lockCopy]?.line ?? Infinity;
    const install = all("RUN").find((r) => /\bnpm ci\b/.test(r.args));
    assert.ok(install, "a RUN uses npm ci");
    assert.ok(install.line > copyLine, "npm ci runs after the lockfile is copied");
    assert.match(install.args, /--omit=dev\b/, "devDependencies (the `node` binary package) stay out");
    assert.doesNotMatch(install.args, /\bnpm (install|i)\b/);
  });

  test("every path it copies exists and is not excluded by .dockerignore", () => {
    const patterns = dockerignorePatterns();
    const sources = [...all("COPY"), ...all("ADD")].flatMap(copySources);
    assert.ok(sources.length > 0);
    for (const src of sources) {
      assert.ok(existsSync(repoPath(src)), `COPY ${src}: no such path in the repository`);
      assert.ok(!ignoredByDockerignore(src, patterns), `COPY ${src}: excluded by .dockerignore`);
    }
    const entry = execForm(last("ENTRYPOINT")?.args ?? "")?.at(-1) ?? "";
    for (const needed of [entry, "src/cli.ts", "src/db/migrations/001_tables.sql"]) {
      assert.ok(!ignoredByDockerignore(needed, patterns), `${needed} is excluded by .dockerignore`);
    }
  });
});
