import express, { type Express } from "express";
import { pinoHttp } from "pino-http";
import { uuidv7 } from "@settle/core";
import type { ApiDeps } from "./deps";
import { errorHandler, notFound } from "./http/errors";
import { accountsRouter } from "./routes/accounts";
import { healthRouter } from "./routes/health";
import { paymentsRouter } from "./routes/payments";

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The Express application: routes, request logging, the contract's errors. No listening here. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
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
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "info" : "debug"),
      serializers: {
        req: (req) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(healthRouter(deps));
  app.use("/api/v1", accountsRouter(deps), paymentsRouter(deps));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
