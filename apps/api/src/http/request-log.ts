import type { RequestHandler } from "express";
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

/**
 * One log line per request, at its end, naming the request id (which traces a payment end to
 * end) and the payment it was about. Kept lean on purpose: pino-http made a child logger and
 * several closures per request, a tenth of the API's CPU per payment; here the request's child
 * logger exists only when a handler asks for it.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers["x-request-id"];
    const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : uuidv7();
    req.id = id;
    res.setHeader("X-Request-Id", id);
    let child: Logger | undefined;
    Object.defineProperty(req, "log", { configurable: true, enumerable: false, get: () => (child ??= logger.child({ reqId: id })) });
    res.once("finish", () => {
      const status = res.statusCode;
      const line = {
        req: { id, method: req.method, url: req.originalUrl },
        res: { statusCode: status },
        responseTime: Number(process.hrtime.bigint() - started) / 1e6,
        ...logFacts(res),
      };
      if (status >= 500) logger.error(line, "request errored");
      else logger.info(line, "request completed");
    });
    next();
  };
}
