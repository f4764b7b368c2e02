import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { Consumer, Producer } from "@platformatic/kafka";
import { portTakenAtStart } from "../src/stack/kafka.ts";
import { lastLines } from "../src/stack/process.ts";
import { BROKER, randomName, testTopics, waitFor } from "./helpers.ts";

// The local stack as a user meets it: each mistake is one line naming the cause and what to do;
// the broker it runs is a real Kafka any client can use.

const STACK = new URL("../scripts/stack.ts", import.meta.url).pathname;
const stackCli = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [STACK, ...args], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60000 });

async function holdPort(t: TestContext): Promise<number> {
  const server: Server = createServer((socket) => socket.end("not kafka\n"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as { port: number }).port;
}

function tempDir(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), "analytics-stack-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("a Kafka port held by another program: one line naming the port and the variable", async (t) => {
  const port = await holdPort(t);
  const r = stackCli(["up"], { STACK_DIR: tempDir(t), STACK_KAFKA_PORT: String(port) });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`^stack: port ${port} is held by a program that does not answer as Kafka: .*STACK_KAFKA_PORT`),
  );
});

// A broker that lost its port in the seconds between the check and its bind: the log's last
// lines were stack frames naming no cause, as CI printed once.
const BIND_FAILURE = [
  "[2026-12-01 12:00:21,699] ERROR Encountered fatal fault: caught exception (org.apache.kafka.server.fault.ProcessTerminatingFaultHandler)",
  "java.lang.RuntimeException: Unable to start acceptor for CONTROLLER",
  "Caused by: org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:41235: Address already in use.",
  "Caused by: java.net.BindException: Address already in use",
  "\tat java.base/sun.nio.ch.Net.bind0(Native Method) ~[?:?]",
  "\tat kafka.network.SocketServer.enableRequestProcessing(SocketServer.scala:201) ~[kafka_2.13-4.1.1.jar:?]",
  "\t... 6 more",
].join("\n");

test("a port taken while the broker starts is named; log tails leave out stack frames", (t) => {
  assert.equal(portTakenAtStart(BIND_FAILURE), 41235);
  assert.equal(portTakenAtStart("[2026-12-01] INFO [KafkaRaftServer nodeId=1] Kafka Server started"), null);
  const file = join(tempDir(t), "server.log");
  writeFileSync(file, `${BIND_FAILURE}\n`);
  assert.deepEqual(lastLines(file, 2).split("\n"), [
    "Caused by: org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:41235: Address already in use.",
    "Caused by: java.net.BindException: Address already in use",
  ]);
});

test("Java missing: one line saying what to install", (t) => {
  const r = stackCli(["up"], { STACK_DIR: tempDir(t), STACK_KAFKA_PORT: "1", PATH: "/nonexistent" });
  // Node itself is found through process.execPath; java and mvn are looked up on PATH.
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^stack: java is not installed or not on PATH: install a Java runtime/);
});

test("the database refusing the admin account: one line naming the address and the variables", (t) => {
  const r = stackCli(["up"], {
    STACK_DIR: tempDir(t),
    STACK_MYSQL_ADMIN_USER: "nobody_here",
    STACK_MYSQL_ADMIN_PASSWORD: "x",
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^stack: .*127\.0\.0\.1:\d+.*STACK_MYSQL_ADMIN/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test("status reports Kafka and the database", () => {
  const r = stackCli(["status"], {});
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^kafka {4}up {2}127\.0\.0\.1:\d+/m);
  assert.match(r.stdout, /^database up {2}127\.0\.0\.1:\d+/m);
});

test("the local broker is a plain Kafka: produce and consume a message", async (t) => {
  const topics = await testTopics(t, 1);
  const producer = new Producer({ clientId: "tests", bootstrapBrokers: [BROKER] });
  t.after(() => producer.close());
  await producer.send({ messages: [{ topic: topics.dlq, key: Buffer.from("k"), value: Buffer.from("hello") }] });
  const consumer = new Consumer({ clientId: "tests", bootstrapBrokers: [BROKER], groupId: randomName("g-") });
  t.after(() => consumer.close(true));
  const stream = await consumer.consume({ topics: [topics.dlq], mode: "earliest", autocommit: false });
  t.after(() => stream.close());
  const got: string[] = [];
  stream.on("data", (m) => got.push(`${m.key.toString()}=${m.value.toString()}`));
  await waitFor("the message", async () => got.length === 1);
  assert.deepEqual(got, ["k=hello"]);
});
