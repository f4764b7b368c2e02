import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer } from "node:net";
import { test } from "node:test";
import { startLatencyProxy } from "./latency-proxy.ts";

// The benchmark's stand-in for a database on another host: every byte arrives, in order, no
// sooner than the delay each way.

test("the latency proxy relays both ways, in order, after the delay each way", async (t) => {
  const echo = createServer((socket) => socket.pipe(socket));
  echo.listen(0, "127.0.0.1");
  await once(echo, "listening");
  t.after(() => echo.close());
  const proxy = await startLatencyProxy({ host: "127.0.0.1", port: (echo.address() as AddressInfo).port }, 25);
  t.after(() => proxy.close());

  const client = connect(proxy.port, "127.0.0.1");
  await once(client, "connect");
  t.after(() => client.destroy());
  const chunks = Array.from({ length: 50 }, (_, i) => `chunk ${i};`);
  const expected = chunks.join("");
  let received = "";
  const started = performance.now();
  const all = new Promise<number>((resolve) => {
    client.on("data", (data) => {
      received += data.toString();
      if (received.length >= expected.length) resolve(performance.now() - started);
    });
  });
  for (const chunk of chunks) client.write(chunk);
  const elapsed = await all;
  assert.equal(received, expected);
  assert.ok(elapsed >= 45, `echoed after ${elapsed.toFixed(1)} ms, sooner than 25 ms each way`);
});
