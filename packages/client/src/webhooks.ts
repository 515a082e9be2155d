import { createHmac, timingSafeEqual } from "node:crypto";

// Settle signs a webhook's raw body with a header
//   Settle-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// The timestamp is signed too, so an old delivery cannot be replayed with a fresh `t`; during a
// secret rotation the header carries one v1 per secret, and any one of them matching is enough.

export const SIGNATURE_HEADER = "Settle-Signature";
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type WebhookSignatureFailure = "malformed_header" | "no_matching_signature" | "timestamp_outside_tolerance";

/** A webhook whose signature does not verify: answer it with a 4xx and do not act on it. */
export class WebhookSignatureError extends Error {
  override readonly name = "WebhookSignatureError";
  constructor(
    readonly reason: WebhookSignatureFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifyWebhookOptions {
  /** The body exactly as received, before any JSON parsing (re-serialized JSON does not verify). */
  payload: string | Uint8Array;
  /** The `Settle-Signature` header. */
  header: string | null | undefined;
  secret: string | Uint8Array;
  /** How far `t` may be from now, either way. */
  toleranceSeconds?: number;
  now?: Date;
}

/**
 * Verifies a webhook's `Settle-Signature`. Returns `true`, or throws a `WebhookSignatureError`
 * whose `reason` says what failed: it never returns `false`, so an unchecked result cannot let a
 * forged delivery through.
 */
export function verifyWebhookSignature({
  payload,
  header,
  secret,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  now = new Date(),
}: VerifyWebhookOptions): true {
  if (secret.length === 0) throw new TypeError("verifyWebhookSignature: the secret is empty");
  const { timestamp, signatures } = parseSignatureHeader(header);
  const expected = hmac(secret, timestamp, payload);
  // Every candidate is compared (no early exit), each in constant time.
  let matched = false;
  for (const hex of signatures) {
    const candidate = Buffer.from(hex, "hex");
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
  }
  if (!matched) throw new WebhookSignatureError("no_matching_signature", "no v1 signature of the header matches the payload and the secret");
  // Checked after the signature, so that this failure only ever names an authentic, stale delivery.
  const age = Math.abs(Math.floor(now.getTime() / 1000) - timestamp);
  if (!(age <= toleranceSeconds)) {
    throw new WebhookSignatureError(
      "timestamp_outside_tolerance",
      `the signature's timestamp is ${age} s from now, more than the ${toleranceSeconds} s tolerated`,
    );
  }
  return true;
}

/** The `Settle-Signature` header of a payload: for tests of a webhook receiver, and the sender's reference. */
export function signWebhookPayload({
  payload,
  secret,
  timestamp = Math.floor(Date.now() / 1000),
}: {
  payload: string | Uint8Array;
  secret: string | Uint8Array;
  timestamp?: number;
}): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new TypeError("signWebhookPayload: timestamp must be whole Unix seconds");
  return `t=${timestamp},v1=${hmac(secret, timestamp, payload).toString("hex")}`;
}

// Bytes, not a decoded string: a body that is not valid UTF-8 must verify as the bytes that were signed.
function hmac(secret: string | Uint8Array, timestamp: number, payload: string | Uint8Array): Buffer {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(payload).digest();
}

function parseSignatureHeader(header: string | null | undefined): { timestamp: number; signatures: string[] } {
  if (!header) throw new WebhookSignatureError("malformed_header", `no ${SIGNATURE_HEADER} header`);
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") {
      if (timestamp !== undefined || !/^\d{1,15}$/.test(value))
        throw new WebhookSignatureError("malformed_header", "the t= of the header must appear once, as Unix seconds");
      timestamp = Number(value);
    } else if (key === "v1" && /^[0-9a-fA-F]{64}$/.test(value)) {
      signatures.push(value);
    }
    // Other schemes (a future v2) are skipped: a receiver keeps working when the sender adds one.
  }
  if (timestamp === undefined) throw new WebhookSignatureError("malformed_header", "the header has no t= timestamp");
  if (signatures.length === 0) throw new WebhookSignatureError("malformed_header", "the header has no v1= signature");
  return { timestamp, signatures };
}
