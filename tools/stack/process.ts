import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { StackError } from "../../src/errors.ts";

// Helpers for the background servers the stack owns: each is recorded by a pid file so
// `stack:down` stops only what `stack:up` started.

export function readPid(pidFile: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid recorded in `pidFile`, if that process is alive and its command line contains `marker`. */
export function ownedPid(pidFile: string, marker: string): number | null {
  const pid = readPid(pidFile);
  if (pid === null || !isAlive(pid)) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    return cmdline.includes(marker) ? pid : null;
  } catch {
    return null;
  }
}

/** Starts `command` detached from this process, output appended to `logFile`; returns its pid. */
export function spawnDetached(command: string, args: string[], logFile: string, pidFile: string): number {
  const out = openSync(logFile, "a");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", out, out] });
  if (child.pid === undefined) throw new StackError(`could not start ${command}: see ${logFile}`);
  child.unref();
  writeFileSync(pidFile, `${child.pid}\n`);
  return child.pid;
}

/** Sends SIGTERM and waits for the process to go, escalating to SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = 20000): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, "SIGKILL");
      await delay(200);
      return;
    }
    await delay(100);
  }
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

/** Whether something accepts TCP connections on host:port. */
export function isPortOpen(port: number, host = "127.0.0.1", timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Polls `probe` until it returns true; fails with `what` once `timeoutMs` passes or `alive()` turns false. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; what: string; alive?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (opts.alive && !opts.alive()) throw new StackError(`${opts.what}: the process exited`);
    if (Date.now() > deadline) throw new StackError(`${opts.what}: not ready after ${opts.timeoutMs / 1000} s`);
    await delay(250);
  }
}

/** Fails with one clear line when `command` is not installed. */
export function requireCommand(command: string, versionArg: string, hint: string): void {
  const r = spawnSync(command, [versionArg], { stdio: "ignore" });
  if (r.error) throw new StackError(`${command} is not installed or not on PATH: ${hint}`);
}

/** The last `n` lines of a log, stack frames left out: a Java trace's tail names no cause. */
export function lastLines(file: string, n = 5): string {
  if (!existsSync(file)) return "";
  const lines = readFileSync(file, "utf8").trimEnd().split("\n");
  return lines
    .filter((line) => !/^\s+at |^\s*\.\.\. \d+ more$/.test(line))
    .slice(-n)
    .join("\n");
}
