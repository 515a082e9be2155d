import type { RequestHandler } from "express";
import { DomainError } from "@settle/core";

/**
 * Failed authentications per client address (API keys and the dashboard's basic auth): after
 * `limit` in a minute, that address gets 429 `rate_limited` until the minute is over, so keys and
 * passwords cannot be guessed at speed. Per process.
 */
export class AuthFailures {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 60_000,
  ) {
    const sweep = setInterval(() => {
      const cutoff = Date.now() - this.windowMs;
      for (const [address, f] of this.failures) if (f.since < cutoff) this.failures.delete(address);
    }, this.windowMs);
    sweep.unref();
  }

  /** Refuses an address that failed too often: run before checking its credentials. */
  readonly guard: RequestHandler = (req, res, next) => {
    const f = this.failures.get(req.socket.remoteAddress ?? "unknown");
    if (f && f.count >= this.limit && Date.now() - f.since < this.windowMs) {
      res.setHeader("Retry-After", String(Math.ceil((f.since + this.windowMs - Date.now()) / 1000)));
      throw new DomainError("rate_limited", "too many failed authentications from this address; retry later");
    }
    next();
  };

  /** Counts one failed authentication of the request's address. */
  record(address: string | undefined): void {
    const key = address ?? "unknown";
    const now = Date.now();
    const f = this.failures.get(key);
    if (!f || now - f.since >= this.windowMs) this.failures.set(key, { count: 1, since: now });
    else f.count++;
  }
}
