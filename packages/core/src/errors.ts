/**
 * Every error code a domain error may carry (docs/API.md lists them). The HTTP status of each is
 * the API's business (apps/api/src/http/errors.ts); the order here is the order the document lists.
 */
export const ERROR_CODES = [
  "invalid_request",
  "invalid_json",
  "unauthorized",
  "forbidden",
  "not_found",
  "idempotency_conflict",
  "invalid_state",
  "refund_exceeds_payment",
  "capture_exceeds_authorization",
  "account_exists",
  "payload_too_large",
  "uri_too_long",
  "unsupported_media_type",
  "account_not_found",
  "currency_mismatch",
  "rate_limited",
  "internal",
  "unavailable",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetail {
  path: string;
  message: string;
}

/** An error the client can act on: a contract code, a message, and optional per-field details. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];

  constructor(code: ErrorCode, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = "DomainError";
    this.code = code;
    this.details = details;
  }
}

/** A backing service (PostgreSQL, Redis) did not answer: the request may be retried later. */
export class UnavailableError extends DomainError {
  constructor(service: "postgres" | "redis", cause?: unknown) {
    super("unavailable", `${service === "postgres" ? "PostgreSQL" : "Redis"} is unavailable; retry later`);
    this.name = "UnavailableError";
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}
