import { createServer, type Server } from "node:http";
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

export async function startHttpServer(
  port: number,
  metrics: Metrics,
  readiness: Readiness,
  log: Logger,
): Promise<Server> {
  const server = createServer((req, res) => {
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
      metrics.registry.metrics().then(
        (text) => reply(200, metrics.registry.contentType, text),
        (err: unknown) => reply(500, "text/plain", `${String(err)}\n`),
      );
      return;
    }
    reply(404, "text/plain", "not found: try /metrics, /healthz or /readyz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new ConfigError(
              `METRICS_PORT ${port} is in use by another process; free it or set METRICS_PORT (0 turns it off)`,
            )
          : err,
      ),
    );
    server.listen(port, () => resolve());
  });
  log.info(
    { port: (server.address() as { port: number }).port },
    `metrics and health on :${(server.address() as { port: number }).port}`,
  );
  return server;
}
