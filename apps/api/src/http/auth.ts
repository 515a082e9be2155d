import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { DomainError } from "@settle/core";

const digest = (value: string): Buffer => createHash("sha256").update(value).digest();

/**
 * Requires `Authorization: Bearer <key>` with one of `keys`. Keys are compared as SHA-256 digests
 * with timingSafeEqual, against every key, so neither the length nor the position of a match
 * leaks through timing. The caller's principal (a digest prefix, never the key) scopes
 * idempotency keys and rate limits.
 */
export function requireApiKey(keys: string[]): RequestHandler {
  const known = keys.map((key) => ({ digest: digest(key), principal: digest(key).toString("hex").slice(0, 12) }));
  return (req, res, next) => {
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.get("authorization") ?? "");
    let principal: string | undefined;
    if (match) {
      const presented = digest(match[1]!);
      for (const k of known) if (timingSafeEqual(presented, k.digest)) principal ??= k.principal;
    }
    if (!principal) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="settle"');
      throw new DomainError("unauthorized", "send a valid API key as Authorization: Bearer <key>");
    }
    res.locals.principal = principal;
    next();
  };
}
