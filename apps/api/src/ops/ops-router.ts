import { Router } from "express";
import type { ApiDeps } from "../deps";
import { BULL_BOARD_PATH, bullBoardRouter } from "./bull-board";
import type { ApiMetrics } from "./metrics";
import { openApiRouter } from "./openapi";

/** `/metrics`, the OpenAPI document and `/docs`, and Bull Board when admin credentials are set. */
export function opsRouter(deps: ApiDeps, metrics: ApiMetrics): Router {
  const router = Router();
  router.get("/metrics", async (_req, res) => {
    const { contentType, body } = await metrics.render();
    res.type(contentType).send(body);
  });
  router.use(openApiRouter());
  // Never served without credentials: without both variables the dashboard is not mounted at all.
  if (deps.config.admin) router.use(BULL_BOARD_PATH, bullBoardRouter({ queues: deps.queues.queues, admin: deps.config.admin }));
  return router;
}

/** The start log's line about the dashboard: where it is, or how to enable it. Never the password. */
export function describeDashboard(config: ApiDeps["config"], url: string): { msg: string; fields: Record<string, unknown> } {
  if (!config.admin) {
    return { msg: "Bull Board is off: set ADMIN_USER and ADMIN_PASSWORD (8+ characters) to serve it at " + BULL_BOARD_PATH, fields: {} };
  }
  return { msg: "Bull Board is on (HTTP basic auth)", fields: { dashboard: `${url}${BULL_BOARD_PATH}`, adminUser: config.admin.user, readOnly: config.admin.readOnly } };
}
