import { Router } from "express";
import { checkReadiness } from "@settle/core";
import type { ApiDeps } from "../deps";

export function healthRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const { ready: up, postgres, redis, redis_memory } = await checkReadiness({ ...deps, redisProbeKey: `${deps.config.queuePrefix}:readyz:api` });
    // A stopping process says so at once, so a load balancer stops sending before it closes.
    const ready = up && !deps.lifecycle.stopping;
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", postgres, redis, redis_memory });
  });
  return router;
}
