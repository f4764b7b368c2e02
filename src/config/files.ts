import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { ConfigError } from "../errors.ts";

// The files configuration variables name (a secret's `<VAR>_FILE`, a TLS key, certificate or CA),
// read once at start, bounded, a pipe waited for; a key or certificate that could never be used is
// refused here, in one line naming the variable, rather than by the server at every connection.

/**
 * The most a file named by a variable may hold: a secret or a PEM bundle of CAs is far smaller.
 * Reading stops there, so a device named by mistake (/dev/zero) can't fill the memory; a pipe
 * (`<(pass show db)`) is read like a file.
 */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** A file a variable names, read once at start; a problem is one line naming the variable and the file. */
export function readConfigFile(variable: string, path: string): string {
  return readConfigBytes(variable, path).toString("utf8");
}

/**
 * Refuses an encrypted PEM key: the service has no passphrase variable, so it could never be used,
 * and parsed, OpenSSL says only "interrupted or cancelled" (its word for the passphrase it could not ask for).
 */
export function refuseEncryptedKey(variable: string, path: string, pem: string): void {
  if (/BEGIN ENCRYPTED|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new ConfigError(`${variable}: ${path} is encrypted; give the key unencrypted.`);
  }
}

/** How far ahead of this machine's clock a client certificate's start may lie: the server's clock may be ahead. */
const CERTIFICATE_START_SKEW_MS = 5 * 60_000;

/**
 * Refuses a client certificate out of its validity: the server would refuse it at every
 * connection, and the file is read only at start, so waiting could never help. A Kafka broker says
 * no more than that it closed the connection; the certificate's own dates say why.
 */
export function refuseOutOfDate(
  variable: string,
  path: string,
  validity: { validFromDate: Date; validToDate: Date },
  now = Date.now(),
): void {
  if (now > validity.validToDate.getTime()) {
    throw new ConfigError(
      `${variable}: the certificate in ${path} expired on ${validity.validToDate.toISOString()}; renew it (servers refuse it)`,
    );
  }
  if (now + CERTIFICATE_START_SKEW_MS < validity.validFromDate.getTime()) {
    throw new ConfigError(
      `${variable}: the certificate in ${path} is valid only from ${validity.validFromDate.toISOString()}; check this machine's clock, or use one valid now (servers refuse it)`,
    );
  }
}

/** readConfigFile's bytes; a pipe may keep it waiting `pipeWaitMs` for its first bytes. */
export function readConfigBytes(variable: string, path: string, pipeWaitMs = PIPE_WAIT_MS): Buffer {
  // The file's content given where its path goes (a PEM key or certificate kept in an environment
  // variable, say): no file is named so, and quoting it as one would print the key.
  if (/[\r\n]|-----BEGIN /.test(path)) {
    const what = path.includes("-----BEGIN ") ? "PEM text" : "a line break";
    throw new ConfigError(
      `${variable}: holds ${what}, not the path of a file (not shown); write the content to a file and set ${variable} to its path`,
    );
  }
  try {
    if (statSync(path).isDirectory()) throw Object.assign(new Error("directory"), { code: "EISDIR" });
    const bytes = readAtMost(variable, path, MAX_CONFIG_FILE_BYTES + 1, pipeWaitMs);
    if (bytes.length > MAX_CONFIG_FILE_BYTES) {
      throw new ConfigError(
        `${variable}: ${path} holds more than the ${MAX_CONFIG_FILE_BYTES} bytes a secret or certificate file may`,
      );
    }
    return bytes;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : code === "EISDIR"
            ? "it is a directory"
            : (code ?? (err as Error).message);
    // No such file: a secret's or key's variable may hold the secret itself (a password set in
    // MYSQL_PASSWORD_FILE, a key as one line of base64). An absolute path is quoted; anything
    // else is not, since quoting it would print the secret.
    const found = code === "EACCES" || code === "EPERM" || code === "EISDIR";
    const named =
      found || !/(?:_FILE|_KEY)$/.test(variable) || (path.startsWith("/") && code !== "ENAMETOOLONG")
        ? path
        : "the file it names (not shown: no absolute path, it may be the secret itself)";
    throw new ConfigError(`${variable}: can't read ${named}: ${why}`);
  }
}

/** How long a pipe may keep its reader waiting for its first bytes: its writer may start after the service. */
export const PIPE_WAIT_MS = 10_000;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * The first `max` bytes of a file, a pipe or a device, or all of it if it ends before. Opened
 * without blocking: a pipe nobody writes to would otherwise hold the start for ever. A pipe with
 * no writer yet reads as empty; it is read again until its first bytes come, then to its end,
 * each wait for more bytes bounded by `pipeWaitMs`.
 */
function readAtMost(variable: string, path: string, max: number, pipeWaitMs: number): Buffer {
  const buffer = Buffer.alloc(max);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const pipe = fstatSync(fd).isFIFO();
    let deadline = Date.now() + pipeWaitMs;
    let length = 0;
    while (length < max) {
      let n = -1; // nothing yet (EAGAIN)
      try {
        n = readSync(fd, buffer, length, max - length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      }
      if (n > 0) {
        length += n;
        deadline = Date.now() + pipeWaitMs;
      } else if (n === 0 && (!pipe || length > 0)) break;
      else if (Date.now() > deadline) {
        throw new ConfigError(
          length === 0
            ? `${variable}: nothing was written to ${path} within ${pipeWaitMs / 1000} s; start what writes it first, or name a file`
            : `${variable}: ${path} was not closed within ${pipeWaitMs / 1000} s of its last bytes; have its writer close it`,
        );
      } else Atomics.wait(PAUSE, 0, 0, 10);
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}
