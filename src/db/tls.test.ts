import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { checkServerIdentity } from "node:tls";
import type mysql from "mysql2/promise";
import { ConfigError, DatabaseUnavailableError } from "../errors.ts";
import { afterFailure, explainTlsError, followTlsPlan, PLAINTEXT, type TlsConfig, tlsPlan } from "./tls.ts";

// MYSQL_SSL_MODE without a server: the options each mode gives mysql2, preferred's fallback,
// and the one line each TLS failure becomes. The real handshakes are in
// test/integration/mysql-tls.test.ts.

const at = { mysqlHost: "db.internal", mysqlPort: 3306 };
const cfg = (extra: Partial<TlsConfig>): TlsConfig => ({ ...at, ...extra });
const failure = (code: string, message: string, extra: object = {}) =>
  Object.assign(new Error(message), { code, fatal: true }, extra);
const NO_TLS = () => failure("HANDSHAKE_NO_SSL_SUPPORT", "Server does not support secure connection");
const CERT = () => failure("HANDSHAKE_SSL_ERROR", "self-signed certificate in certificate chain");

describe("tlsPlan", () => {
  test("each mode's options for mysql2", () => {
    const ssl = (mode?: TlsConfig["mysqlSslMode"]) => tlsPlan(cfg({ mysqlSslMode: mode })).ssl;
    assert.equal(ssl("disabled"), undefined);
    const unverified = { rejectUnauthorized: false, verifyIdentity: false };
    assert.deepEqual(ssl("preferred"), unverified);
    assert.deepEqual(ssl(undefined), unverified, "settings made by hand get the default, preferred");
    assert.deepEqual(ssl("required"), unverified);
    assert.deepEqual(ssl("verify-ca"), { rejectUnauthorized: true, verifyIdentity: false });
    assert.deepEqual(ssl("verify-identity"), { rejectUnauthorized: true, verifyIdentity: true });
  });

  test("is made once per configuration", () => {
    const c = cfg({ mysqlSslMode: "verify-ca" });
    assert.equal(tlsPlan(c), tlsPlan(c));
  });

  test("a missing file or one without PEM is one line naming the variable", () => {
    const dir = mkdtempSync(join(tmpdir(), "tls-test-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const junk = join(dir, "junk.pem");
    writeFileSync(junk, "not a certificate\n");
    const refused = (c: Partial<TlsConfig>, message: string) =>
      assert.throws(
        () => tlsPlan(cfg(c)),
        (err: unknown) => err instanceof ConfigError && err.message === message,
      );
    refused(
      { mysqlSslMode: "verify-ca", mysqlSslCa: join(dir, "none.pem") },
      `MYSQL_SSL_CA: can't read ${join(dir, "none.pem")}: no such file`,
    );
    refused(
      { mysqlSslMode: "verify-ca", mysqlSslCa: junk },
      `MYSQL_SSL_CA: ${junk} holds no usable PEM certificate: no -----BEGIN CERTIFICATE----- block`,
    );
    refused(
      { mysqlSslMode: "required", mysqlSslCert: junk, mysqlSslKey: junk },
      `MYSQL_SSL_CERT: ${junk} holds no usable PEM certificate: no -----BEGIN CERTIFICATE----- block`,
    );
    assert.equal(tlsPlan(cfg({ mysqlSslMode: "disabled", mysqlSslCa: junk })).ssl, undefined, "disabled reads none");
  });
});

describe("afterFailure", () => {
  const options = { host: "127.0.0.1", port: 1 };
  test("preferred falls back to plaintext only when the server offers no TLS", async () => {
    const preferred = tlsPlan(cfg({ mysqlSslMode: "preferred" }));
    assert.equal(await afterFailure(NO_TLS(), preferred, options), PLAINTEXT);
    const cert = CERT();
    assert.equal(await afterFailure(cert, preferred, options), cert, "never on a certificate error");
    const alert = failure("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "alert", { reason: "tlsv1 alert unknown ca" });
    assert.equal(await afterFailure(alert, preferred, options), alert, "never on a rejected client certificate");
  });

  test("required and the verify modes never fall back", async () => {
    for (const mode of ["required", "verify-ca", "verify-identity"] as const) {
      const err = NO_TLS();
      assert.equal(await afterFailure(err, tlsPlan(cfg({ mysqlSslMode: mode })), options), err, mode);
    }
  });
});

describe("followTlsPlan (preferred) on a pool's connections", () => {
  /** A pool whose new connections fail with the queued errors, recording the ssl each was made with. */
  function fakePool(errors: (Error | null)[]) {
    const shared: { ssl: unknown } = { ssl: undefined };
    const made: unknown[] = [];
    const core = {
      config: { connectionConfig: shared },
      getConnection(cb: (err: Error | null, conn?: unknown) => void) {
        made.push(shared.ssl);
        const err = errors.shift() ?? null;
        setImmediate(() => (err ? cb(err) : cb(null, { id: made.length })));
      },
    };
    const pool = { pool: core } as unknown as mysql.Pool;
    const get = () =>
      new Promise<unknown>((resolve, reject) => core.getConnection((err, conn) => (err ? reject(err) : resolve(conn))));
    return { pool, shared, made, get };
  }
  /** A probe connection answering with the queued errors (null: it connects over TLS). */
  function fakeProbe(answers: (Error | null)[]) {
    const probed: unknown[] = [];
    const probe = async (options: mysql.ConnectionOptions) => {
      probed.push(options.ssl);
      const err = answers.shift() ?? null;
      if (err) throw err;
      return { end: async () => undefined };
    };
    return { probe, probed };
  }
  const preferred = () => tlsPlan(cfg({ mysqlSslMode: "preferred" }));

  test("one probe decides: TLS when the server has it, for every connection after", async () => {
    const plan = preferred();
    const f = fakePool([]);
    const p = fakeProbe([null]);
    followTlsPlan(f.pool, plan, {}, p.probe);
    await Promise.all([f.get(), f.get(), f.get()]);
    assert.deepEqual(p.probed, [plan.ssl]);
    assert.deepEqual(f.made, [plan.ssl, plan.ssl, plan.ssl]);
  });

  test("plaintext once the server says it has no TLS; after a failed connection it asks again", async () => {
    const plan = preferred();
    const f = fakePool([null, failure("ECONNREFUSED", "refused"), null]);
    const p = fakeProbe([NO_TLS(), null]);
    followTlsPlan(f.pool, plan, {}, p.probe);
    assert.deepEqual(await f.get(), { id: 1 });
    await assert.rejects(f.get(), /refused/);
    assert.deepEqual(await f.get(), { id: 3 });
    assert.deepEqual(f.made, [false, false, plan.ssl], "the server has TLS now");
    assert.equal(p.probed.length, 2);
  });

  test("a certificate error or an outage during the probe is passed on, and the next attempt probes again", async () => {
    const plan = preferred();
    const f = fakePool([]);
    const p = fakeProbe([CERT(), failure("ECONNREFUSED", "refused"), null]);
    followTlsPlan(f.pool, plan, {}, p.probe);
    await assert.rejects(f.get(), /self-signed/);
    await assert.rejects(f.get(), /refused/);
    assert.deepEqual(f.made, [], "no pool connection while undecided");
    await f.get();
    assert.deepEqual(f.made, [plan.ssl]);
  });
});

describe("explainTlsError", () => {
  const line = (err: unknown, c: Partial<TlsConfig>) => {
    const explained = explainTlsError(err, cfg(c));
    assert.ok(explained instanceof ConfigError, String(explained));
    return explained.message;
  };

  test("each TLS failure is one line naming TLS and what to set", () => {
    assert.equal(
      line(NO_TLS(), { mysqlSslMode: "required" }),
      "MySQL: TLS: the server at db.internal:3306 does not offer TLS, which MYSQL_SSL_MODE=required requires; enable it on the server (ssl_cert, ssl_key)",
    );
    assert.equal(
      line(CERT(), { mysqlSslMode: "verify-ca" }),
      "MySQL: TLS: the certificate of the server at db.internal:3306 can't be verified against the system's CAs (MYSQL_SSL_CA is unset): self-signed certificate in certificate chain; set MYSQL_SSL_CA to the CA that signed it",
    );
    assert.equal(
      line(failure("HANDSHAKE_SSL_ERROR", "certificate has expired"), {
        mysqlSslMode: "verify-ca",
        mysqlSslCa: "/ca.pem",
      }),
      "MySQL: TLS: the certificate of the server at db.internal:3306 can't be verified against MYSQL_SSL_CA (/ca.pem): certificate has expired; renew the server's certificate",
    );
    assert.equal(
      line(
        failure(
          "HANDSHAKE_SSL_ERROR",
          "Hostname/IP does not match certificate's altnames: Host: db.internal. is not in the cert's altnames: DNS:localhost",
        ),
        { mysqlSslMode: "verify-identity" },
      ),
      "MySQL: TLS: the certificate of the server at db.internal:3306 is not issued for db.internal, which MYSQL_SSL_MODE=verify-identity checks: Hostname/IP does not match certificate's altnames: Host: db.internal. is not in the cert's altnames: DNS:localhost; set MYSQL_HOST to a name the certificate lists",
    );
    // Node's own error, as mysql2 passes it on (its code replaced): `reason` names only the host.
    const mismatch = Object.assign(
      checkServerIdentity("db.internal", { subject: { CN: "x" }, subjectaltname: "DNS:localhost" } as never) as Error,
      {
        code: "HANDSHAKE_SSL_ERROR",
        fatal: true,
      },
    );
    const named = explainTlsError(mismatch, cfg({ mysqlSslMode: "verify-identity" }));
    assert.ok(named instanceof ConfigError, "stops the start: waiting does not change the certificate");
    assert.equal(
      named.message,
      "MySQL: TLS: the certificate of the server at db.internal:3306 is not issued for db.internal, which MYSQL_SSL_MODE=verify-identity checks: Host: db.internal. is not in the cert's altnames: DNS:localhost; set MYSQL_HOST to a name the certificate lists",
    );
    const alert = (reason: string) =>
      failure("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", `40:error:0A000418:SSL routines::${reason}:rec_layer_s3.c:918:\n`, {
        reason,
      });
    assert.equal(
      line(alert("tlsv1 alert unknown ca"), { mysqlSslMode: "required", mysqlSslCert: "/c.pem" }),
      "MySQL: TLS: the server at db.internal:3306 rejected the client certificate in MYSQL_SSL_CERT (/c.pem): tlsv1 alert unknown ca; use a valid one signed by a CA the server trusts (its ssl_ca)",
    );
    assert.equal(
      line(alert("tlsv13 alert certificate required"), { mysqlSslMode: "required" }),
      "MySQL: TLS: the server at db.internal:3306 requires a client certificate (tlsv13 alert certificate required); set MYSQL_SSL_CERT and MYSQL_SSL_KEY",
    );
    assert.equal(
      line(failure("ER_SECURE_TRANSPORT_REQUIRED", "insecure transport"), { mysqlSslMode: "disabled" }),
      "MySQL: TLS: the server at db.internal:3306 requires TLS, and MYSQL_SSL_MODE=disabled connects without it; set MYSQL_SSL_MODE=verify-identity (or verify-ca, required)",
    );
  });

  test("a handshake cut short may be retried; other errors are not about TLS", () => {
    const cut = explainTlsError(failure("HANDSHAKE_SSL_ERROR", "read ECONNRESET"), cfg({ mysqlSslMode: "required" }));
    assert.ok(cut instanceof DatabaseUnavailableError);
    assert.equal(cut.message, "MySQL: TLS handshake with db.internal:3306 failed: read ECONNRESET");
    assert.equal(explainTlsError(failure("ECONNREFUSED", "refused"), cfg({})), null);
    assert.equal(explainTlsError(Object.assign(new Error("denied"), { errno: 1045 }), cfg({})), null);
  });
});
