import { createHash } from "node:crypto";
import type { RequestHandler } from "express";
import { ipKeyGenerator, rateLimit as expressRateLimit, type Store } from "express-rate-limit";
import { RedisStore } from "rate-limit-redis";
import type { RedisClient as Redis } from "@settle/core";
import { DomainError, type Logger } from "@settle/core";

/**
 * The per-client limit (API key principal, else the address), counted in Redis so that every API
 * process enforces one shared limit: express-rate-limit over rate-limit-redis. `burst` requests
 * per window of `burst / perSecond` seconds: `perSecond` sustained, `burst` at once. Over it, 429
 * `rate_limited` with Retry-After. While Redis does not answer the limit is not enforced (the API
 * keeps accepting into PostgreSQL rather than refusing everyone).
 */
export function rateLimit(options: { perSecond: number; burst: number; redis: Redis; prefix: string; logger: Logger }): RequestHandler {
  const windowMs = Math.max(1000, Math.round((options.burst / options.perSecond) * 1000));
  const shared = new RedisStore({
    prefix: `${options.prefix}:rate-limit:`,
    sendCommand: (command: string, ...args: string[]) => {
      // A script's SHA-1 is its identity: answered locally, so a Redis that is down at start does
      // not leave the store without its script for good (an unloaded one is reloaded on NOSCRIPT).
      if (command === "SCRIPT" && args[0] === "LOAD" && args[1] !== undefined) {
        // On a Redis Cluster a script must be loaded on every master: EVALSHA runs where its key lives.
        const targets = "nodes" in options.redis ? options.redis.nodes("master") : [options.redis];
        for (const node of targets) node.call("SCRIPT", "LOAD", args[1]).catch(() => undefined);
        return Promise.resolve(createHash("sha1").update(args[1]).digest("hex"));
      }
      return options.redis.call(command, ...args) as Promise<never>;
    },
  });
  // A request passes uncounted while Redis does not answer; said once in a while, not per request.
  let warnedAt = 0;
  const store: Store = {
    init: (o) => shared.init(o),
    get: (key) => shared.get(key),
    increment: async (key) => {
      try {
        return await shared.increment(key);
      } catch (err) {
        if (Date.now() - warnedAt > 10_000) {
          warnedAt = Date.now();
          options.logger.warn({ err }, "rate limit not enforced: Redis does not answer");
        }
        // Counted as a first hit: always under the limit (0 would trip the library's own check).
        return { totalHits: 1, resetTime: undefined };
      }
    },
    decrement: (key) => shared.decrement(key).catch(() => undefined),
    resetKey: (key) => shared.resetKey(key).catch(() => undefined),
    localKeys: false,
  };
  return expressRateLimit({
    windowMs,
    limit: options.burst,
    standardHeaders: false,
    legacyHeaders: false,
    passOnStoreError: true,
    store,
    keyGenerator: (req, res) => (res.locals.principal as string | undefined) ?? ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? "unknown"),
    handler: (_req, res, next, used) => {
      const resetTime = (_req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = resetTime ? Math.ceil((resetTime.getTime() - Date.now()) / 1000) : Math.ceil(used.windowMs / 1000);
      res.setHeader("Retry-After", String(Math.max(1, seconds)));
      next(new DomainError("rate_limited", `more than ${options.perSecond} requests a second; slow down`));
    },
  });
}
