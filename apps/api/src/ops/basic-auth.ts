import { createHash, timingSafeEqual } from "node:crypto";
import type { Request, RequestHandler } from "express";
import { DomainError } from "@settle/core";
import { errorBody, errorStatus } from "../http/errors";

export interface BasicAuthOptions {
  user: string;
  password: string;
  /** Shown by the browser's login prompt. */
  realm: string;
  /** Called on each failed attempt (wrong or missing credentials). */
  onFailure?: (req: Request) => void;
}

// Hashing first gives both sides one length, so timingSafeEqual never throws and the time taken
// says nothing about the length or the prefix of the secret.
const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

/** Parses `Authorization: Basic base64(user:password)`; anything else is undefined. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const match = header ? /^Basic +([A-Za-z0-9+/=._~-]+) *$/i.exec(header) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * HTTP basic auth against one user, compared in constant time. A refusal is the contract's 401
 * `unauthorized` body with a `WWW-Authenticate` challenge, so browsers show their login prompt.
 */
export function basicAuth(options: BasicAuthOptions): RequestHandler {
  const expectedUser = digest(options.user);
  const expectedPassword = digest(options.password);
  const challenge = `Basic realm="${options.realm.replace(/["\\]/g, "")}", charset="UTF-8"`;
  return (req, res, next) => {
    const given = parseBasicAuth(req.headers.authorization);
    // Both comparisons always run: an early exit on a wrong user would time the user name.
    const userOk = timingSafeEqual(digest(given?.user ?? ""), expectedUser);
    const passwordOk = timingSafeEqual(digest(given?.password ?? ""), expectedPassword);
    if (given && userOk && passwordOk) return next();
    // A browser's first request carries no credentials: only a wrong guess counts as a failure.
    if (given) options.onFailure?.(req);
    res.setHeader("WWW-Authenticate", challenge);
    const error = new DomainError("unauthorized", given ? "wrong user name or password" : "credentials required (HTTP basic auth)");
    res.status(errorStatus(error)).json(errorBody(error));
  };
}
