import assert from "node:assert/strict";
import { Agent, request, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { type TestContext, test } from "node:test";
import { ConfigError } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { Metrics } from "./metrics.ts";
import { HTTP_TIMEOUTS, startHttpServer } from "./server.ts";

// The HTTP endpoint's surface: it listens on the host it is given only, and a client that opens
// a socket and sends nothing, or stops half-way through its headers, is disconnected.

const metrics = { registry: { metrics: async () => "up 1\n", contentType: "text/plain" } } as unknown as Metrics;
const ready = { check: async () => [] };
const silent = createLogger("silent");

async function start(t: TestContext, host: string): Promise<{ server: Server; port: number }> {
  const server = await startHttpServer({ metricsHost: host, metricsPort: 0 }, metrics, ready, silent);
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { server, port: (server.address() as { port: number }).port };
}

const get = (host: string, port: number, path: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    request({ host, port, path, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });

/** Connects, resolving with the error code when the connection is refused. */
const tryConnect = (host: string, port: number) =>
  new Promise<string>((resolve) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });

/** Waits for the socket's 'close', failing after `limitMs`; resolves with how long it took. */
function closedWithin(socket: Socket, limitMs: number): Promise<number> {
  const opened = performance.now();
  // Reads whatever the server sends (its 408): an unread socket never sees the end, nor 'close'.
  if (socket.listenerCount("data") === 0) socket.resume();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the socket open for more than ${limitMs} ms`));
    }, limitMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(performance.now() - opened);
    });
  });
}

test("listens on the given host only: 127.0.0.1 answers, another loopback address is refused", async (t) => {
  const { server, port } = await start(t, "127.0.0.1");
  assert.equal((server.address() as { address: string }).address, "127.0.0.1");
  assert.deepEqual(await get("127.0.0.1", port, "/healthz"), { status: 200, body: "ok\n" });
  // Linux routes all of 127.0.0.0/8 to loopback: a server on every interface would accept this.
  assert.equal(await tryConnect("127.0.0.2", port), "ECONNREFUSED");
});

test("0.0.0.0 listens on every interface, when asked", async (t) => {
  const { port } = await start(t, "0.0.0.0");
  assert.equal(await tryConnect("127.0.0.2", port), "connected");
});

test("a METRICS_HOST that is no address of this machine is one ConfigError line", async () => {
  await assert.rejects(
    startHttpServer({ metricsHost: "192.0.2.1", metricsPort: 0 }, metrics, ready, silent),
    (err: unknown) => err instanceof ConfigError && /^METRICS_HOST 192\.0\.2\.1 is not an address/.test(err.message),
  );
});

test("a METRICS_HOST the system can't listen on (link-local without its interface, multicast) is one ConfigError line", async () => {
  // Node's listen fails these with EINVAL (EAFNOSUPPORT without IPv6), which went on as an unexpected error with its stack.
  for (const host of ["fe80::1", "ff02::1"]) {
    await assert.rejects(
      startHttpServer({ metricsHost: host, metricsPort: 0 }, metrics, ready, silent),
      (err: unknown) =>
        err instanceof ConfigError && err.message.startsWith(`METRICS_HOST ${host} can't be listened on`),
    );
  }
});

test("a client that connects and sends nothing is disconnected after the headers timeout", async (t) => {
  const { port } = await start(t, "127.0.0.1");
  const socket = connect(port, "127.0.0.1");
  t.after(() => socket.destroy());
  // The timeout, one check interval, and a margin for a loaded machine.
  const limit = HTTP_TIMEOUTS.headersTimeoutMs + HTTP_TIMEOUTS.checkIntervalMs + 3000;
  const took = await closedWithin(socket, limit);
  assert.ok(took >= HTTP_TIMEOUTS.headersTimeoutMs - 100, `closed after ${took} ms, before the timeout`);
});

test("a client that stops half-way through its headers is disconnected too", async (t) => {
  const { port } = await start(t, "127.0.0.1");
  const socket = connect(port, "127.0.0.1", () => socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  t.after(() => socket.destroy());
  let reply = "";
  socket.on("data", (d) => {
    reply += d;
  });
  await closedWithin(socket, HTTP_TIMEOUTS.headersTimeoutMs + HTTP_TIMEOUTS.checkIntervalMs + 3000);
  assert.match(reply, /^HTTP\/1\.1 408 /);
});

test("an idle keep-alive socket is closed after keepAliveTimeout", async (t) => {
  const { port } = await start(t, "127.0.0.1");
  const socket = connect(port, "127.0.0.1", () => socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  t.after(() => socket.destroy());
  let reply = "";
  const answered = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no complete answer in 3 s: ${JSON.stringify(reply)}`)), 3000);
    socket.on("data", (d) => {
      reply += d;
      // The body is chunked; the empty last chunk ends it.
      if (reply.endsWith("\r\n0\r\n\r\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await answered;
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(reply, /keep-alive/i);
  const took = await closedWithin(socket, HTTP_TIMEOUTS.keepAliveTimeoutMs + 3000);
  assert.ok(took >= HTTP_TIMEOUTS.keepAliveTimeoutMs - 100, `closed after ${took} ms`);
});

test("requests pipelined behind an unanswered one make no answers: the socket is closed, the heap keeps nothing", async (t) => {
  let pages = 0;
  const page = "x".repeat(12_000); // about what the service's /metrics holds
  const counting = {
    registry: {
      metrics: async () => {
        pages++;
        return page;
      },
      contentType: "text/plain",
    },
  } as unknown as Metrics;
  const server = await startHttpServer({ metricsHost: "127.0.0.1", metricsPort: 0 }, counting, ready, silent);
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as { port: number };
  // 1,000 requests in one write (33 KB), and nothing read: each once became a page held in the heap.
  const socket = connect(port, "127.0.0.1");
  t.after(() => socket.destroy());
  socket.pause();
  socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  // Read now: the socket ends after at most the first answer.
  let read = 0;
  socket.on("data", (d: Buffer) => {
    read += d.length;
  });
  socket.resume();
  await closedWithin(socket, 3000);
  assert.ok(read <= 13_000, `${read} bytes of answers on one socket`);
  assert.ok(pages <= 1, `${pages} pages made for one socket`);
  // A keep-alive client that asks one request at a time, on one socket, is answered every time.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const sockets = new Set<unknown>();
  for (let i = 0; i < 3; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: "127.0.0.1", port, path: "/metrics", agent }, (res) => {
        sockets.add(res.socket);
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
        .on("error", reject)
        .end();
    });
    assert.equal(status, 200);
  }
  assert.equal(sockets.size, 1);
});

test("a client that sends a request and never reads the answer is disconnected", async (t) => {
  const big = {
    registry: { metrics: async () => "x".repeat(8_000_000), contentType: "text/plain" },
  } as unknown as Metrics;
  const timeouts = { ...HTTP_TIMEOUTS, idleTimeoutMs: 1000 };
  const server = await startHttpServer({ metricsHost: "127.0.0.1", metricsPort: 0 }, big, ready, silent, timeouts);
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as { port: number };
  const socket = connect(port, "127.0.0.1");
  t.after(() => socket.destroy());
  socket.pause();
  socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  // Paused, the socket still sees its end: the server destroyed it.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the non-reading socket was kept")), 8000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("end", () => socket.destroy());
    setTimeout(() => socket.resume(), 6000).unref();
  });
});

test("scrapers asking at once, or back to back, share pages: at most one per interval, none older than its request", async (t) => {
  let pages = 0;
  let state = 0;
  const counting = {
    registry: {
      metrics: async () => {
        pages++;
        return `state ${state}\n`;
      },
      contentType: "text/plain",
    },
  } as unknown as Metrics;
  const server = await startHttpServer({ metricsHost: "127.0.0.1", metricsPort: 0 }, counting, ready, silent);
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as { port: number };
  // 30 clients at once (within one address's share of connections), each on its own socket: they once made 30 pages.
  const answers = await Promise.all(Array.from({ length: 30 }, () => get("127.0.0.1", port, "/metrics")));
  assert.ok(
    answers.every((a) => a.status === 200),
    "every scraper is answered",
  );
  assert.ok(pages <= 3, `${pages} pages for 30 scrapers asking at once`);
  // Back to back for a second: one page per request, as fast as the loop went, before.
  pages = 0;
  const until = performance.now() + 1000;
  let asked = 0;
  while (performance.now() < until) {
    state++;
    const seen = state;
    const { body } = await get("127.0.0.1", port, "/metrics");
    asked++;
    // Made after the request came: never a page of before.
    assert.ok(Number(body.split(" ")[1]) >= seen, `page "${body.trim()}" older than the request (state ${seen})`);
  }
  const most = Math.ceil(1000 / HTTP_TIMEOUTS.metricsIntervalMs) + 1;
  assert.ok(pages <= most, `${pages} pages for ${asked} back-to-back scrapes in 1 s (at most ${most})`);
});
