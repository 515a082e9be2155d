import express, { type Express, type RequestHandler } from "express";
import { pinoHttp } from "pino-http";
import { DomainError, uuidv7 } from "@settle/core";
import type { ApiDeps } from "./deps";
import { requireApiKey } from "./http/auth";
import { errorHandler, notFound } from "./http/errors";
import { rateLimit } from "./http/rate-limit";
import { accountsRouter } from "./routes/accounts";
import { ApiMetrics } from "./ops/metrics";
import { opsRouter } from "./ops/ops-router";
import { logFacts, recordResponseFacts } from "./ops/response-facts";
import { healthRouter } from "./routes/health";
import { paymentsRouter } from "./routes/payments";

const MAX_URL_LENGTH = 2048;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

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
  app.use(
    pinoHttp({
      logger: deps.logger,
      // A caller's X-Request-Id is kept (when sane) so one id traces a payment end to end.
      genReqId: (req, res) => {
        const incoming = req.headers["x-request-id"];
        const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : uuidv7();
        res.setHeader("X-Request-Id", id);
        return id;
      },
      // One line per request at info (issue 5): the request id in it is what traces a payment.
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : "info"),
      customProps: (_req, res) => logFacts(res),
      serializers: {
        req: (req) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  const metrics = new ApiMetrics(deps);
  app.use(recordResponseFacts, metrics.middleware);
  app.use(healthRouter(deps));
  app.use(opsRouter(deps, metrics));
  const guards: RequestHandler[] = [];
  if (deps.config.apiKeys) guards.push(requireApiKey(deps.config.apiKeys));
  if (deps.config.rateLimit.perSecond > 0) guards.push(rateLimit(deps.config.rateLimit));
  app.use("/api/v1", ...guards, accountsRouter(deps), paymentsRouter(deps));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
