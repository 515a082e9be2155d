import type { Request } from "express";
import { DomainError, hashRequest, isUuid, parseIdempotencyKey, type IdempotencyKey } from "@settle/core";

/** Path ids that are not UUIDs name nothing: 404, never a database error. */
export function uuidParam(value: unknown, what: string): string {
  if (!isUuid(value)) throw new DomainError("not_found", `${what} not found`);
  return value.toLowerCase();
}

/** The Idempotency-Key of a request, scoped to its endpoint and client; undefined without the header. */
export function idempotencyOf(req: Request, endpoint: string): IdempotencyKey | undefined {
  const key = parseIdempotencyKey(req.get("idempotency-key"));
  if (key === undefined) return undefined;
  return { scope: idempotencyScope(req, endpoint), key, requestHash: hashRequest(req.body) };
}

/** The scope of a key: the client and the endpoint (a batch item shares its single endpoint's). */
export function idempotencyScope(req: Request, endpoint: string): string {
  const principal = (req.res?.locals.principal as string | undefined) ?? "-";
  return `${principal}:${endpoint}`;
}
