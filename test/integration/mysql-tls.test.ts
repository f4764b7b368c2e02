import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { createPool } from "../../src/db/pool.ts";
import { startService } from "../../src/service.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { type PrivateServer, startPrivateServer, stopPrivateServer } from "../../tools/stack/mariadb-server.ts";
import {
  adminConnection,
  capturingLogger,
  caughtUp,
  onPrivatePorts,
  produce,
  randomName,
  runCliSync,
  stack,
  testConfig,
  testEnv,
  testProducer,
  testTopics,
  unusedTopics,
  waitFor,
} from "../support/helpers.ts";

// MySQL over TLS (issue #20) against a MariaDB of the test's own that refuses plaintext
// (require_secure_transport), with a CA and certificates made here by openssl: the service
// consumes through it under verify-identity, as a password user and as a REQUIRE X509 user with
// a client certificate; a wrong CA, a plaintext client and a client certificate of another CA
// each stop it with one line naming TLS.

const run = promisify(execFile);

interface Certificates {
  ca: string;
  otherCa: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  /** Signed by the other CA: the server must reject it. */
  rogue: { cert: string; key: string };
  /** Server certificates naming only localhost, and only 127.0.0.1. */
  localhostOnly: { cert: string; key: string };
  ipOnly: { cert: string; key: string };
}

/** A CA, a second unrelated CA, and server and client certificates (P-256, valid two days) in `dir`. */
async function makeCertificates(dir: string): Promise<Certificates> {
  mkdirSync(dir, { recursive: true });
  const file = (name: string) => join(dir, name);
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = async (name: string) => {
    await run("openssl", [
      ...["req", "-x509", ...newKey, "-keyout", file(`${name}.key`), "-out", file(`${name}.pem`)],
      ...["-days", "2", "-subj", `/CN=analytics test ${name}`],
      ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ]);
    return file(`${name}.pem`);
  };
  const leaf = async (name: string, signer: string, san: string, usage: string) => {
    await run("openssl", [
      ...["req", ...newKey, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`)],
      ...["-subj", `/CN=analytics test ${name}`],
    ]);
    writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
    await run("openssl", [
      ...["x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${signer}.pem`), "-CAkey", file(`${signer}.key`)],
      ...["-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "2", "-out", file(`${name}.pem`)],
      ...["-extfile", file(`${name}.ext`)],
    ]);
    return { cert: file(`${name}.pem`), key: file(`${name}.key`) };
  };
  const certs = { ca: await ca("ca"), otherCa: await ca("otherca") };
  return {
    ...certs,
    server: await leaf("server", "ca", "DNS:localhost,IP:127.0.0.1", "serverAuth"),
    client: await leaf("client", "ca", "DNS:analytics-client", "clientAuth"),
    rogue: await leaf("rogue", "otherca", "DNS:analytics-client", "clientAuth"),
    localhostOnly: await leaf("localhost-only", "ca", "DNS:localhost", "serverAuth"),
    ipOnly: await leaf("ip-only", "ca", "IP:127.0.0.1", "serverAuth"),
  };
}

/** A MariaDB of the test's own that serves TLS only; it, its data and the certificates are removed afterwards. */
async function tlsServer(t: TestContext): Promise<{ server: PrivateServer; certs: Certificates }> {
  const server: PrivateServer = { dir: mkdtempSync(join(tmpdir(), "analytics-mariadb-tls-")), port: 0 };
  t.after(async () => {
    await stopPrivateServer(server, { kill: true }).catch(() => undefined);
    rmSync(server.dir, { recursive: true, force: true });
  });
  const certs = await makeCertificates(join(server.dir, "certs"));
  server.tls = { ca: certs.ca, cert: certs.server.cert, key: certs.server.key, require: true };
  await onPrivatePorts(1, async (port) => {
    server.port = port;
    await startPrivateServer(server);
  });
  return { server, certs };
}

/** `run` and `migrate` both stop at start with exactly `line` (and exit 1). */
function assertOneLine(env: Record<string, string>, line: string, commands = ["migrate", "run"]) {
  for (const command of commands) {
    const r = runCliSync([command], env);
    assert.equal(r.status, 1, `${command}: ${r.stderr}`);
    assert.equal(r.stderr, `analytics-service: ${line}\n`, command);
  }
}

test("MySQL over TLS: verify-identity, client certificates, and one line for each TLS failure", async (t) => {
  const { server, certs } = await tlsServer(t);
  const where = `127.0.0.1:${server.port}`;
  const admin = await mysql.createConnection({
    host: "127.0.0.1",
    port: server.port,
    user: "root",
    ssl: { ca: readFileSync(certs.ca, "utf8") },
  });
  t.after(() => admin.end());
  const password = randomBytes(12).toString("hex");
  await admin.query("CREATE USER svc@'127.0.0.1' IDENTIFIED BY ? REQUIRE SSL", [password]);
  await admin.query("CREATE USER x509@'127.0.0.1' REQUIRE X509");
  /** A database on the TLS server that both users may migrate and write. */
  const database = async () => {
    const name = randomName("t_");
    await admin.query(`CREATE DATABASE \`${name}\``);
    for (const user of ["svc", "x509"]) await admin.query(`GRANT ALL ON \`${name}\`.* TO ?@'127.0.0.1'`, [user]);
    return { name };
  };
  const asSvc = { MYSQL_PORT: String(server.port), MYSQL_USER: "svc", MYSQL_PASSWORD: password };
  const asX509 = {
    MYSQL_PORT: String(server.port),
    MYSQL_USER: "x509",
    MYSQL_PASSWORD: "",
    MYSQL_SSL_CERT: certs.client.cert,
    MYSQL_SSL_KEY: certs.client.key,
  };

  /** The service, in this process, consumes a user, an order and a post through TLS. */
  const consumes = async (t: TestContext, env: Record<string, string>) => {
    const db = await database();
    const topics = await testTopics(t);
    const config = testConfig(db, topics, { ...env, MYSQL_SSL_MODE: "verify-identity", MYSQL_SSL_CA: certs.ca });
    const { log, lines } = capturingLogger();
    const service = await startService(config, log);
    t.after(() => service.stop());
    await produce(await testProducer(t), topics.prefix, [
      fixture("user.created"),
      fixture("order.created"),
      fixture("post.created"),
    ]);
    const sources = topics.all.filter((x) => x !== topics.dlq);
    await waitFor("all committed", () => caughtUp(config.kafkaGroupId, sources));
    const [rows] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT (SELECT COUNT(*) FROM \`${db.name}\`.users) AS users, (SELECT COUNT(*) FROM \`${db.name}\`.orders) AS orders, (SELECT COUNT(*) FROM \`${db.name}\`.posts) AS posts`,
    );
    assert.deepEqual({ ...rows[0] }, { users: 1, orders: 1, posts: 1 });
    const connected = lines.find((l) => String(l.msg).startsWith("connected to MySQL"));
    assert.match(String(connected?.msg), new RegExp(`^connected to MySQL ${where}/${db.name} over TLSv1\\.[23], `));
  };

  await t.test("a password user under verify-identity with the CA", (t) => consumes(t, asSvc));
  await t.test("a REQUIRE X509 user with a client certificate", (t) => consumes(t, asX509));

  await t.test("preferred uses TLS when the server offers it", async (t) => {
    const db = await database();
    const pool = createPool({
      ...{ mysqlHost: "127.0.0.1", mysqlPort: server.port, mysqlUser: "svc", mysqlPassword: password },
      ...{ mysqlDatabase: db.name, mysqlPoolSize: 1, mysqlSslMode: "preferred" },
    });
    t.after(() => pool.end());
    const [rows] = await pool.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
    assert.match(String(rows[0]?.Value), /^TLSv1\.[23]$/);
  });

  await t.test("a wrong CA, a plaintext client, a rejected client certificate: one line each", async () => {
    const db = await database();
    const env = (extra: Record<string, string>) => testEnv(db, unusedTopics(), extra);
    assertOneLine(
      env({ ...asSvc, MYSQL_SSL_MODE: "verify-ca", MYSQL_SSL_CA: certs.otherCa }),
      `MySQL: TLS: the certificate of the server at ${where} can't be verified against MYSQL_SSL_CA (${certs.otherCa}): self-signed certificate in certificate chain; set MYSQL_SSL_CA to the CA that signed it`,
    );
    assertOneLine(
      env({ ...asSvc, MYSQL_SSL_MODE: "disabled" }),
      `MySQL: TLS: the server at ${where} requires TLS, and MYSQL_SSL_MODE=disabled connects without it; set MYSQL_SSL_MODE=verify-identity (or verify-ca, required)`,
    );
    // preferred too: a certificate the server rejects is never a reason to try plaintext.
    for (const mode of ["verify-identity", "preferred"]) {
      assertOneLine(
        env({
          ...asX509,
          MYSQL_SSL_CERT: certs.rogue.cert,
          MYSQL_SSL_KEY: certs.rogue.key,
          MYSQL_SSL_MODE: mode,
          ...(mode === "preferred" ? {} : { MYSQL_SSL_CA: certs.ca }),
        }),
        `MySQL: TLS: the server at ${where} rejected the client certificate in MYSQL_SSL_CERT (${certs.rogue.cert}): tlsv1 alert unknown ca; use a valid one signed by a CA the server trusts (its ssl_ca)`,
      );
    }
    // A REQUIRE X509 account without its certificate: MariaDB says only "access denied".
    assertOneLine(
      env({
        ...asX509,
        MYSQL_SSL_CERT: "",
        MYSQL_SSL_KEY: "",
        MYSQL_SSL_MODE: "verify-identity",
        MYSQL_SSL_CA: certs.ca,
      }),
      `MySQL: user x509 was refused at ${where}; check MYSQL_USER and MYSQL_PASSWORD; an account without a password may instead require a client certificate (REQUIRE X509): set MYSQL_SSL_CERT and MYSQL_SSL_KEY`,
    );
    const missing = join(server.dir, "certs", "missing.pem");
    assertOneLine(
      env({ ...asSvc, MYSQL_SSL_MODE: "verify-ca", MYSQL_SSL_CA: missing }),
      `MYSQL_SSL_CA: can't read ${missing}: no such file`,
      ["migrate"],
    );
    assert.deepEqual(await admin.query(`SHOW TABLES FROM \`${db.name}\``).then(([r]) => r), [], "nothing created");
  });

  await t.test("verify-identity checks an IP address MYSQL_HOST against the certificate's addresses", async (t) => {
    const db = await database();
    const serve = async (pair: { cert: string; key: string }) => {
      writeFileSync(certs.server.cert, readFileSync(pair.cert));
      writeFileSync(certs.server.key, readFileSync(pair.key));
      await admin.query("FLUSH SSL").catch(() => admin.query("ALTER INSTANCE RELOAD TLS"));
    };
    const original = { cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key) };
    t.after(async () => {
      writeFileSync(certs.server.cert, original.cert);
      writeFileSync(certs.server.key, original.key);
      await admin.query("FLUSH SSL").catch(() => admin.query("ALTER INSTANCE RELOAD TLS"));
    });
    const env = testEnv(db, unusedTopics(), { ...asSvc, MYSQL_SSL_MODE: "verify-identity", MYSQL_SSL_CA: certs.ca });
    // A certificate for localhost only is not one for 127.0.0.1 (Node once checked "localhost").
    await serve(certs.localhostOnly);
    const refused = runCliSync(["migrate"], env);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /^analytics-service: MySQL: TLS.*IP: 127\.0\.0\.1 is not in the cert's list/);
    assert.equal(refused.stderr.split("\n").length, 2, "one line");
    // One that names the address alone is.
    await serve(certs.ipOnly);
    const accepted = runCliSync(["migrate"], env);
    assert.equal(accepted.status, 0, accepted.stderr);
  });

  await t.test(
    "against a server without TLS: required stops with one line, preferred connects in plaintext",
    async (t) => {
      const local = await adminConnection();
      const [ssl] = await local.query<mysql.RowDataPacket[]>("SELECT @@have_ssl AS v");
      await local.end();
      if (ssl[0]?.v === "YES") return t.skip(`the server on ${stack.mysqlPort} offers TLS`);
      const db = { name: randomName("t_") };
      // The database need not exist: the handshake fails before it is looked up.
      assertOneLine(
        testEnv(db, unusedTopics(), { MYSQL_SSL_MODE: "required" }),
        `MySQL: TLS: the server at 127.0.0.1:${stack.mysqlPort} does not offer TLS, which MYSQL_SSL_MODE=required requires; enable it on the server (ssl_cert, ssl_key)`,
        ["migrate"],
      );
      const pool = createPool({
        ...{ mysqlHost: "127.0.0.1", mysqlPort: stack.mysqlPort, mysqlUser: stack.mysqlAdminUser },
        ...{ mysqlPassword: stack.mysqlAdminPassword, mysqlDatabase: "", mysqlPoolSize: 2, mysqlSslMode: "preferred" },
      });
      t.after(() => pool.end());
      const sessions = await Promise.all(
        [1, 2, 3].map(() => pool.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'")),
      );
      for (const [rows] of sessions) assert.equal(rows[0]?.Value, "");
    },
  );
});
