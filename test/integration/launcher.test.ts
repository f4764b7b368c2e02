import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { MIN_NODE, SERVICE_NODE_FLAGS } from "../../bin/runtime.js";
import { CLI, privatePort, waitFor } from "../support/helpers.ts";

// The package's command (bin/analytics-service.js) on whatever Node starts it: the machine's own
// (Node 20 here) re-runs it on the project's Node 24; a Node that runs TypeScript but lacks the
// service's flags re-runs it with them; with neither, one line says what to install.

const execFileAsync = promisify(execFile);
/**
 * The machine's own Node, as a user typing `node bin/analytics-service.js` gets it: the first on
 * PATH outside node_modules (npm puts the project's Node 24 first while it runs the tests).
 */
const PATH_NODE =
  (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "" && !dir.includes("node_modules"))
    .map((dir) => join(dir, "node"))
    .find((file) => existsSync(file)) ?? process.execPath;

test("--help works on the Node on PATH (whatever its version) as on this one", async () => {
  for (const node of [PATH_NODE, process.execPath]) {
    const { stdout, stderr } = await execFileAsync(node, [CLI, "--help"], { env: { PATH: process.env.PATH ?? "" } });
    assert.match(stdout, /^usage: analytics-service/, node);
    assert.equal(stderr, "", node);
  }
});

test("without the project's Node and on a Node that can't run TypeScript: one line naming what to do", async (t) => {
  const { stdout: version } = await execFileAsync(PATH_NODE, ["--version"]);
  const [major = 0] = version.trim().slice(1).split(".").map(Number);
  if (major >= MIN_NODE[0]) return t.skip(`the Node on PATH (${version.trim()}) runs TypeScript`);
  const dir = mkdtempSync(join(tmpdir(), "launcher-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(new URL("../../bin", import.meta.url), join(dir, "bin"), { recursive: true });
  const run = execFileAsync(PATH_NODE, [join(dir, "bin", "analytics-service.js"), "--help"]);
  await assert.rejects(run, (err: { code?: number; stderr?: string; stdout?: string }) => {
    assert.equal(err.code, 1);
    assert.equal(err.stdout, "");
    const lines = (err.stderr ?? "").trim().split("\n");
    assert.equal(lines.length, 1, err.stderr);
    assert.match(
      lines[0] ?? "",
      /^analytics-service: Node\.js v\d+\.\d+\.\d+ cannot run the TypeScript sources; run `npm ci` in .+ or install Node\.js 24\.6 or newer$/,
    );
    return true;
  });
});

test("the launcher's child runs with the flags and dies with the launcher, even by SIGKILL", async (t) => {
  // `run` against a MySQL port nobody listens on waits for MySQL indefinitely: a long-lived child.
  const port = await privatePort();
  const launcher = spawn(process.execPath, [CLI, "run"], {
    env: {
      PATH: process.env.PATH ?? "",
      MYSQL_HOST: "127.0.0.1",
      MYSQL_PORT: String(port),
      KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1",
      METRICS_PORT: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => launcher.kill("SIGKILL"));
  const childArgs = async () => {
    const { stdout } = await execFileAsync("ps", ["-o", "pid=,args=", "--ppid", String(launcher.pid)]).catch(() => ({
      stdout: "",
    }));
    return stdout.trim();
  };
  const child = await waitFor("the launcher's child", async () => (await childArgs()) || undefined, 15_000);
  for (const flag of SERVICE_NODE_FLAGS) assert.ok(child.includes(flag), `${flag} in: ${child}`);
  const childPid = Number(child.split(/\s+/)[0]);
  launcher.kill("SIGKILL");
  await waitFor("the child gone too", async () => {
    try {
      process.kill(childPid, 0);
      return undefined;
    } catch {
      return true;
    }
  });
});
