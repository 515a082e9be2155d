import type { ErrorRequestHandler, RequestHandler } from "express";
import { z } from "zod";
import { DomainError, issuesToDetails, isTransientDbError, UnavailableError } from "@settle/core";

/**
 * Parses `value` with a zod schema; a failure is a 400 `invalid_request` naming each field.
 * `root` names the whole value in a refusal that is not about one field (e.g. unknown fields).
 */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, root: "(body)" | "(query)" = "(body)"): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = issuesToDetails(result.error, root);
  const first = details[0]!;
  throw new DomainError("invalid_request", `${first.path}: ${first.message}`, details);
}

export const notFound: RequestHandler = (req) => {
  throw new DomainError("not_found", `no route for ${req.method} ${req.path}`);
};

// body-parser's error types, mapped to the contract's codes.
const BODY_ERRORS: Record<string, DomainError> = {
  "entity.too.large": new DomainError("payload_too_large", "request body is larger than 16 KiB"),
  "entity.parse.failed": new DomainError("invalid_json", "request body is not valid JSON"),
  "encoding.unsupported": new DomainError("unsupported_media_type", "unsupported content encoding"),
  "charset.unsupported": new DomainError("unsupported_media_type", "unsupported charset; send UTF-8"),
  "entity.verify.failed": new DomainError("invalid_json", "request body is not valid JSON"),
};

/** The one place an error becomes an HTTP answer: contract code and body, never a stack or SQL. */
export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  let domain: DomainError;
  if (error instanceof DomainError) domain = error;
  else if (error?.type === "entity.too.large" && typeof error.limit === "number") {
    domain = new DomainError("payload_too_large", `request body is larger than ${error.limit / 1024} KiB`);
  } else if (typeof error?.type === "string" && BODY_ERRORS[error.type]) domain = BODY_ERRORS[error.type]!;
  else if (isTransientDbError(error)) domain = new UnavailableError("postgres", error);
  else {
    req.log?.error({ err: error }, "unhandled error");
    domain = new DomainError("internal", "internal error");
  }
  if (domain instanceof UnavailableError) req.log?.warn({ err: (domain as { cause?: unknown }).cause ?? domain }, domain.message);
  if (res.headersSent) return;
  if (domain.code === "unavailable") res.setHeader("Retry-After", "1");
  res.status(domain.status).json(domain.toBody());
};
