import express, { type Express, type RequestHandler } from "express";
import { DomainError } from "@settle/core";
import type { ApiDeps } from "./deps";
import { requireApiKey } from "./http/auth";
import { errorHandler, notFound } from "./http/errors";
import { rateLimit } from "./http/rate-limit";
import { accountsRouter } from "./routes/accounts";
import { ApiMetrics } from "./ops/metrics";
import { opsRouter } from "./ops/ops-router";
import { recordResponseFacts } from "./ops/response-facts";
import { requestLog } from "./http/request-log";
import { healthRouter } from "./routes/health";
import { paymentsRouter } from "./routes/payments";

const MAX_URL_LENGTH = 2048;

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
  // One line per request at info: the request id in it is what traces a payment.
  app.use(requestLog(deps.logger));
  const metrics = new ApiMetrics(deps);
  app.use(recordResponseFacts, metrics.middleware);
  app.use(healthRouter(deps));
  app.use(opsRouter(deps, metrics));
  const guards: RequestHandler[] = [];
  const keys = [...(deps.config.apiKeys ?? []).map((key) => ({ key, role: "client" as const })), ...(deps.config.adminApiKeys ?? []).map((key) => ({ key, role: "admin" as const }))];
  if (keys.length) guards.push(...requireApiKey(keys, deps.authFailures));
  if (deps.config.rateLimit.perSecond > 0) guards.push(rateLimit({ ...deps.config.rateLimit, redis: deps.redis, prefix: deps.config.queuePrefix, logger: deps.logger }));
  app.use("/api/v1", ...guards, accountsRouter(deps), paymentsRouter(deps));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
