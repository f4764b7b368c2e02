import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { StackError } from "../../src/errors.ts";
import { lastLines, ownedPid, removeFile, spawnDetached, stopPid, waitUntil } from "./process.ts";

// A private MariaDB (or MySQL) server with its own datadir and port: the stack uses it when the
// machine has no server of its own, and failure tests use it because they may stop it.

export interface PrivateServer {
  dir: string;
  port: number;
  /** innodb_buffer_pool_size in MiB (default 256). */
  bufferPoolMb?: number;
  /** Serve TLS with these PEM files (the TLS tests); without it the server offers none. */
  tls?: ServerTls;
}

export interface ServerTls {
  /** CA whose client certificates the server accepts (and verifies, when a client sends one). */
  ca: string;
  cert: string;
  key: string;
  /** require_secure_transport=ON: plaintext TCP connections are refused. */
  require?: boolean;
}

const files = (s: PrivateServer) => ({
  data: join(s.dir, "data"),
  log: join(s.dir, "server.log"),
  pid: join(s.dir, "server.pid"),
  socket: join(s.dir, "server.sock"),
  // Its own temporary directory: two servers initialised at once in the shared /tmp once failed
  // on each other's temporary tables.
  tmp: join(s.dir, "tmp"),
});

function findBinary(names: string[]): string | null {
  for (const name of names) {
    for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]) {
      if (existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return null;
}

export function privateServerPid(s: PrivateServer): number | null {
  return ownedPid(files(s).pid, files(s).data);
}

/** Root with an empty password can log in over TCP (over unverified TLS with `tls`: the server may refuse plaintext). */
export async function serverAnswers(port: number, tls = false): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({
      host: "127.0.0.1",
      port,
      user: "root",
      connectTimeout: 1000,
      ssl: tls ? { rejectUnauthorized: false } : undefined,
    });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/** Starts the server (initialising its datadir on first use) and waits until root can log in. */
export async function startPrivateServer(s: PrivateServer): Promise<number> {
  const running = privateServerPid(s);
  if (running !== null) return running;
  const f = files(s);
  const server = findBinary(["mariadbd", "mysqld"]);
  if (server === null) {
    throw new StackError(
      "no MySQL-compatible server is listening and none is installed: install mariadb-server (apt-get install mariadb-server) or set MYSQL_HOST",
    );
  }
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  mkdirSync(f.tmp, { recursive: true });
  if (!existsSync(join(f.data, "mysql"))) {
    const installer = findBinary(["mariadb-install-db", "mysql_install_db"]);
    if (installer === null) throw new StackError("mariadb-install-db is missing: install mariadb-server");
    const r = spawnSync(
      installer,
      ["--no-defaults", `--datadir=${f.data}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...asRoot],
      { encoding: "utf8", env: { ...process.env, TMPDIR: f.tmp } },
    );
    if (r.status !== 0) throw new StackError(`initialising ${f.data} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  const pid = spawnDetached(
    server,
    [
      "--no-defaults",
      `--datadir=${f.data}`,
      `--port=${s.port}`,
      "--bind-address=127.0.0.1",
      `--socket=${f.socket}`,
      `--tmpdir=${f.tmp}`,
      `--pid-file=${join(s.dir, "mariadbd.pid")}`,
      "--skip-name-resolve",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_unicode_ci",
      `--innodb-buffer-pool-size=${s.bufferPoolMb ?? 256}M`,
      `--log-error=${f.log}`,
      ...tlsOptions(s.tls),
      ...asRoot,
    ],
    f.log,
    f.pid,
  );
  try {
    await waitUntil(() => serverAnswers(s.port, s.tls !== undefined), {
      timeoutMs: 60000,
      what: `MariaDB on 127.0.0.1:${s.port}`,
      alive: () => privateServerPid(s) !== null,
    });
  } catch (err) {
    throw new StackError(`${(err as Error).message}; last lines of ${f.log}:\n${lastLines(f.log)}`);
  }
  return pid;
}

/** The server's TLS options (the same names on MariaDB 10.11 and MySQL 8.0). */
function tlsOptions(tls: ServerTls | undefined): string[] {
  if (tls === undefined) return [];
  return [
    `--ssl-ca=${tls.ca}`,
    `--ssl-cert=${tls.cert}`,
    `--ssl-key=${tls.key}`,
    ...(tls.require ? ["--require-secure-transport=ON"] : []),
  ];
}

/** Stops the server; `kill: true` simulates a crash (SIGKILL). */
export async function stopPrivateServer(s: PrivateServer, opts: { kill?: boolean } = {}): Promise<boolean> {
  const pid = privateServerPid(s);
  if (pid === null) return false;
  if (opts.kill) process.kill(pid, "SIGKILL");
  await stopPid(pid, 60000);
  removeFile(files(s).pid);
  return true;
}
