// An API and workers inside the test process, against a database and a queue prefix of their own.
import { createLogger, type Logger } from "@settle/core";
import { createTestDatabase, TEST_REDIS_URL, uniquePrefix, type TestDatabase } from "@settle/core/testing";
import { loadConfig as loadApiConfig } from "../../apps/api/src/config";
import { startApi, type RunningApi } from "../../apps/api/src/server";
import { loadConfig as loadWorkerConfig } from "../../apps/worker/src/config";
import { SettleWorker } from "../../apps/worker/src/settle-worker";
import { clearPrefix } from "./processes";

export interface InProcessSystem {
  db: TestDatabase;
  prefix: string;
  api: RunningApi;
  workers: SettleWorker[];
  env: Record<string, string>;
  logger: Logger;
  startWorker(extraEnv?: Record<string, string>): Promise<SettleWorker>;
  stop(): Promise<void>;
}

/**
 * Starts one API (on a free port) and `workers` worker instances; `stop()` closes all, drops the
 * database and deletes the prefix's keys from the shared Redis.
 */
export async function startInProcess(
  label: string,
  options: { workers?: number; env?: Record<string, string>; apiEnv?: Record<string, string> } = {},
): Promise<InProcessSystem> {
  const db = await createTestDatabase(label);
  const prefix = uniquePrefix(label);
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? "silent", name: label });
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    PARTITIONS: "8",
    ...options.env,
  };
  const api = await startApi(loadApiConfig({ ...env, PORT: "0", HOST: "127.0.0.1", ...options.apiEnv }), logger);
  const workers: SettleWorker[] = [];
  const startWorker = async (extraEnv: Record<string, string> = {}) => {
    const worker = new SettleWorker(loadWorkerConfig({ LEASE_TTL_MS: "2000", SWEEP_INTERVAL_MS: "500", ...env, ...extraEnv }), {}, logger);
    await worker.start();
    workers.push(worker);
    return worker;
  };
  for (let i = 0; i < (options.workers ?? 1); i++) await startWorker();
  return {
    db,
    prefix,
    api,
    workers,
    env,
    logger,
    startWorker,
    async stop() {
      try {
        await Promise.all(workers.map((w) => w.stop()));
        await api.close();
      } finally {
        await db.drop();
        // Only once the API and workers are closed: nothing may write a key (a lease, a readiness
        // probe) after the deletion. In `finally`, so a failed stop leaves no keys behind either.
        await clearPrefix(env.REDIS_URL!, prefix);
      }
    },
  };
}
