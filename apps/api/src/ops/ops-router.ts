import { createHash, timingSafeEqual } from "node:crypto";
import { Router, type RequestHandler } from "express";
import { DomainError } from "@settle/core";
import type { ApiDeps } from "../deps";
import { BULL_BOARD_PATH, bullBoardRouter } from "./bull-board";
import { openApiRouter } from "./openapi";
import type { RouteHandler } from "../routes/router";

/**
 * What the app serves outside the route table, none of it in the OpenAPI document: `/docs`, and
 * Bull Board when admin credentials are set (ops/openapi-routes.ts, UNDOCUMENTED_PREFIXES).
 */
export function opsRouter(deps: ApiDeps): Router {
  const router = Router();
  router.use(openApiRouter());
  // Never served without credentials: without both variables the dashboard is not mounted at all.
  if (deps.config.admin)
    router.use(
      BULL_BOARD_PATH,
      bullBoardRouter({
        queues: [...deps.queues.queues, ...(deps.webhookQueue ? [deps.webhookQueue] : [])],
        admin: deps.config.admin,
        failures: deps.authFailures,
      }),
    );
  return router;
}

/** The start log's line about the dashboard: where it is, or how to enable it. Never the password. */
export function describeDashboard(config: ApiDeps["config"], url: string): { msg: string; fields: Record<string, unknown> } {
  if (!config.admin) {
    return { msg: "Bull Board is off: set ADMIN_USER and ADMIN_PASSWORD (8+ characters) to serve it at " + BULL_BOARD_PATH, fields: {} };
  }
  return {
    msg: "Bull Board is on (HTTP basic auth)",
    fields: { dashboard: `${url}${BULL_BOARD_PATH}`, adminUser: config.admin.user, readOnly: config.admin.readOnly },
  };
}

/** GET /metrics: the Prometheus text of this process. */
export const serveMetrics: RouteHandler = async (_req, res, { metrics }) => {
  const { contentType, body } = await metrics.render();
  res.type(contentType).send(body);
};

/** With METRICS_TOKEN set, /metrics answers only `Authorization: Bearer <token>` (compared in constant time). */
export function metricsGuard(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const digest = (value: string) => createHash("sha256").update(value).digest();
  const expected = digest(`Bearer ${token}`);
  return (req, res, next) => {
    if (timingSafeEqual(digest(req.get("authorization") ?? ""), expected)) return next();
    res.setHeader("WWW-Authenticate", 'Bearer realm="settle-metrics"');
    throw new DomainError("unauthorized", "send METRICS_TOKEN as Authorization: Bearer <token>");
  };
}
