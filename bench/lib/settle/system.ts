// Starting the system of a Settle run: the API and the workers, ready for load.
import path from "node:path";
import { createRedis, type RedisTarget } from "@settle/core";
import { describeExit } from "@settle/core/testing";
import { freePort, ROOT, startChild, waitForHttp, type Child } from "../children";
import type { BenchOptions } from "../options";

export interface ProcessSet {
  api: Child;
  workers: Child[];
  /** Workers of role webhooks only (--webhook-workers). */
  webhookWorkers: Child[];
}

export async function startSystem(
  opts: BenchOptions,
  workerCount: number,
  dbUrl: string,
  prefix: string,
  logDir: string,
  cpuProfDir: string | undefined,
): Promise<{ procs: ProcessSet; baseUrl: string }> {
  const port = await freePort();
  const common: Record<string, string> = {
    DATABASE_URL: dbUrl,
    REDIS_URL: opts.redis.url,
    ...(opts.redis.clusterNodes ? { REDIS_CLUSTER_NODES: opts.redis.clusterNodes.map((n) => `${n.host}:${n.port}`).join(",") } : {}),
    QUEUE_PREFIX: prefix,
    PARTITIONS: String(opts.partitions),
    LOG_LEVEL: opts.logLevel,
  };
  if (opts.batchSize) common.SETTLE_BATCH_SIZE = String(opts.batchSize);
  // The bench's receiver listens on 127.0.0.1 over plain http.
  if (opts.webhooks) common.WEBHOOK_ALLOW_INSECURE = "true";
  // One directory per process: V8 writes a profile per thread (tsx's loader hooks run on their own
  // thread), and only the main thread's (thread id 0 in the file name) is the process's work.
  const nodeOptions = (name: string) => (cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${path.join(cpuProfDir, name)}`] : []);
  const api = startChild("api", {
    cwd: path.join(ROOT, "apps/api"),
    script: "src/main.ts",
    env: { ...common, PORT: String(port), HOST: "127.0.0.1", RATE_LIMIT_PER_SECOND: "0", API_PROCESSES: String(opts.apiProcesses) },
    logFile: path.join(logDir, "api.log"),
    nodeOptions: nodeOptions("api"),
  });
  // The per-client rate limit would cap the driver (one client): a benchmark measures capacity.
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${baseUrl}/healthz`, api);
  const apart = opts.webhooks && opts.webhookWorkers > 0;
  const worker = (name: string, roles: string | undefined) =>
    startChild(name, {
      cwd: path.join(ROOT, "apps/worker"),
      script: "src/main.ts",
      env: roles ? { ...common, WORKER_ROLES: roles } : common,
      logFile: path.join(logDir, `${name}.log`),
      nodeOptions: nodeOptions(name),
    });
  const workers = Array.from({ length: workerCount }, (_, i) => worker(`worker-${i + 1}`, apart ? "settle" : undefined));
  const webhookWorkers = apart ? Array.from({ length: opts.webhookWorkers }, (_, i) => worker(`webhook-worker-${i + 1}`, "webhooks")) : [];
  await waitForLeases(opts.redis, opts.partitions, prefix, workers);
  return { procs: { api, workers, webhookWorkers }, baseUrl };
}

/**
 * Waits until every worker has registered and every partition is leased, so that the load does
 * not start while workers are still loading (their start-up would show as queue latency).
 */
async function waitForLeases(target: RedisTarget, partitions: number, prefix: string, workers: Child[], timeoutMs = 60_000): Promise<void> {
  const redis = createRedis(target, "worker");
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      for (const w of workers) if (!w.running) throw new Error(`${w.name} exited (${describeExit(w.exitedWith!)}); see ${w.logFile}`);
      const live = await redis.zcount(`${prefix}:workers`, Date.now(), "+inf");
      // One key at a time: on a Redis Cluster the leases live in different slots.
      const owners = await Promise.all(Array.from({ length: partitions }, (_, p) => redis.get(`${prefix}:lease:${p}`)));
      const leases = owners.filter((o) => o !== null).length;
      if (live >= workers.length && leases >= partitions) return;
      if (Date.now() > deadline) throw new Error(`workers not ready after ${timeoutMs} ms (${live} registered, ${leases}/${partitions} partitions leased)`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    redis.disconnect();
  }
}
