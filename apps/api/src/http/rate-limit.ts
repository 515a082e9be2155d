import type { RequestHandler } from "express";
import { DomainError } from "@settle/core";

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per client (API key principal, else remote address) in this process: `perSecond`
 * sustained, `burst` at once. Over the limit: 429 `rate_limited` with Retry-After. With several
 * API processes each enforces its own share; a shared limit would need Redis.
 */
export function rateLimit(options: { perSecond: number; burst: number }): RequestHandler {
  const buckets = new Map<string, Bucket>();
  // Idle buckets are full again; dropping them keeps memory bounded by the clients of the last minute.
  const sweep = setInterval(() => {
    const cutoff = Date.now() - 60_000;
    for (const [client, bucket] of buckets) if (bucket.updatedAt < cutoff) buckets.delete(client);
  }, 60_000);
  sweep.unref();
  return (req, res, next) => {
    const client = (res.locals.principal as string | undefined) ?? req.socket.remoteAddress ?? "unknown";
    const now = Date.now();
    const bucket = buckets.get(client) ?? { tokens: options.burst, updatedAt: now };
    bucket.tokens = Math.min(options.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * options.perSecond);
    bucket.updatedAt = now;
    buckets.set(client, bucket);
    if (bucket.tokens < 1) {
      res.setHeader("Retry-After", String(Math.max(1, Math.ceil((1 - bucket.tokens) / options.perSecond))));
      throw new DomainError("rate_limited", `more than ${options.perSecond} requests a second; slow down`);
    }
    bucket.tokens -= 1;
    next();
  };
}
