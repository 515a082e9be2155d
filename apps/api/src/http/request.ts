import type { Request } from "express";
import { DomainError, hashRequest, isUuid, parseIdempotencyKey, type IdempotencyKey } from "@settle/core";

/** Path ids that are not UUIDs name nothing: 404, never a database error. */
export function uuidParam(value: unknown, what: string): string {
  if (!isUuid(value)) throw new DomainError("not_found", `${what} not found`);
  return value.toLowerCase();
}

/**
 * The Idempotency-Key of a request, in its client's scope, with the endpoint it is used on
 * (`account`, `transfer`, `deposit`, `withdrawal`); undefined without the header.
 */
export function idempotencyOf(req: Request, endpoint: string): IdempotencyKey | undefined {
  const key = parseIdempotencyKey(req.get("idempotency-key"));
  if (key === undefined) return undefined;
  return { scope: idempotencyScope(req), endpoint, key, requestHash: hashRequest(req.body) };
}

/**
 * The scope of a key: the client (its API key's principal), not the endpoint, so one key names
 * one request of that client whatever endpoint or batch item carries it.
 */
export function idempotencyScope(req: Request): string {
  return (req.res?.locals.principal as string | undefined) ?? "-";
}
