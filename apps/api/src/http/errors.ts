import type { ErrorRequestHandler, RequestHandler } from "express";
import { z } from "zod";
import { DomainError, issuesToDetails, isTransientDbError, UnavailableError, type ErrorCode, type ErrorDetail } from "@settle/core";

/** The HTTP status of every error code of the contract (docs/API.md): the one place that maps them. */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  idempotency_conflict: 409,
  invalid_state: 409,
  refund_exceeds_payment: 409,
  capture_exceeds_authorization: 409,
  account_exists: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  account_not_found: 422,
  currency_mismatch: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<ErrorCode, number>;

export function errorStatus(error: DomainError): number {
  return ERROR_STATUS[error.code];
}

/** The contract's error body: `details` only when there are some. */
export function errorBody(error: DomainError): { error: { code: ErrorCode; message: string; details?: ErrorDetail[] } } {
  return { error: { code: error.code, message: error.message, ...(error.details.length ? { details: error.details } : {}) } };
}

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
// Express 5 knows an error handler by its four parameters: `next` must be declared, unused.
export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  // body-parser's errors carry a `type` (and `limit` for a body too large).
  const parsed = (error ?? {}) as { type?: unknown; limit?: unknown };
  const bodyError = typeof parsed.type === "string" ? BODY_ERRORS[parsed.type] : undefined;
  let domain: DomainError;
  if (error instanceof DomainError) domain = error;
  else if (parsed.type === "entity.too.large" && typeof parsed.limit === "number") {
    domain = new DomainError("payload_too_large", `request body is larger than ${parsed.limit / 1024} KiB`);
  } else if (bodyError) domain = bodyError;
  else if (isTransientDbError(error)) domain = new UnavailableError("postgres", error);
  else {
    req.log?.error({ err: error }, "unhandled error");
    domain = new DomainError("internal", "internal error");
  }
  if (domain instanceof UnavailableError) req.log?.warn({ err: (domain as { cause?: unknown }).cause ?? domain }, domain.message);
  if (res.headersSent) return;
  if (domain.code === "unavailable") res.setHeader("Retry-After", "1");
  res.status(errorStatus(domain)).json(errorBody(domain));
};
