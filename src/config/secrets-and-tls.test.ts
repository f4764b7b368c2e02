import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { stackDeclaration } from "../../tools/stack/config.ts";
import { tlsPlan } from "../db/tls.ts";
import { ConfigError } from "../errors.ts";
import { assertConfigError } from "../testing/config.ts";
import { helpLines, parseDeclaration, str } from "./declare.ts";
import { MAX_CONFIG_FILE_BYTES, readConfigBytes } from "./files.ts";
import { loadConfig, serviceDeclaration } from "./index.ts";

// Secrets given as files (<NAME>_FILE) and the MySQL TLS and migrating-account settings (issue
// #20): what is read, and the one line each mistake gets. The real server's side is in
// test/integration/secret-files.test.ts and mysql-tls.test.ts.

describe("secrets from files (<NAME>_FILE)", () => {
  const dir = mkdtempSync(join(tmpdir(), "config-test-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  test("every secret variable, the local stack's included, is read from its file, line breaks at the end dropped", () => {
    const secrets = [...Object.values(serviceDeclaration), ...Object.values(stackDeclaration)].filter((v) => v.secret);
    assert.deepEqual(
      secrets.map((v) => v.env),
      ["MYSQL_PASSWORD", "MYSQL_MIGRATE_PASSWORD", "KAFKA_SASL_PASSWORD", "STACK_MYSQL_ADMIN_PASSWORD"],
    );
    const c = loadConfig({
      MYSQL_PASSWORD_FILE: file("mysql", " pa ss \n"),
      MYSQL_MIGRATE_USER: "migrator",
      MYSQL_MIGRATE_PASSWORD_FILE: file("migrate", "m1gr4te\r\n"),
      KAFKA_SASL_MECHANISM: "PLAIN",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD_FILE: ` ${file("sasl", "s4sl")} `,
    });
    assert.equal(c.mysqlPassword, " pa ss ", "spaces kept, the newline dropped");
    assert.equal(c.mysqlMigratePassword, "m1gr4te");
    assert.equal(c.kafkaSaslPassword, "s4sl");
    const stack = parseDeclaration(stackDeclaration, { STACK_MYSQL_ADMIN_PASSWORD_FILE: file("admin", "r00t\n") });
    assert.equal(stack.mysqlAdminPassword, "r00t");
  });

  test("a byte order mark at a file's start, and line breaks at an env value's end, are not the secret", () => {
    const c = loadConfig({
      MYSQL_PASSWORD_FILE: file("bom", "\uFEFFs3cret\r\n"),
      KAFKA_SASL_MECHANISM: "PLAIN",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: " s4sl \n",
    });
    assert.equal(c.mysqlPassword, "s3cret", "the file's byte order mark and CRLF dropped");
    assert.equal(c.kafkaSaslPassword, " s4sl ", "the env value's newline dropped, its spaces kept");
    assert.equal(
      loadConfig({ MYSQL_PASSWORD: "\n" }).mysqlPassword,
      "",
      "set to a line break: empty, as the file form",
    );
  });

  test("an empty file is an empty password, not the default", () => {
    assert.equal(loadConfig({ MYSQL_PASSWORD_FILE: file("empty", "\n") }).mysqlPassword, "");
    assert.equal(loadConfig({ MYSQL_PASSWORD_FILE: "" }).mysqlPassword, "analytics123", "an empty _FILE is unset");
  });

  test("both forms at once, a missing or unreadable file: one line naming the variable, never the value", async () => {
    const path = file("both", "hunter2-file");
    const both = assertConfigError({ MYSQL_PASSWORD: "hunter2-env", MYSQL_PASSWORD_FILE: path }, "MYSQL_PASSWORD");
    assert.equal(
      both.message,
      "MYSQL_PASSWORD: set either MYSQL_PASSWORD or MYSQL_PASSWORD_FILE, not both. MySQL password; unset, the local stack's (set your own anywhere else).",
    );
    const missing = join(dir, "nope");
    assert.equal(
      assertConfigError({ KAFKA_SASL_PASSWORD_FILE: missing }, "KAFKA_SASL_PASSWORD_FILE").message,
      `KAFKA_SASL_PASSWORD_FILE: can't read ${missing}: no such file`,
    );
    assert.equal(
      assertConfigError({ MYSQL_PASSWORD_FILE: dir }, "MYSQL_PASSWORD_FILE").message,
      `MYSQL_PASSWORD_FILE: can't read ${dir}: it is a directory`,
    );
    if (process.getuid?.() !== 0) {
      const locked = file("locked", "hunter2-locked");
      chmodSync(locked, 0o000);
      assertConfigError({ MYSQL_PASSWORD_FILE: locked }, "MYSQL_PASSWORD_FILE", /permission denied/);
    }
    // A device named by mistake is read no further than a secret may be, not until memory runs out.
    const huge = file("huge", "x".repeat(MAX_CONFIG_FILE_BYTES + 1));
    for (const path of ["/dev/zero", huge]) {
      assert.equal(
        assertConfigError({ MYSQL_PASSWORD_FILE: path }, "MYSQL_PASSWORD_FILE").message,
        `MYSQL_PASSWORD_FILE: ${path} holds more than the ${MAX_CONFIG_FILE_BYTES} bytes a secret or certificate file may`,
      );
    }
    assertConfigError({ KAFKA_SSL: "true", KAFKA_SSL_CA: "/dev/zero" }, "KAFKA_SSL_CA", /holds more than/);
    // A pipe, as `<(pass show db)` gives one, is read like a file.
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const writer = spawn("sh", ["-c", 'printf "s3cret\\n" > "$0"', fifo]);
    assert.equal(loadConfig({ MYSQL_PASSWORD_FILE: fifo }).mysqlPassword, "s3cret");
    await new Promise((resolve) => writer.on("exit", resolve));
    // A pipe nobody writes to is one line after a while, not a start that hangs for ever.
    assert.throws(() => readConfigBytes("MYSQL_PASSWORD_FILE", fifo, 300), {
      name: "ConfigError",
      message: `MYSQL_PASSWORD_FILE: nothing was written to ${fifo} within 0.3 s; start what writes it first, or name a file`,
    });
    // A writer that writes, then keeps the pipe open: told apart from one that never wrote.
    const lingering = spawn("sh", ["-c", 'exec 3>"$0"; printf "s3cret" >&3; sleep 2', fifo]);
    assert.throws(() => readConfigBytes("MYSQL_PASSWORD_FILE", fifo, 500), {
      message: `MYSQL_PASSWORD_FILE: ${fifo} was not closed within 0.5 s of its last bytes; have its writer close it`,
    });
    lingering.kill();
    await new Promise((resolve) => lingering.on("exit", resolve));
    assert.equal(
      loadConfig({ MYSQL_PASSWORD_FILE: file("at-limit", "y".repeat(MAX_CONFIG_FILE_BYTES)) }).mysqlPassword.length,
      MAX_CONFIG_FILE_BYTES,
    );
    const elsewhere = assertConfigError({ MYSQL_PASSWORD_FILE: path, MYSQL_PORT: "x" }, "MYSQL_PORT");
    for (const err of [both, elsewhere]) assert.ok(!err.message.includes("hunter2"), err.message);
  });

  test("a key or certificate given as its PEM text instead of a path is refused without repeating the text", () => {
    // Deployments often hold a PEM in an environment variable; set where a path goes, the text
    // itself was quoted as the path that can't be read: the whole private key, on standard error.
    const pem =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7s3cr3tK3y\n-----END PRIVATE KEY-----\n";
    for (const variable of ["MYSQL_SSL_KEY", "KAFKA_SSL_KEY", "MYSQL_PASSWORD_FILE"]) {
      assert.throws(
        () => readConfigBytes(variable, pem),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.startsWith(`${variable}: `) &&
          !err.message.includes("MIIE") &&
          !err.message.includes("\n"),
      );
    }
    const err = assertConfigError(
      { KAFKA_SSL: "true", KAFKA_SSL_CA: pem.replaceAll("PRIVATE KEY", "CERTIFICATE") },
      "KAFKA_SSL_CA",
    );
    assert.ok(!err.message.includes("MIIE"), err.message);
  });

  test("an encrypted client key, for Kafka or MySQL, is one line saying so in either PEM form, not OpenSSL's 'interrupted or cancelled'", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "client-key-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, "c.pem");
    const plainKey = join(dir, "plain.key");
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
        ...["-keyout", plainKey, "-out", cert, "-days", "1", "-subj", "/CN=analytics test"],
      ],
      { stdio: "ignore" },
    );
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const forms = {
      pkcs8: privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" }),
      traditional: privateKey.export({ type: "sec1", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" }),
    };
    for (const [form, pem] of Object.entries(forms)) {
      const key = join(dir, `${form}.key`);
      writeFileSync(key, pem);
      const err = assertConfigError({ KAFKA_SSL: "true", KAFKA_SSL_CERT: cert, KAFKA_SSL_KEY: key }, "KAFKA_SSL_KEY");
      assert.equal(err.message, `KAFKA_SSL_KEY: ${key} is encrypted; give the key unencrypted.`, form);
      // MySQL's files are read when its pool is planned (db/tls.ts), by the same check.
      const mysql = loadConfig({ MYSQL_SSL_MODE: "required", MYSQL_SSL_CERT: cert, MYSQL_SSL_KEY: key });
      assert.throws(
        () => tlsPlan(mysql),
        (e: unknown) =>
          e instanceof ConfigError && e.message === `MYSQL_SSL_KEY: ${key} is encrypted; give the key unencrypted.`,
        form,
      );
    }
  });

  test("an expired or not yet valid client certificate, for Kafka or MySQL, is one line giving its date", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "client-cert-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const [cert, key] = [join(dir, "c.pem"), join(dir, "c.key")];
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
        ...["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=analytics test"],
      ],
      { stdio: "ignore" },
    );
    const { validFromDate: from, validToDate: to } = new X509Certificate(readFileSync(cert));
    const kafka = { KAFKA_SSL: "true", KAFKA_SSL_CERT: cert, KAFKA_SSL_KEY: key };
    const mysql = { MYSQL_SSL_MODE: "required", MYSQL_SSL_CERT: cert, MYSQL_SSL_KEY: key };
    const refused = (now: number, why: string) => {
      t.mock.timers.enable({ apis: ["Date"], now });
      try {
        assert.equal(
          assertConfigError(kafka, "KAFKA_SSL_CERT").message,
          `KAFKA_SSL_CERT: the certificate in ${cert} ${why}`,
        );
        assert.throws(
          () => tlsPlan(loadConfig(mysql)),
          (e: unknown) => e instanceof ConfigError && e.message === `MYSQL_SSL_CERT: the certificate in ${cert} ${why}`,
        );
      } finally {
        t.mock.timers.reset();
      }
    };
    refused(to.getTime() + 1000, `expired on ${to.toISOString()}; renew it (servers refuse it)`);
    refused(
      from.getTime() - 3600_000,
      `is valid only from ${from.toISOString()}; check this machine's clock, or use one valid now (servers refuse it)`,
    );
    // Minutes ahead of this clock is the server's clock being ahead, not a certificate to refuse.
    t.mock.timers.enable({ apis: ["Date"], now: from.getTime() - 60_000 });
    try {
      assert.ok(loadConfig(kafka).kafkaSsl);
      assert.ok(tlsPlan(loadConfig(mysql)).ssl?.cert);
    } finally {
      t.mock.timers.reset();
    }
  });

  test("a secret or key given where its path goes, in any form, is refused without repeating it", () => {
    // The PEM armor is one form; a key kept as one line of base64 (`base64 -w0 client.key`, as
    // Kubernetes Secrets hold them), its armor dropped, or a password set in MYSQL_PASSWORD_FILE
    // instead of MYSQL_PASSWORD, was quoted whole as the path that can't be read.
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const body = pem
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("-----"))
      .join("");
    const secret = body.slice(40, 80);
    const cases: [string, string][] = [
      ["KAFKA_SSL_KEY", Buffer.from(pem).toString("base64")],
      ["MYSQL_SSL_KEY", body],
      ["MYSQL_PASSWORD_FILE", `hunter2-${secret}`],
    ];
    for (const [variable, value] of cases) {
      assert.throws(
        () => readConfigBytes(variable, value),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.startsWith(`${variable}: `) &&
          !err.message.includes(value.slice(40, 80)) &&
          !err.message.includes(secret),
        `${variable}=${value.slice(0, 12)}…`,
      );
    }
    const err = assertConfigError({ MYSQL_PASSWORD_FILE: "hunter2-as-a-path" }, "MYSQL_PASSWORD_FILE");
    assert.ok(!err.message.includes("hunter2"), err.message);
  });

  test("a secret that may not be empty refuses an empty file, naming it", () => {
    const decl = { token: str("API_TOKEN", "", "Token for the API.", { secret: true }) };
    const path = file("token", "\n\n");
    assert.throws(
      () => parseDeclaration(decl, { API_TOKEN_FILE: path }),
      (err: unknown) =>
        err instanceof ConfigError && err.message === `API_TOKEN_FILE: ${path} is empty. Token for the API.`,
    );
  });

  test("--help names the file form of each secret, and only of secrets", () => {
    const lines = helpLines(serviceDeclaration);
    for (const v of Object.values(serviceDeclaration)) {
      const line = lines.find((l) => l.trimStart().startsWith(`${v.env} `)) ?? "";
      assert.equal(line.includes(`Or ${v.env}_FILE: a file holding it.`), v.secret === true, line);
    }
  });
});

describe("MySQL TLS and the migrating account", () => {
  test("the modes, and files named for them", () => {
    assert.equal(loadConfig({}).mysqlSslMode, "preferred");
    const c = loadConfig({
      MYSQL_SSL_MODE: "verify-identity",
      MYSQL_SSL_CA: "/etc/ca.pem",
      MYSQL_SSL_CERT: "/etc/c.pem",
      MYSQL_SSL_KEY: "/etc/c.key",
    });
    assert.deepEqual(
      [c.mysqlSslMode, c.mysqlSslCa, c.mysqlSslCert, c.mysqlSslKey],
      ["verify-identity", "/etc/ca.pem", "/etc/c.pem", "/etc/c.key"],
    );
    assertConfigError(
      { MYSQL_SSL_MODE: "REQUIRED" },
      "MYSQL_SSL_MODE",
      /disabled, preferred, required, verify-ca, verify-identity/,
    );
  });

  test("a CA under a mode that never checks the certificate is refused, not ignored", () => {
    for (const mode of ["disabled", "preferred", "required"]) {
      const err = assertConfigError({ MYSQL_SSL_MODE: mode, MYSQL_SSL_CA: "/etc/ca.pem" }, "MYSQL_SSL_CA");
      assert.equal(
        err.message,
        `MYSQL_SSL_CA: MYSQL_SSL_MODE=${mode} does not check the server's certificate; set MYSQL_SSL_MODE=verify-identity (or verify-ca) to check it against this CA.`,
      );
    }
    assert.equal(loadConfig({ MYSQL_SSL_MODE: "verify-ca", MYSQL_SSL_CA: "/etc/ca.pem" }).mysqlSslCa, "/etc/ca.pem");
  });

  test("a client certificate needs its key (and the other way round), and a TLS mode", () => {
    assertConfigError({ MYSQL_SSL_CERT: "/c.pem" }, "MYSQL_SSL_KEY", /must be set with MYSQL_SSL_CERT/);
    assertConfigError({ MYSQL_SSL_KEY: "/c.key" }, "MYSQL_SSL_CERT", /must be set with MYSQL_SSL_KEY/);
    assertConfigError(
      { MYSQL_SSL_MODE: "disabled", MYSQL_SSL_CERT: "/c.pem", MYSQL_SSL_KEY: "/c.key" },
      "MYSQL_SSL_CERT",
      /disabled connects without TLS/,
    );
    assert.equal(
      loadConfig({ MYSQL_SSL_MODE: "required", MYSQL_SSL_CERT: "/c.pem", MYSQL_SSL_KEY: "/c.key" }).mysqlSslKey,
      "/c.key",
    );
  });

  test("a migration password without its user is refused, without the password", () => {
    const err = assertConfigError(
      { MYSQL_MIGRATE_PASSWORD: "hunter2-m" },
      "MYSQL_MIGRATE_USER",
      /MYSQL_MIGRATE_PASSWORD/,
    );
    assert.ok(!err.message.includes("hunter2"));
    const c = loadConfig({ MYSQL_MIGRATE_USER: "migrator", MYSQL_MIGRATE_PASSWORD: "pw" });
    assert.deepEqual([c.mysqlMigrateUser, c.mysqlMigratePassword], ["migrator", "pw"]);
  });
});
