import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { type TestContext, test } from "node:test";
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

/** `run` against a MySQL port nobody listens on waits for MySQL indefinitely: a long-lived service. */
function waitingService(t: TestContext, node: string) {
  return waiting(t, node, [CLI, "run"]);
}

/** `command` (the service's `run`, however started) waiting for MySQL on a port nobody listens on. */
async function waiting(t: TestContext, command: string, args: string[], cwd?: string) {
  const port = await privatePort();
  // A process group of its own, as a terminal, `timeout` or systemd would signal it.
  const launcher = spawn(command, args, {
    cwd,
    env: {
      PATH: process.env.PATH ?? "",
      MYSQL_HOST: "127.0.0.1",
      MYSQL_PORT: String(port),
      KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:1",
      METRICS_PORT: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  const collect = (b: Buffer) => {
    log += b;
  };
  launcher.stdout.on("data", collect);
  launcher.stderr.on("data", collect);
  const exited = new Promise<number | null>((resolve) => launcher.on("exit", (code) => resolve(code)));
  t.after(() => {
    try {
      process.kill(-(launcher.pid as number), "SIGKILL");
    } catch (err) {
      // Gone already, as it should be.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  });
  await waitFor("waiting for MySQL", async () => log.includes("MySQL"), 15_000);
  return { launcher, exited, log: () => log };
}

const childrenOf = async (pid: number) => {
  const { stdout } = await execFileAsync("ps", ["-o", "pid=,args=", "--ppid", String(pid)]).catch(() => ({
    stdout: "",
  }));
  return stdout.trim();
};
const argsOf = async (pid: number) => (await execFileAsync("ps", ["-o", "args=", "-p", String(pid)])).stdout;

test("on Node 24 without the flags the launcher becomes the service with them: one process, so a signal to its group stops it once, gracefully", async (t) => {
  const s = await waitingService(t, process.execPath);
  t.after(() => s.launcher.kill("SIGKILL"));
  const pid = s.launcher.pid as number;
  const args = await argsOf(pid);
  for (const flag of SERVICE_NODE_FLAGS) assert.ok(args.includes(flag), `${flag} in: ${args}`);
  assert.equal(await childrenOf(pid), "", "no child process");
  process.kill(-pid, "SIGTERM");
  assert.equal(await s.exited, 0, s.log());
  assert.match(s.log(), /SIGTERM: finishing the batches/);
  assert.doesNotMatch(s.log(), /again/);
});

test("from a Node that can't run TypeScript, the service is a child in its own group: a signal to the launcher's group reaches it once; it dies with the launcher, even by SIGKILL", async (t) => {
  const { stdout: version } = await execFileAsync(PATH_NODE, ["--version"]);
  const [major = 0] = version.trim().slice(1).split(".").map(Number);
  if (major >= MIN_NODE[0]) return t.skip(`the Node on PATH (${version.trim()}) runs TypeScript`);
  const graceful = await waitingService(t, PATH_NODE);
  t.after(() => graceful.launcher.kill("SIGKILL"));
  const child = await waitFor(
    "the launcher's child",
    async () => (await childrenOf(graceful.launcher.pid as number)) || undefined,
  );
  for (const flag of SERVICE_NODE_FLAGS) assert.ok(child.includes(flag), `${flag} in: ${child}`);
  process.kill(-(graceful.launcher.pid as number), "SIGTERM");
  assert.equal(await graceful.exited, 0, graceful.log());
  assert.doesNotMatch(graceful.log(), /again/);

  const killed = await waitingService(t, PATH_NODE);
  t.after(() => killed.launcher.kill("SIGKILL"));
  const childPid = Number(
    (
      await waitFor("the launcher's child", async () => (await childrenOf(killed.launcher.pid as number)) || undefined)
    ).split(/\s+/)[0],
  );
  killed.launcher.kill("SIGKILL");
  await waitFor("the child gone too", async () => {
    try {
      process.kill(childPid, 0);
      return undefined;
    } catch {
      return true;
    }
  });
});

/** The pids below `pid`, children first, then theirs. */
async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const line of (await childrenOf(pid)).split("\n")) {
    const child = Number(line.trim().split(/\s+/)[0]);
    if (child > 0) out.push(child, ...(await descendants(child)));
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
};

test("npm start signalled alone (SIGTERM to npm's pid, as a supervisor sends it) stops the service gracefully, leaving nothing running", async (t) => {
  const { launcher: npm, exited, log } = await waiting(t, "npm", ["start"], new URL("../..", import.meta.url).pathname);
  const below = await descendants(npm.pid as number);
  assert.ok(below.length > 0, "npm runs the service");
  npm.kill("SIGTERM");
  await exited;
  // Through `sh -c`, which passes no signal on, the service was left running, orphaned: still
  // consuming, still a member of the group (so `rewind` was refused), never stopped.
  await waitFor("npm's processes gone", async () => below.every((pid) => !alive(pid)) || undefined, 15_000);
  assert.match(log(), /SIGTERM: finishing the batches/);
});
