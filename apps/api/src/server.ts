import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, createPool, createRedis, ensurePartitionCount, PartitionQueues, type Logger } from "@settle/core";
import { createApp } from "./app";
import type { ApiConfig } from "./config";
import type { ApiDeps } from "./deps";
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
  await ensurePartitionCount(pool, config.partitions);
  const redis = createRedis(config.redisUrl, "producer");
  const queues = new PartitionQueues(redis, { prefix: config.queuePrefix, partitions: config.partitions });
  await queues.enforceGlobalConcurrency().catch((err) => log.warn({ err }, "could not set partition concurrency in Redis yet; workers set it too"));
  const events = new PaymentEvents(config.databaseUrl, log);
  await events.start();
  const deps: ApiDeps = { config, pool, redis, queues, logger: log, events };
  const app = createApp(deps);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  log.info({ url }, "api listening");
  let closing: Promise<void> | undefined;
  return {
    deps,
    server,
    url,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // Long polls end now (answering with the current state) rather than holding the stop up.
          void events.close();
        });
        await queues.close().catch(() => undefined);
        await redis.quit().catch(() => undefined);
        await pool.end();
      })();
      return closing;
    },
  };
}
