import { withTimeout } from "./timeout";

export interface Readiness {
  ready: boolean;
  postgres: "up" | "down";
  redis: "up" | "down";
}

const PROBE_TIMEOUT_MS = 2000;

const probe = (check: () => Promise<unknown>): Promise<"up" | "down"> =>
  withTimeout(check(), PROBE_TIMEOUT_MS, "readiness probe").then(
    () => "up" as const,
    () => "down" as const,
  );

/** Whether PostgreSQL and Redis answer, each within 2 s: the body of every `/readyz`. */
export async function checkReadiness(services: { pool: { query(sql: string): Promise<unknown> }; redis: { ping(): Promise<unknown> } }): Promise<Readiness> {
  const [postgres, redis] = await Promise.all([probe(() => services.pool.query("SELECT 1")), probe(() => services.redis.ping())]);
  return { ready: postgres === "up" && redis === "up", postgres, redis };
}
