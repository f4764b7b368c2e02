import { createPrivateKey, X509Certificate } from "node:crypto";
import { isIP, connect as netConnect, type Socket } from "node:net";
import { createSecureContext } from "node:tls";
import mysql from "mysql2/promise";
import { readConfigFile, refuseEncryptedKey, refuseOutOfDate } from "../config/files.ts";
import type { Config } from "../config/index.ts";
import { type AppError, afterOutcome, ConfigError, DatabaseUnavailableError } from "../errors.ts";
import { errnoOf } from "./server-errors.ts";

// MYSQL_SSL_MODE as MySQL's own clients define it, on top of mysql2, which knows only "TLS with
// these options" or "no TLS": disabled never uses TLS; preferred uses it when the server offers
// it (not verified); required insists on it (not verified); verify-ca also checks the server's
// certificate against MYSQL_SSL_CA or the system's CAs; verify-identity also checks the host name.

export type SslMode = Config["mysqlSslMode"];
export type TlsConfig = Partial<Pick<Config, "mysqlSslMode" | "mysqlSslCa" | "mysqlSslCert" | "mysqlSslKey">> &
  Pick<Config, "mysqlHost" | "mysqlPort">;

export interface TlsPlan {
  mode: SslMode;
  /** What mysql2 is given (undefined: plaintext); preferred falls back from it to plaintext. */
  ssl: mysql.SslOptions | undefined;
  /** mysql2's `stream` option: set only where the socket must name the host to check (below). */
  stream?: () => Socket;
}

/** mysql2's code for "the server's greeting offers no TLS": the one failure preferred falls back on. */
const NO_TLS = "HANDSHAKE_NO_SSL_SUPPORT";
/** MySQL 8.0's refusal of plaintext under require_secure_transport; also what a MariaDB refusal becomes once explained. */
const TLS_REQUIRED = "ER_SECURE_TRANSPORT_REQUIRED";
const ACCESS_DENIED = 1045;

/** afterFailure's answer for "try again without TLS". */
export const PLAINTEXT = Symbol("plaintext");

const plans = new WeakMap<object, TlsPlan>();

/**
 * The TLS options for a configuration, its PEM files read once (the first call for that
 * configuration): a file that is missing or holds no usable PEM is one line naming its variable.
 */
export function tlsPlan(config: TlsConfig): TlsPlan {
  let plan = plans.get(config);
  if (plan === undefined) {
    plan = makePlan(config);
    plans.set(config, plan);
  }
  return plan;
}

function makePlan(config: TlsConfig): TlsPlan {
  // Connection settings built by hand (tests, the benchmark) predate TLS: they get the default.
  const mode = config.mysqlSslMode ?? "preferred";
  if (mode === "disabled") return { mode, ssl: undefined };
  const verify = mode === "verify-ca" || mode === "verify-identity";
  const ssl: mysql.SslOptions = { rejectUnauthorized: verify, verifyIdentity: mode === "verify-identity" };
  if (config.mysqlSslCa) ssl.ca = readPem("MYSQL_SSL_CA", config.mysqlSslCa, certificates);
  if (config.mysqlSslCert && config.mysqlSslKey) {
    const cert = readPem("MYSQL_SSL_CERT", config.mysqlSslCert, certificates);
    // The first certificate of the file is the client's own; the rest, if any, its chain.
    refuseOutOfDate("MYSQL_SSL_CERT", config.mysqlSslCert, new X509Certificate(cert));
    const key = readPem("MYSQL_SSL_KEY", config.mysqlSslKey, (pem) => createPrivateKey(pem));
    try {
      createSecureContext({ cert, key });
    } catch {
      throw new ConfigError(
        `MYSQL_SSL_KEY: ${config.mysqlSslKey} is not the private key of the certificate in MYSQL_SSL_CERT (${config.mysqlSslCert})`,
      );
    }
    Object.assign(ssl, { cert, key });
  }
  // mysql2 sends no server name for an IP address, and Node then checks the certificate against
  // the socket's host, which net records only for a name it resolved: for an IP address Node
  // checked "localhost", so a certificate for localhost passed and one for the address failed.
  if (mode === "verify-identity" && isIP(config.mysqlHost) !== 0) {
    return { mode, ssl, stream: socketFor(config.mysqlHost, config.mysqlPort) };
  }
  return { mode, ssl };
}

/** A socket to `host`:`port` set up as mysql2 sets up its own, whose certificate check names `host`. */
function socketFor(host: string, port: number): () => Socket {
  return () => {
    const socket = netConnect(port, host);
    (socket as unknown as { _host: string })._host = host;
    socket.setNoDelay(true);
    socket.once("connect", () => socket.setKeepAlive(true));
    return socket;
  };
}

/** A PEM file, parsed once here so that a bad one fails at start and not inside a handshake. */
function readPem(variable: string, path: string, parse: (pem: string) => unknown): string {
  const pem = readConfigFile(variable, path);
  refuseEncryptedKey(variable, path, pem);
  try {
    parse(pem);
  } catch (err) {
    const why = (err as { reason?: string }).reason ?? firstLine(err);
    const what = variable === "MYSQL_SSL_KEY" ? "private key" : "certificate";
    throw new ConfigError(`${variable}: ${path} holds no usable PEM ${what}: ${why}`);
  }
  return pem;
}

/** Checks every certificate of a PEM file (a CA file may hold several); Node's TLS would skip what it can't parse. */
function certificates(pem: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks === null) throw new Error("no -----BEGIN CERTIFICATE----- block");
  for (const block of blocks) new X509Certificate(block);
}

/**
 * What a failed connection attempt turns into under `plan`: PLAINTEXT when preferred should
 * try again without TLS (the server said it has none; a certificate or handshake error never
 * falls back), a clearer error when disabled was refused but TLS would have been let in
 * (MariaDB answers require_secure_transport with a plain "access denied"), else `err`.
 */
export async function afterFailure(err: unknown, plan: TlsPlan, options: mysql.ConnectionOptions): Promise<unknown> {
  if (plan.mode === "preferred" && code(err) === NO_TLS) return PLAINTEXT;
  if (plan.mode === "disabled" && errnoOf(err) === ACCESS_DENIED) {
    if (await acceptedOverTls(options)) {
      return Object.assign(new Error("the account is refused without TLS but accepted with it"), {
        code: TLS_REQUIRED,
        cause: err,
      });
    }
  }
  return err;
}

/** Whether the same account logs in over (unverified) TLS: it then gets nothing it did not get in plaintext. */
async function acceptedOverTls(options: mysql.ConnectionOptions): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({ ...options, ssl: { rejectUnauthorized: false } });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/** One connection under `plan`'s mode. */
export async function connectWithTls(options: mysql.ConnectionOptions, plan: TlsPlan): Promise<mysql.Connection> {
  try {
    return await mysql.createConnection({ ...options, ssl: plan.ssl, stream: plan.stream });
  } catch (err) {
    const next = await afterFailure(err, plan, options);
    if (next === PLAINTEXT) return mysql.createConnection({ ...options, ssl: undefined });
    throw next;
  }
}

/** The callback pool under mysql2's promise pool: every new connection is made by its getConnection. */
interface CorePool {
  config: { connectionConfig: { ssl: unknown } };
  getConnection(cb: (err: Error | null, conn?: unknown) => void): void;
}

type Probe = (options: mysql.ConnectionOptions) => Promise<{ end(): Promise<void> }>;

/**
 * Makes `pool` follow `plan` where mysql2 alone can't. preferred: before the pool's first
 * connection, one connection of its own tries TLS; if the server says it has none, the pool
 * connects in plaintext, otherwise over TLS. After a failed connection it finds out again (the
 * server may have changed). disabled: a refusal is checked as afterFailure says. mysql2 copies
 * `connectionConfig` into each new connection, so changing its `ssl` changes the connections made
 * from then on. (Deciding per pool, not per connection, because a pool connection that failed
 * its handshake already holds a place in the pool when its callback runs.)
 */
export function followTlsPlan(
  pool: mysql.Pool,
  plan: TlsPlan,
  options: mysql.ConnectionOptions,
  probe: Probe = (o) => mysql.createConnection(o),
): void {
  if (plan.mode !== "preferred" && plan.mode !== "disabled") return;
  const core = (pool as unknown as { pool: CorePool }).pool;
  const shared = core.config.connectionConfig;
  const get = core.getConnection.bind(core);
  let decided: Promise<void> | null = null;
  const decide = (): Promise<void> => {
    decided ??= probe({ ...options, ssl: plan.ssl }).then(
      (conn) => {
        shared.ssl = plan.ssl;
        void afterOutcome("closing the TLS probe's connection", conn.end());
      },
      (err: unknown) => {
        if (code(err) === NO_TLS) {
          shared.ssl = false;
          return;
        }
        decided = null;
        throw err;
      },
    );
    return decided;
  };
  core.getConnection = (cb) => {
    const ready = plan.mode === "preferred" ? decide() : Promise.resolve();
    ready.then(
      () =>
        get((err, conn) => {
          if (!err) return cb(null, conn);
          decided = null;
          if (plan.mode === "preferred") return cb(err);
          void afterFailure(err, plan, options).then((next) => cb(next as Error));
        }),
      (err: Error) => cb(err),
    );
  };
}

/** One line naming TLS for a connection that failed on it, or null when TLS is not the cause. */
export function explainTlsError(err: unknown, config: TlsConfig): AppError | null {
  const e = err as { code?: string; reason?: string };
  const where = `${config.mysqlHost}:${config.mysqlPort}`;
  const mode = config.mysqlSslMode ?? "preferred";
  const reason = e.reason ?? firstLine(err);
  if (e.code === NO_TLS) {
    return new ConfigError(
      `MySQL: TLS: the server at ${where} does not offer TLS, which MYSQL_SSL_MODE=${mode} requires; enable it on the server (ssl_cert, ssl_key)`,
    );
  }
  if (e.code === TLS_REQUIRED) {
    return new ConfigError(
      `MySQL: TLS: the server at ${where} requires TLS, and MYSQL_SSL_MODE=${mode} connects without it; set MYSQL_SSL_MODE=verify-identity (or verify-ca, required)`,
    );
  }
  // The server's alert about the certificate this client sent (or did not send).
  if (
    /alert (unknown ca|bad certificate|unsupported certificate|certificate (required|unknown|expired|revoked))/i.test(
      reason,
    )
  ) {
    return new ConfigError(
      config.mysqlSslCert
        ? `MySQL: TLS: the server at ${where} rejected the client certificate in MYSQL_SSL_CERT (${config.mysqlSslCert}): ${reason}; use a valid one signed by a CA the server trusts (its ssl_ca)`
        : `MySQL: TLS: the server at ${where} requires a client certificate (${reason}); set MYSQL_SSL_CERT and MYSQL_SSL_KEY`,
    );
  }
  if (e.code !== "HANDSHAKE_SSL_ERROR") return null;
  // mysql2 replaces Node's code with its own, so the verification failure is told by its text:
  // the message's (Node's `reason` is only the part after "altnames: ", naming the host).
  if (/does not match certificate's altnames/i.test(firstLine(err))) {
    return new ConfigError(
      `MySQL: TLS: the certificate of the server at ${where} is not issued for ${config.mysqlHost}, which MYSQL_SSL_MODE=verify-identity checks: ${reason}; set MYSQL_HOST to a name the certificate lists`,
    );
  }
  if (/certificate|self-signed|issuer/i.test(reason)) {
    const against = config.mysqlSslCa
      ? `MYSQL_SSL_CA (${config.mysqlSslCa})`
      : "the system's CAs (MYSQL_SSL_CA is unset)";
    const fix = /expired|not yet valid/i.test(reason)
      ? "renew the server's certificate"
      : "set MYSQL_SSL_CA to the CA that signed it";
    return new ConfigError(
      `MySQL: TLS: the certificate of the server at ${where} can't be verified against ${against}: ${reason}; ${fix}`,
    );
  }
  // A connection cut during the handshake, say: waiting may help.
  return new DatabaseUnavailableError(`MySQL: TLS handshake with ${where} failed: ${reason}`, err);
}

const code = (err: unknown) => (err as { code?: string } | null)?.code;
const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split("\n")[0] ?? "";
