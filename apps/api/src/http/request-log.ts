import type { Express, Request, RequestHandler, Response } from "express";
import { uuidv7, type Logger } from "@settle/core";
import { logFacts } from "../ops/response-facts";

declare module "node:http" {
  interface IncomingMessage {
    /** The request id: the caller's X-Request-Id when sane, else a new UUIDv7. */
    id?: string;
    /** A logger that names the request; made on first use. */
    log?: Logger;
  }
}

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** Told of each finished request, with its duration: the API's metrics. */
export type RequestObserver = (req: Request, res: Response, seconds: number) => void;

/**
 * One log line per request, at its end, naming the request id (which traces a payment end to
 * end) and the payment it was about; `observers` hear of the request at the same moment. Kept lean
 * on purpose: pino-http made a child logger and several closures per request, a tenth of the API's
 * CPU per payment; here the request's child logger exists only when a handler asks for it (the
 * getter is defined once, on `app`'s request prototype), and one "finish" listener serves all.
 */
export function requestLog(app: Express, logger: Logger, ...observers: RequestObserver[]): RequestHandler {
  const children = new WeakMap<object, Logger>();
  Object.defineProperty(app.request, "log", {
    configurable: true,
    enumerable: false,
    get(this: Request) {
      let child = children.get(this);
      if (!child) children.set(this, (child = logger.child({ reqId: this.id })));
      return child;
    },
  });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers["x-request-id"];
    const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : uuidv7();
    req.id = id;
    res.setHeader("X-Request-Id", id);
    res.once("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const status = res.statusCode;
      const line = { req: { id, method: req.method, url: req.originalUrl }, res: { statusCode: status }, responseTime: ms, ...logFacts(res) };
      if (status >= 500) logger.error(line, "request errored");
      else logger.info(line, "request completed");
      for (const observe of observers) observe(req, res, ms / 1e3);
    });
    next();
  };
}
