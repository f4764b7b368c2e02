import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createServer, type Server } from "node:tls";
import { kafkaRefusal } from "../support/helpers.ts";

// A broker certificate from the trusted CA that Node refuses all the same: expired, not valid
// yet, or not issued for the host connected to. The handshake fails before a word of Kafka is
// spoken, so a TLS server presenting the certificate stands in for the broker; certificates are
// made by openssl at test time (`openssl ca`, which alone sets arbitrary validity dates).

let dir: string;
const file = (name: string) => join(dir, name);
const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A certificate signed by ca.pem, for `san`, valid from `start` to `end` (YYYYMMDDHHMMSSZ). */
function leaf(name: string, san: string, start: string, end: string): { cert: string; key: string } {
  openssl(["req", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
  mkdirSync(file(`db-${name}`));
  writeFileSync(file(`db-${name}/index.txt`), "");
  writeFileSync(file(`db-${name}/serial`), "01\n");
  writeFileSync(
    file(`${name}.cnf`),
    [
      "[ca]\ndefault_ca=this\n[this]",
      `database=db-${name}/index.txt\nserial=db-${name}/serial\nnew_certs_dir=db-${name}`,
      "default_md=sha256\npolicy=any\n[any]\ncommonName=supplied",
      `[leaf]\nsubjectAltName=${san}\nextendedKeyUsage=serverAuth\n`,
    ].join("\n"),
  );
  openssl(
    ["ca", "-batch", "-config", `${name}.cnf`, "-cert", "ca.pem", "-keyfile", "ca.key"].concat([
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.pem`,
      "-startdate",
      start,
      "-enddate",
      end,
      "-extensions",
      "leaf",
    ]),
  );
  return { cert: file(`${name}.pem`), key: file(`${name}.key`) };
}

const servers: Server[] = [];
/** A TLS server on 127.0.0.1 presenting `pair`; its port. */
async function presenting(pair: { cert: string; key: string }): Promise<number> {
  const server = createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key) }, (s) => s.end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

let certs: Record<"expired" | "future" | "nameOnly", { cert: string; key: string }>;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "analytics-kafka-certs-"));
  openssl(["req", "-x509", ...newKey, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test ca"]);
  const far = "20991231000000Z";
  certs = {
    expired: leaf("expired", "IP:127.0.0.1,DNS:localhost", "20200101000000Z", "20200201000000Z"),
    future: leaf("future", "IP:127.0.0.1,DNS:localhost", "20980101000000Z", far),
    nameOnly: leaf("name-only", "DNS:kafka.example.internal", "20200101000000Z", far),
  };
});

after(() => {
  for (const server of servers) server.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const tlsTo = (host: string, port: number) => ({
  KAFKA_BOOTSTRAP_SERVERS: `${host}:${port}`,
  KAFKA_SSL: "true",
  KAFKA_SSL_CA: file("ca.pem"),
});

test("an expired or not yet valid broker certificate is named in one line saying what to renew or check", async () => {
  const expired = await presenting(certs.expired);
  assert.equal(
    await kafkaRefusal(tlsTo("127.0.0.1", expired)),
    `a certificate of the brokers at 127.0.0.1:${expired} has expired (CERT_HAS_EXPIRED): renew the brokers' certificate, or the CA in KAFKA_SSL_CA if that is the one expired (now KAFKA_SSL_CA=${file("ca.pem")})`,
  );
  const future = await presenting(certs.future);
  assert.equal(
    await kafkaRefusal(tlsTo("127.0.0.1", future)),
    `a certificate of the brokers at 127.0.0.1:${future} is not valid yet (CERT_NOT_YET_VALID): check this machine's clock, or issue the brokers' certificate to start earlier (now KAFKA_SSL_CA=${file("ca.pem")})`,
  );
});

test("a broker certificate not issued for the host connected to, by address or by name, names KAFKA_BOOTSTRAP_SERVERS", async () => {
  const port = await presenting(certs.nameOnly);
  const fix =
    "set KAFKA_BOOTSTRAP_SERVERS to names or addresses the certificate lists, and have the brokers advertise such names (advertised.listeners)";
  assert.equal(
    await kafkaRefusal(tlsTo("127.0.0.1", port)),
    `the brokers' certificate at 127.0.0.1:${port} is not issued for the host the service connected to (IP: 127.0.0.1 is not in the cert's list: ): ${fix}`,
  );
  assert.equal(
    await kafkaRefusal(tlsTo("localhost", port)),
    `the brokers' certificate at localhost:${port} is not issued for the host the service connected to (Host: localhost. is not in the cert's altnames: DNS:kafka.example.internal): ${fix}`,
  );
});
