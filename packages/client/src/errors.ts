import type { components } from "./generated/openapi";

/** The contract's error body (docs/API.md "Conventions"): `{ "error": { code, message, details? } }`. */
export type ErrorBody = components["schemas"]["Error"]["error"];
/** Every error code of the contract. */
export type ErrorCode = ErrorBody["code"];
export type ErrorDetail = NonNullable<ErrorBody["details"]>[number];
/** `unexpected_response`: an answer without the contract's error body (a proxy's page, Node's bare 431). */
export type SettleErrorCode = ErrorCode | "unexpected_response";

/** A non-2xx answer of the API, with the contract's error body when it had one. */
export class SettleApiError extends Error {
  override readonly name = "SettleApiError";
  readonly status: number;
  readonly code: SettleErrorCode;
  readonly details: ErrorDetail[] | undefined;
  /** Seconds to wait before retrying, from `Retry-After` (429 and 503). */
  readonly retryAfter: number | undefined;
  /** The answer's `X-Request-Id`: the key to the API's and the worker's log lines of the request. */
  readonly requestId: string | undefined;

  constructor(init: { status: number; code: SettleErrorCode; message: string; details?: ErrorDetail[]; retryAfter?: number; requestId?: string }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.details = init.details;
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }

  /** The error of a non-2xx response whose body openapi-fetch has read (parsed JSON, or text). */
  static fromResponse(response: Response, body: unknown): SettleApiError {
    const common = {
      status: response.status,
      retryAfter: parseRetryAfter(response.headers.get("retry-after")),
      requestId: response.headers.get("x-request-id") ?? undefined,
    };
    if (isErrorBody(body)) {
      const { code, message, details } = body.error;
      return new SettleApiError({ ...common, code, message, ...(details ? { details } : {}) });
    }
    const text = typeof body === "string" ? body.trim().slice(0, 200) : "";
    return new SettleApiError({ ...common, code: "unexpected_response", message: `HTTP ${response.status}${text ? `: ${text}` : ""}` });
  }
}

function isErrorBody(body: unknown): body is { error: ErrorBody } {
  const error = (body as { error?: unknown } | null)?.error as Partial<Record<keyof ErrorBody, unknown>> | undefined;
  return typeof error === "object" && error !== null && typeof error.code === "string" && typeof error.message === "string";
}

/** `Retry-After` is delay-seconds or an HTTP date (RFC 9110 §10.2.3); the API sends seconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
