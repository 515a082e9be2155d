import { Router, type Request, type RequestHandler, type Response } from "express";
import type { ApiDeps } from "../deps";
import { requireRole } from "../http/auth";
import { BODY_LIMIT_BYTES, jsonBodyOf } from "../http/json-body";
import type { ApiMetrics } from "../ops/metrics";
import type { RouteSpec } from "../ops/openapi-routes";
// `req.id` and `req.log`, which handlers use, are declared there: in every program the table is.
import type {} from "../http/request-log";

/** What a route's handler works with: the process's dependencies and the API's metrics. */
export interface RouteContext {
  deps: ApiDeps;
  metrics: ApiMetrics;
}

/** A route's handler; Express 5 passes a rejected promise on to the error handler. */
export type RouteHandler = (req: Request, res: Response, ctx: RouteContext) => void | Promise<void>;

/**
 * An Express router serving `routes`, mounted at `mount` (every path starts with it). The middleware
 * of each route follows from its entry in the route table, so a route cannot be served without
 * being documented, nor documented with another role or body than it is served with: its own
 * check (`before`), then `requireRole` for an admin route, then the JSON body parser (at
 * `bodyLimitBytes`) for a route that takes a body, then its handler.
 */
export function routerFor(routes: readonly RouteSpec[], ctx: RouteContext, mount = ""): Router {
  const router = Router();
  const parsers = new Map<number, RequestHandler>();
  const parser = (limit: number) => parsers.get(limit) ?? parsers.set(limit, jsonBodyOf(limit)).get(limit)!;
  for (const route of routes) {
    if (!route.path.startsWith(`${mount}/`)) throw new Error(`route ${route.path} is not under ${mount}/`);
    const chain: RequestHandler[] = [];
    if (route.before) chain.push(route.before(ctx));
    if (route.role === "admin") chain.push(requireRole("admin"));
    if (route.body) chain.push(parser(route.bodyLimitBytes ?? BODY_LIMIT_BYTES));
    chain.push((req, res) => route.handler(req, res, ctx));
    router[route.method](route.path.slice(mount.length), ...chain);
  }
  return router;
}
