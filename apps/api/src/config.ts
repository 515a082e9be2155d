import { availableParallelism } from "node:os";
import { z } from "zod";
import { parseEnv, sharedEnv } from "@settle/core";

const keyList = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[\x21-\x7e]{16,512}$/, "each key must be 16-512 printable characters without spaces")).min(1));

const ApiEnv = z
  .object({
    ...sharedEnv,
    PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
    HOST: z.string().min(1).default("0.0.0.0"),
    ADMIN_USER: z.string().min(1).optional(),
    ADMIN_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
    // Bull Board may retry, remove or clean jobs only when this is "false".
    ADMIN_READ_ONLY: z.enum(["true", "false"]).default("true"),
    LOG_PRETTY: z.enum(["true", "false"]).default("false"),
    API_KEYS: keyList.optional(),
    ADMIN_API_KEYS: keyList.optional(),
    ALLOW_OPEN_API: z.enum(["true", "false"]).default("false"),
    LONG_POLL_MAX: z.coerce.number().int().min(0).max(1_000_000).default(1000),
    SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).max(120_000).default(0),
    NODE_ENV: z.string().optional(),
    METRICS_TOKEN: z
      .string()
      .regex(/^[\x21-\x7e]{16,512}$/, "must be 16-512 printable characters without spaces")
      .optional(),
    ACCEPT_BATCH_MAX: z.coerce.number().int().min(1).max(1000).default(64),
    ACCEPT_GATHER_MS: z.coerce.number().int().min(0).max(50).default(1),
    RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(1000),
    RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(2000),
    // API processes sharing the port under node:cluster; 0: one per core.
    API_PROCESSES: z.coerce.number().int().min(0).max(64).default(1),
  })
  .superRefine((env, ctx) => {
    // An API that anyone who reaches it can use is a development convenience, never a default.
    if (env.NODE_ENV === "production" && !env.API_KEYS && !env.ADMIN_API_KEYS && env.ALLOW_OPEN_API !== "true") {
      ctx.addIssue({
        code: "custom",
        path: ["API_KEYS"],
        message: "NODE_ENV=production needs API_KEYS or ADMIN_API_KEYS (or ALLOW_OPEN_API=true to serve an open API on purpose)",
      });
    }
    if ((env.ADMIN_USER === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
      ctx.addIssue({ code: "custom", path: [env.ADMIN_USER ? "ADMIN_PASSWORD" : "ADMIN_USER"], message: "ADMIN_USER and ADMIN_PASSWORD go together" });
    }
  });

export interface ApiConfig {
  databaseUrl: string;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster's seed nodes, used instead of `redisUrl` when set. */
  redisClusterNodes?: { host: string; port: number }[];
  port: number;
  host: string;
  partitions: number;
  queuePrefix: string;
  logLevel: string;
  logPretty: boolean;
  dbPoolSize: number;
  admin: { user: string; password: string; readOnly: boolean } | undefined;
  /** Bearer keys of role `client`: reads, accounts, payments, batch intake. */
  apiKeys: string[] | undefined;
  /** Bearer keys of role `admin`: everything, disputes, resolves and chargebacks included. No key at all leaves the API open. */
  adminApiKeys: string[] | undefined;
  /** Long polls (`?wait=`) waiting at once in this process, at most; more is 429. 0: no long polls. */
  longPollMax: number;
  /** On SIGTERM, how long /readyz answers 503 while requests are still served, before the server closes. */
  shutdownDelayMs: number;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** Most payments one group-commit INSERT carries; 1 inserts each payment alone. */
  acceptBatchMax: number;
  /** Under steady traffic, how long a small accept batch waits for more before its insert (0: never). */
  acceptGatherMs: number;
  /** How long workers hold a woken partition (SETTLE_LINGER_MS); wake-ups it covers are skipped. */
  lingerMs: number;
  /** Per-client token bucket; perSecond 0 turns it off. */
  rateLimit: { perSecond: number; burst: number };
  /** Webhook URLs may be plain http, or private and loopback addresses (tests, local development). */
  webhookAllowInsecure: boolean;
  /** API processes sharing the port (node:cluster), API_PROCESSES with 0 resolved to the core count. */
  processes: number;
}

/** Parses the API's environment once; a malformed variable throws an error naming it. */
export function loadConfig(env: Record<string, string | undefined>): ApiConfig {
  const e = parseEnv(ApiEnv, env);
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    ...(e.REDIS_CLUSTER_NODES ? { redisClusterNodes: e.REDIS_CLUSTER_NODES } : {}),
    port: e.PORT,
    host: e.HOST,
    partitions: e.PARTITIONS,
    queuePrefix: e.QUEUE_PREFIX,
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY === "true",
    dbPoolSize: e.DB_POOL_SIZE,
    apiKeys: e.API_KEYS,
    adminApiKeys: e.ADMIN_API_KEYS,
    metricsToken: e.METRICS_TOKEN,
    longPollMax: e.LONG_POLL_MAX,
    shutdownDelayMs: e.SHUTDOWN_DELAY_MS,
    acceptBatchMax: e.ACCEPT_BATCH_MAX,
    acceptGatherMs: e.ACCEPT_GATHER_MS,
    lingerMs: e.SETTLE_LINGER_MS,
    webhookAllowInsecure: e.WEBHOOK_ALLOW_INSECURE === "true",
    processes: e.API_PROCESSES === 0 ? availableParallelism() : e.API_PROCESSES,
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    admin: e.ADMIN_USER && e.ADMIN_PASSWORD ? { user: e.ADMIN_USER, password: e.ADMIN_PASSWORD, readOnly: e.ADMIN_READ_ONLY === "true" } : undefined,
  };
}
