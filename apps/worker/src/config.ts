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
  // What this worker does: settle (partitions, the sweeper and its housekeeping) and/or webhooks
  // (delivery), so that delivery can run on machines of its own.
  WORKER_ROLES: z
    .string()
    .transform((v) => [...new Set(v.split(",").map((r) => r.trim()))])
    .pipe(z.array(z.enum(["settle", "webhooks"], { error: "each role must be settle or webhooks" })).min(1))
    .default(["settle", "webhooks"]),
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  WEBHOOK_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  // Decimal hours: tests give a delivery seconds, production days.
  WEBHOOK_RETRY_HOURS: z.coerce
    .number()
    .min(0.0001)
    .max(24 * 30)
    .default(72),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
  WEBHOOK_DISABLE_AFTER: z.coerce.number().int().min(1).max(1_000_000).default(5),
});

export interface WorkerConfig {
  databaseUrl: string;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster's seed nodes, used instead of `redisUrl` when set. */
  redisClusterNodes?: { host: string; port: number }[];
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
  /** `settle`: partitions, the sweeper and housekeeping; `webhooks`: webhook delivery. */
  roles: { settle: boolean; webhooks: boolean };
  /** Events (and their deliveries) older than this are purged by the sweeper. */
  eventRetentionDays: number;
  webhooks: {
    pollMs: number;
    timeoutMs: number;
    concurrency: number;
    allowInsecure: boolean;
    /** Exponential backoff from `baseDelayMs`, capped at an hour; given up `retryForMs` after the event. */
    policy: { baseDelayMs: number; maxDelayMs: number; retryForMs: number; disableAfterFailedDeliveries: number };
  };
}

/** Parses the worker's environment once; a malformed variable throws an error naming it. */
export function loadConfig(env: Record<string, string | undefined>): WorkerConfig {
  const e = parseEnv(WorkerEnv, env);
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    ...(e.REDIS_CLUSTER_NODES ? { redisClusterNodes: e.REDIS_CLUSTER_NODES } : {}),
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
    roles: { settle: e.WORKER_ROLES.includes("settle"), webhooks: e.WORKER_ROLES.includes("webhooks") },
    eventRetentionDays: e.EVENT_RETENTION_DAYS,
    webhooks: {
      pollMs: e.WEBHOOK_POLL_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      allowInsecure: e.WEBHOOK_ALLOW_INSECURE === "true",
      policy: {
        baseDelayMs: e.WEBHOOK_RETRY_BASE_MS,
        maxDelayMs: Math.max(e.WEBHOOK_RETRY_BASE_MS, 3_600_000),
        retryForMs: e.WEBHOOK_RETRY_HOURS * 3_600_000,
        disableAfterFailedDeliveries: e.WEBHOOK_DISABLE_AFTER,
      },
    },
  };
}
