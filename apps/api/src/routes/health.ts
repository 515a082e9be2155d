import { checkReadiness } from "@settle/core";
import type { RouteHandler } from "./router";

// The handlers of /healthz and /readyz; their routes are in the route table (ops/openapi-routes.ts).

export const healthz: RouteHandler = (_req, res) => {
  res.json({ status: "ok" });
};

export const readyz: RouteHandler = async (_req, res, { deps }) => {
  const { ready: up, postgres, redis, redis_memory } = await checkReadiness({ ...deps, redisProbeKey: `${deps.config.queuePrefix}:readyz:api` });
  // A stopping process says so at once, so a load balancer stops sending before it closes.
  const ready = up && !deps.lifecycle.stopping;
  res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", postgres, redis, redis_memory });
};
