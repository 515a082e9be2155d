import { Router } from "express";
import { checkReadiness } from "@settle/core";
import type { ApiDeps } from "../deps";

export function healthRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const { ready, postgres, redis } = await checkReadiness(deps);
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", postgres, redis });
  });
  return router;
}
