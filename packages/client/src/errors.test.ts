import { parseRetryAfter, SettleApiError } from "./errors";

describe("SettleApiError.fromResponse", () => {
  it("carries the contract's error body, Retry-After and X-Request-Id", () => {
    const response = new Response(null, { status: 429, headers: { "retry-after": "7", "x-request-id": "req-1" } });
    const error = SettleApiError.fromResponse(response, { error: { code: "rate_limited", message: "too many requests; retry later" } });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: "SettleApiError",
      status: 429,
      code: "rate_limited",
      message: "too many requests; retry later",
      details: undefined,
      retryAfter: 7,
      requestId: "req-1",
    });
  });

  it("keeps per-field details", () => {
    const details = [{ path: "amount", message: "must be a decimal string" }];
    const error = SettleApiError.fromResponse(new Response(null, { status: 400 }), { error: { code: "invalid_request", message: "amount: …", details } });
    expect(error.details).toEqual(details);
  });

  it("names an answer without the contract's body unexpected_response", () => {
    const error = SettleApiError.fromResponse(new Response(null, { status: 502 }), "<html>Bad Gateway</html>");
    expect(error).toMatchObject({ status: 502, code: "unexpected_response", message: "HTTP 502: <html>Bad Gateway</html>" });
    expect(SettleApiError.fromResponse(new Response(null, { status: 431 }), undefined).message).toBe("HTTP 431");
  });
});

describe("parseRetryAfter", () => {
  it("reads delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("1")).toBe(1);
    expect(parseRetryAfter(" 30 ")).toBe(30);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
});
