import express, { type Express, type RequestHandler } from "express";
import { DomainError } from "@settle/core";
import type { ApiDeps } from "./deps";
import { requireApiKey } from "./http/auth";
import { errorHandler, notFound } from "./http/errors";
import { rateLimit } from "./http/rate-limit";
import { ApiMetrics } from "./ops/metrics";
import { ROUTES } from "./ops/openapi-routes";
import { opsRouter } from "./ops/ops-router";
import { recordResponseFacts } from "./ops/response-facts";
import { requestLog } from "./http/request-log";
import { routerFor } from "./routes/router";

const MAX_URL_LENGTH = 2048;
/** Where the guarded routes of the table live: behind the API key and the rate limit. */
const API_PREFIX = "/api/v1";

/** The Express application: routes, request logging, the contract's errors. No listening here. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use((req, _res, next) => {
    if (req.url.length > MAX_URL_LENGTH) throw new DomainError("uri_too_long", `URL longer than ${MAX_URL_LENGTH} characters`);
    next();
  });
  const metrics = new ApiMetrics(deps);
  recordResponseFacts(app);
  // One line per request at info: the request id in it is what traces a payment.
  app.use(requestLog(app, deps.logger, metrics.observe));
  const ctx = { deps, metrics };
  // The open routes of the table (health, metrics, this API's document), then what it leaves out.
  app.use(
    routerFor(
      ROUTES.filter((r) => !r.guarded),
      ctx,
    ),
  );
  const guards: RequestHandler[] = [];
  const keys = [
    ...(deps.config.apiKeys ?? []).map((key) => ({ key, role: "client" as const })),
    ...(deps.config.adminApiKeys ?? []).map((key) => ({ key, role: "admin" as const })),
  ];
  if (keys.length) guards.push(...requireApiKey(keys, deps.authFailures));
  if (deps.config.rateLimit.perSecond > 0)
    guards.push(rateLimit({ ...deps.config.rateLimit, redis: deps.redis, prefix: deps.config.queuePrefix, logger: deps.logger }));
  // The guards run for any path under the prefix, so an unknown one is a 401 before it is a 404.
  app.use(
    API_PREFIX,
    ...guards,
    routerFor(
      ROUTES.filter((r) => r.guarded),
      ctx,
      API_PREFIX,
    ),
  );
  // After the API's routes, which most requests are for: Express leaves each router that serves
  // nothing through a setImmediate.
  app.use(opsRouter(deps));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
