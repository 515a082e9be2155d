import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AcceptBatcher,
  assertMigrated,
  withTimeout,
  createLogger,
  createPool,
  createRedis,
  createWebhookQueue,
  ensurePartitionCount,
  PartitionQueues,
  PartitionWaker,
  type Logger,
} from "@settle/core";
import { createApp } from "./app";
import { AuthFailures } from "./http/auth-failures";
import type { ApiConfig } from "./config";
import type { ApiDeps } from "./deps";
import { describeDashboard } from "./ops/ops-router";
import { PaymentEvents } from "./payment-events";

export interface RunningApi {
  deps: ApiDeps;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Starts the API on `config.port` (0 picks a free one); `close()` drains requests, then pools. */
export async function startApi(config: ApiConfig, logger?: Logger): Promise<RunningApi> {
  const log = logger ?? createLogger({ level: config.logLevel, name: "settle-api", pretty: config.logPretty });
  const pool = createPool({ url: config.databaseUrl, max: config.dbPoolSize, applicationName: "settle-api" });
  await assertMigrated(pool);
  await ensurePartitionCount(pool, config.partitions);
  const redis = createRedis({ url: config.redisUrl, clusterNodes: config.redisClusterNodes }, "producer");
  const queues = new PartitionQueues(redis, { prefix: config.queuePrefix, partitions: config.partitions });
  // BullMQ waits for Redis to be ready; the API must start (and accept into PostgreSQL) without it.
  void withTimeout(queues.enforceGlobalConcurrency(), 5000, "setting partition concurrency").catch((err) =>
    log.warn({ err }, "could not set partition concurrency in Redis yet; workers set it too"),
  );
  const events = new PaymentEvents(config.databaseUrl, log);
  await events.start();
  // One group-commit insert at a time: everything that arrives meanwhile shares the next one, so a
  // commit (the unit of cost in PostgreSQL) carries as many payments as the load offers. Measured
  // against half the pool in flight: 1.4× settled/s and a third less CPU per payment (BENCHMARKS.md).
  const batcher =
    config.acceptBatchMax > 1 ? new AcceptBatcher(pool, { maxBatch: config.acceptBatchMax, maxInFlight: 1, gatherMs: config.acceptGatherMs }) : undefined;
  const waker = new PartitionWaker(queues, { logger: log, lingerMs: config.lingerMs });
  // For the dashboard only: the workers add and consume its jobs.
  const webhookQueue = createWebhookQueue(redis, config.queuePrefix);
  const deps: ApiDeps = {
    config,
    pool,
    redis,
    queues,
    webhookQueue,
    waker,
    logger: log,
    events,
    batcher,
    authFailures: new AuthFailures(),
    lifecycle: { stopping: false },
  };
  const app = createApp(deps);
  // Bounded headers and slow-client timeouts; requestTimeout leaves room for a 30 s long poll.
  const server = createServer({ maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 45_000 }, app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  log.info({ url }, "api listening");
  if (!config.apiKeys && !config.adminApiKeys) log.warn("neither API_KEYS nor ADMIN_API_KEYS is set: /api/v1 is open to anyone who can reach this port");
  const dashboard = describeDashboard(config, url);
  log.info(dashboard.fields, dashboard.msg);
  let closing: Promise<void> | undefined;
  return {
    deps,
    server,
    url,
    close() {
      closing ??= (async () => {
        deps.lifecycle.stopping = true;
        if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
        await new Promise<void>((resolve) => {
          // A busy keep-alive connection is never idle: without this, server.close() waits for the client to hang up.
          server.prependListener("request", (_req, res) => res.setHeader("Connection", "close"));
          server.close(() => resolve());
          server.closeIdleConnections();
          // Long polls end now (answering with the current state) rather than holding the stop up.
          void events.close();
        });
        await withTimeout(Promise.all([queues.close(), webhookQueue.close()]), 2000, "closing queues").catch(() => undefined);
        await withTimeout(redis.quit(), 1000, "closing redis").catch(() => redis.disconnect());
        await pool.end();
      })();
      return closing;
    },
  };
}
