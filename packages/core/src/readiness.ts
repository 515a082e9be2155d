import { withTimeout } from "./timeout";

export interface Readiness {
  ready: boolean;
  postgres: "up" | "down";
  redis: "up" | "down";
  /**
   * `full`: Redis answers but refuses writes (maxmemory reached under `noeviction`); `unknown`
   * while it does not answer.
   */
  redis_memory: "ok" | "full" | "unknown";
}

const PROBE_TIMEOUT_MS = 2000;

const probe = (check: () => Promise<unknown>): Promise<"up" | "down"> =>
  withTimeout(check(), PROBE_TIMEOUT_MS, "readiness probe").then(
    () => "up" as const,
    () => "down" as const,
  );

/** Redis's answer to a write it refuses for memory: `OOM command not allowed when used memory > 'maxmemory'`. */
export function isRedisOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("OOM ");
}

export interface ReadinessServices {
  pool: { query(sql: string): Promise<unknown> };
  redis: { set(key: string, value: string, mode: "PX", ms: number): Promise<unknown> };
  /** The key the Redis probe writes (a few bytes, expiring in 5 s): a write, so a full Redis shows. */
  redisProbeKey: string;
}

/** Whether PostgreSQL and Redis answer, each within 2 s, and Redis takes writes: the body of every `/readyz`. */
export async function checkReadiness(services: ReadinessServices): Promise<Readiness> {
  const write = (): Promise<"ok" | "full"> =>
    services.redis.set(services.redisProbeKey, "1", "PX", 5000).then(
      () => "ok" as const,
      (error: unknown) => {
        if (isRedisOutOfMemory(error)) return "full" as const;
        throw error;
      },
    );
  const memory = withTimeout(write(), PROBE_TIMEOUT_MS, "readiness probe").catch(() => "unknown" as const);
  const [postgres, redisMemory] = await Promise.all([probe(() => services.pool.query("SELECT 1")), memory]);
  const redis = redisMemory === "unknown" ? "down" : "up";
  return { ready: postgres === "up" && redisMemory === "ok", postgres, redis, redis_memory: redisMemory };
}
