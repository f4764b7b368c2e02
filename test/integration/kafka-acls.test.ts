import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import {
  AclOperations,
  AclPermissionTypes,
  Admin,
  Producer,
  ResourcePatternTypes,
  ResourceTypes,
} from "@platformatic/kafka";
import { TOPICS } from "../../src/domains/registry.ts";
import { startService } from "../../src/service.ts";
import { type SecureKafka, secureKafkaDown, secureKafkaUp } from "../../tools/stack/secure-kafka.ts";
import {
  capturingLogger,
  onPrivatePorts,
  randomName,
  stack,
  testConfig,
  testDatabase,
  topicsReady,
  waitFor,
} from "../support/helpers.ts";

// A secured broker with an authorizer (tools/stack/secure-kafka.ts, StandardAuthorizer): the
// service's user lacks one of the rights docs/operations.md#kafka-security lists, and the line
// must name it. Plaintext is the super user, which sets the topics and ACLs up.

const USER = { name: "analytics", password: randomBytes(12).toString("hex") };
let broker: SecureKafka;
let dir: string;

before(async () => {
  broker = await onPrivatePorts(4, async (firstPort) => {
    dir = mkdtempSync(join(tmpdir(), "analytics-acl-kafka-"));
    return secureKafkaUp(stack, {
      dir,
      firstPort,
      user: USER,
      heapMb: 256,
      extra: [
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users=User:ANONYMOUS",
        "allow.everyone.if.no.acl.found=false",
      ],
    });
  });
});

after(async () => {
  if (broker !== undefined) await secureKafkaDown(broker);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

type Acl = ReturnType<typeof acl>;

const acl = (resourceType: number, resourceName: string, operation: number, permissionType: number) => ({
  resourceType: resourceType as 2,
  resourceName,
  resourcePatternType: ResourcePatternTypes.LITERAL,
  principal: `User:${USER.name}`,
  host: "*",
  operation: operation as 2,
  permissionType: permissionType as 3,
});

/**
 * The service started as USER, who has every right but `denied` (given the test's topic prefix,
 * dead-letter topic and group), on topics of its own; its log lines and names.
 */
async function startDenied(t: TestContext, denied: (names: { prefix: string; dlq: string; group: string }) => Acl) {
  const db = await testDatabase(t);
  const prefix = `${randomName("t")}.`;
  const dlq = `${prefix}dlq`;
  const group = randomName("group-");
  const all = [...TOPICS.map((x) => `${prefix}${x}`), dlq];
  const admin = new Admin({ clientId: "tests", bootstrapBrokers: [broker.plaintext] });
  t.after(() => admin.close());
  await admin.createTopics({ topics: all, partitions: 1, replicas: 1 });
  await topicsReady(admin, all, 1);
  await admin.createAcls({
    creations: [
      acl(ResourceTypes.TOPIC, "*", AclOperations.ALL, AclPermissionTypes.ALLOW),
      acl(ResourceTypes.GROUP, "*", AclOperations.ALL, AclPermissionTypes.ALLOW),
      denied({ prefix, dlq, group }),
    ],
  });
  const config = testConfig(
    db,
    { prefix, dlq, all },
    {
      KAFKA_GROUP_ID: group,
      KAFKA_BOOTSTRAP_SERVERS: broker.saslSsl,
      KAFKA_SSL: "true",
      KAFKA_SSL_CA: broker.certs.ca,
      KAFKA_SASL_MECHANISM: "PLAIN",
      KAFKA_SASL_USERNAME: USER.name,
      KAFKA_SASL_PASSWORD: USER.password,
    },
  );
  const { log, lines } = capturingLogger();
  const service = await startService(config, log);
  t.after(() => service.stop());
  const outageLine = async () =>
    (await waitFor("the outage line", async () => lines.find((l) => String(l.msg).startsWith("Kafka unavailable"))))
      .msg;
  return { prefix, dlq, group, outageLine };
}

test("a source topic this Kafka user may describe but not read: one line names the topic, the right and what to grant", async (t) => {
  const { prefix, outageLine } = await startDenied(t, ({ prefix }) =>
    acl(ResourceTypes.TOPIC, `${prefix}user`, AclOperations.READ, AclPermissionTypes.DENY),
  );
  assert.equal(
    await outageLine(),
    `Kafka unavailable, pausing and retrying with backoff: the brokers refuse KAFKA_SASL_USERNAME=${USER.name} Read on source topic ${prefix}user (TOPIC_AUTHORIZATION_FAILED): grant it Read on the source topics (docs/operations.md#kafka-security); until then no topic is read`,
  );
});

test("a dead-letter topic this Kafka user may not write: one line names the topic and what to grant", async (t) => {
  const { prefix, dlq, outageLine } = await startDenied(t, ({ dlq }) =>
    acl(ResourceTypes.TOPIC, dlq, AclOperations.WRITE, AclPermissionTypes.DENY),
  );
  const producer = new Producer({ clientId: "tests", bootstrapBrokers: [broker.plaintext] });
  t.after(() => producer.close());
  await producer.send({
    messages: [{ topic: `${prefix}user`, key: Buffer.from("k"), value: Buffer.from("not json") }],
  });
  assert.equal(
    await outageLine(),
    `Kafka unavailable, pausing and retrying with backoff: dead-letter topic ${dlq}: the brokers refuse the service's Kafka user Write on it (TOPIC_AUTHORIZATION_FAILED): grant it Write and Describe on ${dlq} (docs/operations.md#kafka-security); the letters wait for it`,
  );
});

test("a consumer group this Kafka user may not read: one line names the group and what to grant", async (t) => {
  const { group, outageLine } = await startDenied(t, ({ group }) =>
    acl(ResourceTypes.GROUP, group, AclOperations.READ, AclPermissionTypes.DENY),
  );
  assert.equal(
    await outageLine(),
    `Kafka unavailable, pausing and retrying with backoff: the brokers refuse KAFKA_SASL_USERNAME=${USER.name} Read on the consumer group KAFKA_GROUP_ID=${group} (GROUP_AUTHORIZATION_FAILED): grant it Read on the group (docs/operations.md#kafka-security); until then no topic is read`,
  );
});
