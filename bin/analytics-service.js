#!/usr/bin/env node
// The analytics-service command. Node 24 runs the TypeScript sources directly (type stripping);
// there is no build step. This launcher makes sure the sources run on such a Node, with the
// service's runtime flags (bin/runtime.js): when the flags are missing it replaces itself with a
// Node running the command with them; when the Node running it cannot run TypeScript (the
// machine's Node 20, say), it runs the command as a child on the project's own Node 24 (the
// `node` devDependency that `npm ci` installs), and passes signals and the exit status through.
// The child dies with the launcher.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MIN_NODE, SERVICE_ENV, SERVICE_NODE_FLAGS } from "./runtime.js";

const CHILD = "ANALYTICS_SERVICE_LAUNCHED";

/** Whether `version` (v24.6.0) is at least MIN_NODE. @param {string} version */
const recentEnough = (version) => {
  const [major = 0, minor = 0] = version.slice(1).split(".").map(Number);
  const [minMajor, minMinor] = MIN_NODE;
  return major > minMajor || (major === minMajor && minor >= minMinor);
};
const runsTypeScript = recentEnough(process.version) && Boolean(process.features.typescript);
const hasFlags = SERVICE_NODE_FLAGS.every((f) => process.execArgv.includes(f));

if (process.env[CHILD] === "1" || (runsTypeScript && hasFlags)) {
  if (process.env[CHILD] === "1" && process.channel) {
    // The launcher is gone (even by SIGKILL): go too, as abruptly, rather than run on unseen.
    process.channel.unref();
    process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
  }
  await import("../src/cli.ts");
} else {
  const projectNode = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  const node = runsTypeScript ? process.execPath : existsSync(projectNode) ? projectNode : null;
  if (node === null) {
    process.stderr.write(
      `analytics-service: Node.js ${process.version} cannot run the TypeScript sources; run \`npm ci\` in ${fileURLToPath(new URL("..", import.meta.url))} (it installs the project's Node 24) or install Node.js ${MIN_NODE.join(".")} or newer\n`,
    );
    process.exit(1);
  }
  const args = [...SERVICE_NODE_FLAGS, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  const env = { ...SERVICE_ENV, ...process.env, [CHILD]: "1" };
  // A Node that can replace its own process (24 can) becomes the service: one process, so a
  // signal sent to the process group (Ctrl-C, `timeout`, systemd) arrives once, not twice.
  if (runsTypeScript && typeof process.execve === "function") process.execve(node, [node, ...args], env);
  // Otherwise (started from Node 20) the service runs as a child in a process group of its own,
  // so such a signal reaches it once, forwarded by the launcher; it dies with the launcher.
  const child = spawn(node, args, { stdio: ["inherit", "inherit", "inherit", "ipc"], env, detached: true });
  for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("exit", (code, signal) => {
    if (signal) {
      // Die of the same signal, so whoever started the launcher sees what happened.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}
