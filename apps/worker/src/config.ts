import { z } from "zod";
import { parseEnv, sharedEnv } from "@settle/core";

const WorkerEnv = z.object({
  ...sharedEnv,
  SETTLE_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  SWEEP_AFTER_SECONDS: z.coerce.number().min(1).max(86_400).default(30),
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  LEASE_TTL_MS: z.coerce.number().int().min(1000).max(120_000).default(5000),
  JOB_LOCK_MS: z.coerce.number().int().min(1000).max(300_000).default(5000),
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  LOG_PRETTY: z.enum(["true", "false"]).default("false"),
  IDEMPOTENCY_TTL_HOURS: z.coerce
    .number()
    .int()
    .min(24, "keys are kept at least 24 hours (docs/API.md)")
    .max(24 * 365)
    .default(24),
});

export interface WorkerConfig {
  databaseUrl: string;
  redisUrl: string;
  partitions: number;
  queuePrefix: string;
  logLevel: string;
  logPretty: boolean;
  dbPoolSize: number;
  /** Pending payments settled per transaction, at most. */
  batchSize: number;
  /** How long a wake-up holds its partition (SETTLE_LINGER_MS, shared with the API). */
  lingerMs: number;
  /** A payment still pending after this long is enqueued again by the sweeper. */
  sweepAfterSeconds: number;
  sweepIntervalMs: number;
  /** A dead worker's partitions are taken over after this long. */
  leaseTtlMs: number;
  /** A dead worker's in-hand job is released to another worker after about this long. */
  jobLockMs: number;
  metricsPort: number | undefined;
  /** Idempotency keys older than this are purged by the sweeper. */
  idempotencyTtlHours: number;
}

/** Parses the worker's environment once; a malformed variable throws an error naming it. */
export function loadConfig(env: Record<string, string | undefined>): WorkerConfig {
  const e = parseEnv(WorkerEnv, env);
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    partitions: e.PARTITIONS,
    queuePrefix: e.QUEUE_PREFIX,
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY === "true",
    dbPoolSize: e.DB_POOL_SIZE,
    batchSize: e.SETTLE_BATCH_SIZE,
    lingerMs: e.SETTLE_LINGER_MS,
    sweepAfterSeconds: e.SWEEP_AFTER_SECONDS,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    leaseTtlMs: e.LEASE_TTL_MS,
    jobLockMs: e.JOB_LOCK_MS,
    metricsPort: e.WORKER_METRICS_PORT,
    idempotencyTtlHours: e.IDEMPOTENCY_TTL_HOURS,
  };
}
