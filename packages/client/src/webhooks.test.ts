import { signWebhookPayload, verifyWebhookSignature, WebhookSignatureError, type VerifyWebhookOptions } from "./webhooks";

// Reference values computed outside this code:
//   printf '%s' "$T.$BODY" | openssl dgst -sha256 -hmac "$SECRET"
const SECRET = "whsec_test_secret";
const T = 1767225600; // 2026-01-01T00:00:00Z
const BODY = '{"type":"payment.completed","id":"0193a0f3-0000-7abc-8def-0123456789ab"}';
const V1 = "2f910891aa4c70d6f823881a9d8abbc3f425768d78af628f40d018048939cde3";
// The same secret over the bytes "1767225600." + FF FE 7B 7D: a body that is not valid UTF-8.
const BINARY_BODY = Buffer.from([0xff, 0xfe, 0x7b, 0x7d]);
const BINARY_V1 = "74f73e2eccbec00727ad43720ff97f9300b82a7cef0a74a46fe809cbb65260f5";
const OTHER = "ab".repeat(32);

const at = (seconds: number) => new Date(seconds * 1000);
const verify = (overrides: Partial<VerifyWebhookOptions> = {}) =>
  verifyWebhookSignature({ payload: BODY, header: `t=${T},v1=${V1}`, secret: SECRET, now: at(T), ...overrides });

function failure(fn: () => unknown): WebhookSignatureError["reason"] {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookSignatureError) return error.reason;
    throw error;
  }
  throw new Error("expected a WebhookSignatureError");
}

describe("verifyWebhookSignature", () => {
  it("accepts the reference signature, from a string or from the raw bytes", () => {
    expect(verify()).toBe(true);
    expect(verify({ payload: Buffer.from(BODY) })).toBe(true);
    expect(verify({ payload: BINARY_BODY, header: `t=${T},v1=${BINARY_V1}` })).toBe(true);
    expect(verify({ header: `t=${T},v1=${V1.toUpperCase()}` })).toBe(true);
    expect(verify({ secret: Buffer.from(SECRET) })).toBe(true);
  });

  it("accepts any one matching v1 of several (secret rotation), in any order, ignoring other schemes", () => {
    expect(verify({ header: `t=${T},v1=${OTHER},v1=${V1}` })).toBe(true);
    expect(verify({ header: ` v1=${V1} , t=${T} , v0=${OTHER}` })).toBe(true);
    expect(verify({ header: `t=${T},v2=${OTHER},v1=${V1}` })).toBe(true);
  });

  it("refuses a changed body, another secret, a changed timestamp, or a wrong signature", () => {
    expect(failure(() => verify({ payload: BODY.replace("completed", "failed") }))).toBe("no_matching_signature");
    expect(failure(() => verify({ payload: `${BODY}\n` }))).toBe("no_matching_signature");
    expect(failure(() => verify({ secret: "whsec_other" }))).toBe("no_matching_signature");
    // The timestamp is signed: moving it (to pass the tolerance) breaks the signature.
    expect(failure(() => verify({ header: `t=${T + 1},v1=${V1}`, now: at(T + 1) }))).toBe("no_matching_signature");
    expect(failure(() => verify({ header: `t=${T},v1=${OTHER},v1=${OTHER}` }))).toBe("no_matching_signature");
    // The bytes, not a decoding of them: U+FFFD in place of FF FE is another payload.
    expect(failure(() => verify({ payload: BINARY_BODY.toString("utf8"), header: `t=${T},v1=${BINARY_V1}` }))).toBe("no_matching_signature");
  });

  it("refuses a timestamp outside the tolerance, either way; the bound itself is inside", () => {
    expect(verify({ now: at(T + 300) })).toBe(true);
    expect(verify({ now: at(T - 300) })).toBe(true);
    expect(failure(() => verify({ now: at(T + 301) }))).toBe("timestamp_outside_tolerance");
    expect(failure(() => verify({ now: at(T - 301) }))).toBe("timestamp_outside_tolerance");
    expect(verify({ now: at(T + 3600), toleranceSeconds: 3600 })).toBe(true);
    expect(failure(() => verify({ now: at(T + 1), toleranceSeconds: 0 }))).toBe("timestamp_outside_tolerance");
    expect(failure(() => verify({ toleranceSeconds: Number.NaN }))).toBe("timestamp_outside_tolerance");
  });

  it("refuses a missing or malformed header", () => {
    for (const header of [
      undefined,
      null,
      "",
      "garbage",
      `v1=${V1}`,
      `t=${T}`,
      `t=${T},v1=zz`,
      `t=${T},v1=${V1.slice(2)}`,
      `t=abc,v1=${V1}`,
      `t=-5,v1=${V1}`,
      `t=${T},t=${T},v1=${V1}`,
    ]) {
      expect(failure(() => verify({ header }))).toBe("malformed_header");
    }
  });

  it("refuses to verify with an empty secret", () => {
    expect(() => verify({ secret: "" })).toThrow(TypeError);
  });
});

describe("signWebhookPayload", () => {
  it("produces the reference header, which verifies", () => {
    const header = signWebhookPayload({ payload: BODY, secret: SECRET, timestamp: T });
    expect(header).toBe(`t=${T},v1=${V1}`);
    expect(verifyWebhookSignature({ payload: BODY, header, secret: SECRET, now: at(T) })).toBe(true);
  });

  it("signs now by default", () => {
    const header = signWebhookPayload({ payload: BODY, secret: SECRET });
    expect(verifyWebhookSignature({ payload: BODY, header, secret: SECRET, toleranceSeconds: 5 })).toBe(true);
  });
});
