import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { DomainError } from "@settle/core";
import type { AuthFailures } from "./auth-failures";

/** What a key may do: `client` reads and creates; `admin` also disputes, resolves, charges back, freezes and unfreezes. */
export type Role = "client" | "admin";

const digest = (value: string): Buffer => createHash("sha256").update(value).digest();

/**
 * Requires `Authorization: Bearer <key>` with one of `keys`. Keys are compared as SHA-256 digests
 * with timingSafeEqual, against every key, so neither the length nor the position of a match
 * leaks through timing. The caller's principal (a digest prefix, never the key) scopes
 * idempotency keys and rate limits; its role decides what it may do (`requireRole`).
 */
export function requireApiKey(keys: { key: string; role: Role }[], failures: AuthFailures): RequestHandler[] {
  const known = keys.map(({ key, role }) => ({ digest: digest(key), principal: digest(key).toString("hex").slice(0, 12), role }));
  const check: RequestHandler = (req, res, next) => {
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.get("authorization") ?? "");
    let found: (typeof known)[number] | undefined;
    if (match) {
      const presented = digest(match[1]!);
      for (const k of known) if (timingSafeEqual(presented, k.digest)) found ??= k;
    }
    if (!found) {
      failures.record(req.socket.remoteAddress);
      res.setHeader("WWW-Authenticate", 'Bearer realm="settle"');
      throw new DomainError("unauthorized", "send a valid API key as Authorization: Bearer <key>");
    }
    res.locals.principal = found.principal;
    res.locals.role = found.role;
    next();
  };
  return [failures.guard, check];
}

/**
 * Lets only `role` through: a client key on an admin route is 403 `forbidden`. Without API keys
 * (an open API, which production refuses unless ALLOW_OPEN_API=true) there are no roles to check.
 */
export function requireRole(role: Role): RequestHandler {
  return (_req, res, next) => {
    const held = res.locals.role as Role | undefined;
    if (held !== undefined && role === "admin" && held !== "admin") {
      throw new DomainError("forbidden", "this operation needs an admin API key (ADMIN_API_KEYS)");
    }
    next();
  };
}
