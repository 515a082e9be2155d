import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RedisClient as Redis } from "@settle/core";
import { checkReadiness, type Logger, type Pool } from "@settle/core";
import type { WorkerMetrics } from "./worker-metrics";

export interface OpsServerOptions {
  port: number;
  host?: string;
  pool: Pool;
  redis: Redis;
  /** Where the Redis probe writes (see checkReadiness). */
  redisProbeKey: string;
  metrics: WorkerMetrics;
  logger: Logger;
}

export interface RunningOpsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's only HTTP: `/healthz` (the process runs), `/readyz` (PostgreSQL and Redis answer, Redis takes writes)
 * and `/metrics`, on WORKER_METRICS_PORT. The bodies match the API's health routes.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<RunningOpsServer> {
  const send = (res: import("node:http").ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" }).end(body);
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD")
      return send(res, 405, "application/json", JSON.stringify({ error: { code: "not_found", message: "GET only" } }));
    if (path === "/healthz") return send(res, 200, "application/json", JSON.stringify({ status: "ok" }));
    if (path === "/readyz") {
      void checkReadiness(options).then(({ ready, postgres, redis, redis_memory }) => {
        send(res, ready ? 200 : 503, "application/json", JSON.stringify({ status: ready ? "ready" : "unavailable", postgres, redis, redis_memory }));
      });
      return;
    }
    if (path === "/metrics") {
      options.metrics.registry.metrics().then(
        (body) => send(res, 200, options.metrics.registry.contentType, body),
        (err) => {
          options.logger.warn({ err }, "metrics: render failed");
          send(res, 500, "text/plain", "metrics unavailable\n");
        },
      );
      return;
    }
    send(res, 404, "application/json", JSON.stringify({ error: { code: "not_found", message: `no route for ${req.method} ${path}` } }));
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  options.logger.info({ url }, "worker health and metrics listening");
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
