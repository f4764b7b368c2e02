import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import type { Config } from "../config/index.ts";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "./metrics.ts";

// /metrics (Prometheus), /healthz (the process answers), /readyz (it can do its job: the
// database answers, the group is joined, no outage has paused it). Readiness is computed on
// request so a probe sees the present, not the last batch.

export interface Readiness {
  /** Reasons the service is not ready; empty when it is. */
  check(): Promise<string[]>;
}

/**
 * How long a client may take; past it the socket is closed. A scraper or probe sends its request
 * at once and is answered in milliseconds, so seconds are plenty; without limits a client that
 * opens sockets and sends nothing (or dribbles headers) holds each one forever.
 */
export const HTTP_TIMEOUTS = {
  /** Connection to complete headers: also drops a socket that never sends a byte. */
  headersTimeoutMs: 5000,
  /** Connection to complete request. Node wants it at least headersTimeoutMs. */
  requestTimeoutMs: 10000,
  /** Idle keep-alive socket between two requests. */
  keepAliveTimeoutMs: 5000,
  /**
   * A socket on which nothing moves, either way: a client that sent its request and does not
   * read the answer is disconnected, and the answer it holds freed.
   */
  idleTimeoutMs: 10000,
  /**
   * How often Node checks the first two. Its default (30 s) would let a silent socket live up to
   * 35 s rather than 5.
   */
  checkIntervalMs: 1000,
  /**
   * Least time between the starts of two /metrics pages. A page takes milliseconds of the event
   * loop the batches share; scrapers asking back to back, each computing its own, kept the
   * MySQL answers waiting behind them and slowed a drain several times over.
   */
  metricsIntervalMs: 100,
};

/**
 * The /metrics page, made no earlier than each request that asks for it: requests that come
 * while a page is still to be made wait for that one, and a new page is made at most once per
 * `intervalMs`. However many clients scrape, however fast, the pages cost a bounded share of the
 * event loop, and a scrape never sees an older state than when it came.
 */
export function pageMaker(render: () => Promise<string>, intervalMs: number): () => Promise<string> {
  let next: Promise<string> | undefined;
  let lastStart = Number.NEGATIVE_INFINITY;
  return () => {
    if (next !== undefined) return next;
    const wait = Math.max(0, lastStart + intervalMs - performance.now());
    next = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(() => {
      // From here on a request waits for the page after this one: this one may be made already.
      next = undefined;
      lastStart = performance.now();
      return render();
    });
    return next;
  };
}

/**
 * How many connections the endpoint keeps at once; past them a new one is closed as it comes. Each
 * holds a socket and up to 16 KB of unfinished headers in the 256 MB heap for the 5 s they are
 * given: unbounded, 18,000 clients sending 15 KB of headers each ran the heap out in a second (a
 * crash), and at the open-files limit MySQL and Kafka could not reconnect (EMFILE). One address
 * gets a share only, so a single flooding client leaves room for the probes and the scraper.
 */
export const HTTP_LIMITS = {
  connections: 512,
  connectionsPerAddress: 32,
};

/**
 * Listens on METRICS_HOST (127.0.0.1 unless set: the endpoints tell anyone who can reach them
 * about the service, so other hosts are let in only when asked, as the image does) and
 * METRICS_PORT.
 */
export async function startHttpServer(
  { metricsHost: host, metricsPort: port }: Pick<Config, "metricsHost" | "metricsPort">,
  metrics: Metrics,
  readiness: Readiness,
  log: Logger,
  timeouts = HTTP_TIMEOUTS,
  limits = HTTP_LIMITS,
): Promise<Server> {
  /** Sockets whose answer is still being written. */
  const answering = new WeakSet<Socket>();
  const metricsPage = pageMaker(() => metrics.registry.metrics(), timeouts.metricsIntervalMs);
  const server = createServer({ connectionsCheckingInterval: timeouts.checkIntervalMs }, (req, res) => {
    // A request pipelined behind one not yet answered: Node would make its answer now and hold
    // it until the client reads the ones before, so a client that sends thousands in one write
    // and reads nothing would hold thousands of /metrics pages in the heap, and a few such
    // sockets would run it out. No scraper or probe pipelines: the socket is closed, and no
    // answer made.
    const socket = req.socket;
    if (answering.has(socket)) {
      socket.destroy();
      return;
    }
    answering.add(socket);
    res.once("close", () => answering.delete(socket));
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    if (req.method !== "GET") return reply(405, "text/plain", "method not allowed\n");
    if (path === "/healthz") return reply(200, "text/plain", "ok\n");
    if (path === "/readyz") {
      readiness.check().then(
        (reasons) =>
          reasons.length === 0
            ? reply(200, "text/plain", "ready\n")
            : reply(503, "text/plain", `${reasons.join("\n")}\n`),
        (err: unknown) => reply(503, "text/plain", `${String(err)}\n`),
      );
      return;
    }
    if (path === "/metrics") {
      metricsPage().then(
        (text) => reply(200, metrics.registry.contentType, text),
        (err: unknown) => reply(500, "text/plain", `${String(err)}\n`),
      );
      return;
    }
    reply(404, "text/plain", "not found: try /metrics, /healthz or /readyz\n");
  });
  server.headersTimeout = timeouts.headersTimeoutMs;
  server.requestTimeout = timeouts.requestTimeoutMs;
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs;
  server.timeout = timeouts.idleTimeoutMs;
  // Node closes a connection past maxConnections before it is a socket here.
  server.maxConnections = limits.connections;
  const perAddress = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const count = (perAddress.get(address) ?? 0) + 1;
    if (count > limits.connectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, count);
    socket.once("close", () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new ConfigError(
              `METRICS_PORT ${port} is in use by another process; free it or set METRICS_PORT (0 turns it off)`,
            )
          : err.code === "EACCES"
            ? new ConfigError(
                `METRICS_PORT ${port} needs privileges this process lacks (ports below 1024 usually do); set METRICS_PORT to 1024 or above (9464 is the usual one)`,
              )
            : err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND" || err.code === "EAI_AGAIN"
              ? new ConfigError(
                  `METRICS_HOST ${host} is not an address of this machine; set it to one (127.0.0.1, or 0.0.0.0 for every interface)`,
                )
              : err.code === "EINVAL" || err.code === "EAFNOSUPPORT"
                ? new ConfigError(
                    `METRICS_HOST ${host} can't be listened on (${err.code}): a multicast address, a link-local one without its interface (fe80::1%eth0), or IPv6 on a machine without it; set it to an address of this machine (127.0.0.1, or 0.0.0.0 for every interface)`,
                  )
                : err,
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as { address: string; port: number };
  const where = bound.address.includes(":") ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  log.info({ host: bound.address, port: bound.port }, `metrics and health on ${where}`);
  return server;
}
