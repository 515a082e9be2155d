/** Every error code of the HTTP contract (docs/API.md) with its status: the one place that maps them. */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  idempotency_conflict: 409,
  invalid_state: 409,
  account_exists: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  account_not_found: 422,
  currency_mismatch: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

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

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): { error: { code: ErrorCode; message: string; details?: ErrorDetail[] } } {
    return { error: { code: this.code, message: this.message, ...(this.details.length ? { details: this.details } : {}) } };
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
