import assert from "node:assert/strict";
import { channel } from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { Admin } from "@platformatic/kafka";
import { Outage } from "../retry.ts";
import { capturingLogger, hungServer } from "../testing/support.ts";
import { answeringFirst, askAnsweringFirst, connectionPoolOf } from "./answering-first.ts";
import { BrokerSilence } from "./broker-silence.ts";

const at = (port: number) => ({ host: "127.0.0.1", port });

test("brokers said silent go last, the others keep their order", () => {
  const brokers = [at(1), at(2), at(3), at(4)];
  const silent = new Set(["127.0.0.1:1", "127.0.0.1:3"]);
  assert.deepEqual(
    answeringFirst(brokers, (a) => silent.has(a)),
    [at(2), at(4), at(1), at(3)],
  );
  assert.deepEqual(
    answeringFirst(brokers, () => false),
    brokers,
  );
  assert.deepEqual(
    answeringFirst(brokers, () => true),
    brokers,
    "all silent: all tried, in order",
  );
  assert.deepEqual(
    answeringFirst([], () => true),
    [],
  );
});

/**
 * The addresses `client` tried, in order, for a request any broker can answer, none of `brokers`
 * answering (nothing listens at ports 1 and 2).
 */
async function triedFor(client: Admin, brokers = [at(1), at(2)]): Promise<string[]> {
  const failed = await connectionPoolOf(client)
    .getFirstAvailable(brokers)
    .then(
      () => assert.fail("nothing answers there"),
      (err: { errors: Error[] }) => err.errors,
    );
  return failed.map((e) => /127\.0\.0\.1:\d+/.exec(String(e.message))?.[0] ?? e.message);
}

/** An Admin of the test's own, `options` over the defaults, watched by a broker watch whose clock is `now`; both closed after. */
function watchedClient(
  t: { after: (fn: () => unknown) => void },
  options: Partial<ConstructorParameters<typeof Admin>[0]> = {},
  now = () => 0,
) {
  const client = new Admin({ clientId: "answering-first-test", bootstrapBrokers: ["127.0.0.1:1"], ...options });
  t.after(() => client.close());
  const silence = new BrokerSilence(new Outage("Kafka", capturingLogger().log), 10_000, now, 60_000);
  t.after(() => silence.close());
  silence.watch(client);
  return { client, silence };
}

test("a client the broker watch times asks a silent broker last, and first again once it answers", async (t) => {
  let now = 0;
  const { client, silence } = watchedClient(t, {}, () => now);
  assert.deepEqual(await triedFor(client), ["127.0.0.1:1", "127.0.0.1:2"]);

  const first = Object.assign(new EventEmitter(), { ownerId: client.instanceId, ...at(1), status: "connected" });
  const request = { connection: first, apiKey: 3 };
  channel("tracing:plt:kafka:connections:api:start").publish(request);
  now = 10_000;
  silence.check();
  assert.deepEqual(await triedFor(client), ["127.0.0.1:2", "127.0.0.1:1"], "said silent: asked last");

  channel("tracing:plt:kafka:connections:api:asyncStart").publish(request);
  assert.deepEqual(await triedFor(client), ["127.0.0.1:1", "127.0.0.1:2"], "it answers again");
});

test("a client without the connection pool looked for is refused, not left unsteered", () => {
  assert.throws(() => askAnsweringFirst({ instanceId: 1 }, () => false), /needs a look/);
});

test("a broker whose connection timed out (a network that drops SYNs) is asked last until one opens", async (t) => {
  const { client } = watchedClient(t);
  const attempt = () =>
    Object.assign(new EventEmitter(), {
      ownerId: client.instanceId,
      ...at(1),
      status: "connecting",
      socket: { destroyed: false },
    });
  const connects = channel("tracing:plt:kafka:connections:connects:start");
  const timedOut = attempt();
  connects.publish({ connection: timedOut, ...at(1) });
  assert.deepEqual(await triedFor(client), ["127.0.0.1:1", "127.0.0.1:2"], "still being opened");
  timedOut.socket.destroyed = true; // as the client does when the connect timeout fires
  assert.deepEqual(await triedFor(client), ["127.0.0.1:2", "127.0.0.1:1"], "timed out: asked last");
  assert.deepEqual(await triedFor(client), ["127.0.0.1:2", "127.0.0.1:1"], "refused since: still last");

  const opened = attempt();
  connects.publish({ connection: opened, ...at(1) });
  opened.status = "connected";
  assert.deepEqual(await triedFor(client), ["127.0.0.1:1", "127.0.0.1:2"], "a connection opened: first again");
});

test("under SASL, a broker that takes connections and never answers their authentication is asked last too", async (t) => {
  // A hung broker's kernel takes the connection; the client then waits for the answer to its SASL
  // exchange until the connect timeout closes the connection (status "authenticating", then "closed").
  const hung = await hungServer(t);
  const { client } = watchedClient(t, {
    bootstrapBrokers: [`${hung.host}:${hung.port}`],
    connectTimeout: 300,
    sasl: { mechanism: "PLAIN", username: "u", password: "p" },
  });
  const tried = () => triedFor(client, [hung, at(1)]);
  const address = `${hung.host}:${hung.port}`;
  // The connection to it, whose close (the connect timeout's) can come after the refusal at port 1.
  const connects = channel("tracing:plt:kafka:connections:connects:start");
  const closed = new Promise((resolve) => {
    const onConnect = (m: unknown) => {
      const { connection, port } = m as { connection: EventEmitter; port: number };
      if (port !== hung.port) return;
      connects.unsubscribe(onConnect);
      connection.once("close", resolve);
    };
    connects.subscribe(onConnect);
  });
  assert.deepEqual(await tried(), [address, "127.0.0.1:1"]);
  await closed;
  assert.deepEqual(await tried(), ["127.0.0.1:1", address], "its authentication went unanswered: asked last");
});
