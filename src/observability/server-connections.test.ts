import assert from "node:assert/strict";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { type TestContext, test } from "node:test";
import { createLogger } from "../log.ts";
import type { Metrics } from "./metrics.ts";
import { HTTP_LIMITS, startHttpServer } from "./server.ts";

// However many connections are opened, the endpoint keeps a bounded number: each holds a socket
// (a file descriptor MySQL and Kafka need too) and up to 16 KB of unfinished headers in the heap.

const metrics = { registry: { metrics: async () => "up 1\n", contentType: "text/plain" } } as unknown as Metrics;
const ready = { check: async () => [] };

async function start(t: TestContext): Promise<number> {
  const server = await startHttpServer(
    { metricsHost: "127.0.0.1", metricsPort: 0 },
    metrics,
    ready,
    createLogger("silent"),
  );
  t.after(
    () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  );
  return (server.address() as { port: number }).port;
}

/** Sockets from `from` that each send half their headers and never finish them. */
function halfRequests(t: TestContext, port: number, from: string, n: number): { open: () => number } {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const socket = connect({ port, host: "127.0.0.1", localAddress: from }, () =>
      socket.write(`GET /metrics HTTP/1.1\r\nX-Pad: ${"x".repeat(8000)}\r\n`),
    );
    socket.on("error", () => {});
    socket.resume();
    sockets.push(socket);
  }
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  return { open: () => sockets.filter((s) => !s.closed).length };
}

/** Polls `cond` every 50 ms for up to `ms` (well within the 5 s headers timeout). */
async function within(ms: number, cond: () => boolean): Promise<boolean> {
  const until = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

const healthz = (port: number, from: string) =>
  new Promise<number | string>((resolve) => {
    request({ host: "127.0.0.1", port, path: "/healthz", localAddress: from, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)))
      .end();
  });

test("one address gets its share of connections; another is still answered", async (t) => {
  const port = await start(t);
  const flood = halfRequests(t, port, "127.0.0.1", HTTP_LIMITS.connectionsPerAddress + 20);
  const kept = await within(2000, () => flood.open() === HTTP_LIMITS.connectionsPerAddress);
  assert.ok(kept, `${flood.open()} connections of one address kept (its share: ${HTTP_LIMITS.connectionsPerAddress})`);
  // The probe and the scraper come from elsewhere.
  assert.equal(await healthz(port, "127.0.0.2"), 200);
});

test("all addresses together get at most HTTP_LIMITS.connections", async (t) => {
  const port = await start(t);
  const per = HTTP_LIMITS.connectionsPerAddress;
  const addresses = Math.ceil(HTTP_LIMITS.connections / per) + 2;
  const floods = Array.from({ length: addresses }, (_, i) => halfRequests(t, port, `127.0.1.${i + 1}`, per));
  const open = () => floods.reduce((sum, f) => sum + f.open(), 0);
  const kept = await within(3000, () => open() === HTTP_LIMITS.connections);
  assert.ok(kept, `${open()} connections kept (at most ${HTTP_LIMITS.connections})`);
});
