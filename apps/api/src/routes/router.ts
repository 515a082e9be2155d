import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { ApiDeps } from "../deps";
import { requireRole } from "../http/auth";
import { BODY_LIMIT_BYTES, jsonBodyOf } from "../http/json-body";
import type { ApiMetrics } from "../ops/metrics";
import type { RouteSpec } from "../ops/openapi-routes";
import type { ServedRoute } from "../ops/route-inventory";
import { RouteIndex } from "./route-index";
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
 * One middleware serving `routes`, mounted at `mount` (every path starts with it). The middleware
 * of each route follows from its entry in the route table, so a route cannot be served without
 * being documented, nor documented with another role or body than it is served with: its own
 * check (`before`), then `requireRole` for an admin route, then the JSON body parser (at
 * `bodyLimitBytes`) for a route that takes a body, then its handler. A request none of them serves
 * goes on to the next middleware; an OPTIONS request for a path they serve is answered with its
 * methods, as Express's router does.
 */
export function routerFor(routes: readonly RouteSpec[], ctx: RouteContext, mount = ""): RequestHandler & { served: readonly ServedRoute[] } {
  const parsers = new Map<number, RequestHandler>();
  const parser = (limit: number) => parsers.get(limit) ?? parsers.set(limit, jsonBodyOf(limit)).get(limit)!;
  const served = routes.map((route) => {
    if (!route.path.startsWith(`${mount}/`)) throw new Error(`route ${route.path} is not under ${mount}/`);
    const chain: RequestHandler[] = [];
    if (route.before) chain.push(route.before(ctx));
    if (route.role === "admin") chain.push(requireRole("admin"));
    if (route.body) chain.push(parser(route.bodyLimitBytes ?? BODY_LIMIT_BYTES));
    chain.push((req, res) => route.handler(req, res, ctx));
    return { method: route.method, path: route.path.slice(mount.length), chain };
  });
  const index = new RouteIndex(served);
  const dispatch: RequestHandler = (req, res, next) => {
    const found = index.match(req.method, req.path);
    if (found) {
      req.params = found.params;
      return runChain(found.route.chain, req, res, next);
    }
    const allow = req.method === "OPTIONS" ? index.methodsAt(req.path) : [];
    if (!allow.length) return next();
    const body = allow.join(", ");
    res.setHeader("Allow", body);
    res.setHeader("Content-Type", "text/plain");
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.end(body);
  };
  return Object.assign(dispatch, { served: served.map(({ method, path }) => ({ method, path })) });
}

/**
 * Runs `chain` in order as Express runs a route's handlers: each goes on by calling `next`, and an
 * error thrown, passed to `next` or rejected by a returned promise goes to `done` (the app's error
 * handler) with the rest skipped.
 */
function runChain(chain: readonly RequestHandler[], req: Request, res: Response, done: NextFunction): void {
  let i = 0;
  const next: NextFunction = (err?: unknown) => {
    if (err !== undefined && err !== null) return done(err);
    const handler = chain[i++];
    if (!handler) return done();
    try {
      const result: unknown = handler(req, res, next);
      if (result instanceof Promise) result.catch((e: unknown) => done(e ?? new Error("Rejected promise")));
    } catch (e) {
      done(e);
    }
  };
  next();
}
