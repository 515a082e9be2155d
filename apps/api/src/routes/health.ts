import { Router } from "express";
import type { ApiDeps } from "../deps";

async function probe(check: () => Promise<unknown>, timeoutMs: number): Promise<"up" | "down"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([check(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), timeoutMs)))]);
    return "up";
  } catch {
    return "down";
  } finally {
    clearTimeout(timer);
  }
}

export function healthRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const [postgres, redis] = await Promise.all([probe(() => deps.pool.query("SELECT 1"), 2000), probe(() => deps.redis.ping(), 2000)]);
    const ready = postgres === "up" && redis === "up";
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", postgres, redis });
  });
  return router;
}
