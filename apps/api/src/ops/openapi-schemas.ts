import { z } from "zod";
import {
  ERROR_CODES,
  EVENT_TYPES,
  schemas,
  type AccountView,
  type BalanceAtView,
  type EntryView,
  type EventView,
  type PaymentView,
  type WebhookAttemptView,
  type WebhookEndpointView,
  type WebhookEndpointWithSecret,
} from "@settle/core";

// Response shapes of the API as zod schemas, for the OpenAPI document only: requests are
// validated by the schemas of @settle/core, responses are built by its repository. The checks
// at the end of this file fail to compile if a schema drifts from the type the API sends.

// No example of its own: every id (account, payment, operation) would show the same one; the
// examples of the responses name each.
const Id = z.guid().meta({ description: "A UUID in canonical form" });
const MoneyOut = z
  .string()
  .regex(/^-?\d+\.\d{2}$/)
  .meta({ description: "A decimal string with exactly 2 fraction digits; never a JSON number", example: "100.00" });
const Timestamp = z.iso.datetime().meta({ description: "RFC 3339 UTC timestamp", example: "2026-11-21T10:00:00.000Z" });

export const AccountResponse = z
  .object({
    id: Id,
    currency: z.string().regex(schemas.CURRENCY_PATTERN),
    status: z.enum(["active", "frozen"]),
    balance: MoneyOut.meta({ description: "available + held" }),
    available: MoneyOut,
    held: MoneyOut,
    overdraft_limit: MoneyOut.meta({ description: "available may go down to minus this through a payment" }),
    entry_count: z.number().int().min(0),
    created_at: Timestamp,
  })
  .meta({ id: "Account" });

export const PaymentResponse = z
  .object({
    id: Id,
    type: z.enum(["transfer", "deposit", "withdrawal", "refund"]),
    status: z.enum(["pending", "completed", "failed", "authorized", "voided", "expired"]),
    from_account: Id.nullable(),
    to_account: Id.nullable(),
    amount: MoneyOut,
    currency: z.string().regex(schemas.CURRENCY_PATTERN),
    payment_description: z.string().nullable(),
    failure_reason: z.enum(["insufficient_funds", "account_frozen", "internal_error"]).nullable(),
    dispute_status: z.enum(["none", "open", "resolved", "charged_back"]),
    created_at: Timestamp,
    processed_at: Timestamp.nullable(),
    refund_of: Id.nullable().meta({ description: "A refund's payment; null for any other" }),
    amount_refunded: MoneyOut.meta({ description: "The total of its completed refunds" }),
    capture: z.boolean().meta({ description: "false for an authorization" }),
    amount_captured: MoneyOut.nullable().meta({ description: "What a captured authorization moved" }),
    expires_at: Timestamp.nullable().meta({ description: "When an authorization not captured or voided is released" }),
    amount_disputed: MoneyOut.nullable().meta({ description: "What its dispute holds or held; null while never disputed" }),
  })
  .meta({ id: "Payment" });

export const DisputeAccepted = PaymentResponse.extend({
  operation: z
    .object({
      id: Id,
      kind: z.enum(["dispute", "resolve", "chargeback"]),
      status: z.literal("pending"),
      created_at: Timestamp,
    })
    .meta({ description: "What was accepted: the operation, queued and applied later in the receiving account's order" }),
}).meta({ id: "DisputeAccepted", description: "The payment as it stands (dispute_status changes when the operation is applied), with the operation accepted" });

export const AuthorizationOperationAccepted = PaymentResponse.extend({
  operation: z
    .object({
      id: Id,
      kind: z.enum(["capture", "void"]),
      status: z.literal("pending"),
      amount: MoneyOut.optional().meta({ description: "A capture's amount" }),
      created_at: Timestamp,
    })
    .meta({ description: "What was accepted: the operation, queued and applied later in the payer's order" }),
}).meta({
  id: "AuthorizationOperationAccepted",
  description: "The authorization as it stands (its status changes when the operation is applied), with the operation accepted",
});

export const EntryResponse = z
  .object({
    seq: z.number().int().min(1),
    payment_id: Id,
    type: z.enum(["credit", "debit", "hold", "release", "chargeback", "authorize", "capture"]),
    amount: MoneyOut,
    balance_after: MoneyOut,
    available_after: MoneyOut,
    held_after: MoneyOut,
    prev_hash: z.string().regex(/^[0-9a-f]{64}$/),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    created_at: Timestamp,
  })
  .meta({ id: "JournalEntry" });

export const EntriesResponse = z
  .object({
    entries: z.array(EntryResponse),
    next_after: z.number().int().min(1).nullable().meta({ description: "The `after` cursor of the next page, null on the last page" }),
  })
  .meta({ id: "JournalPage" });

export const BalanceAtResponse = z
  .object({
    account_id: Id,
    at: Timestamp.meta({ description: "The instant asked for, in UTC to the millisecond" }),
    balance: MoneyOut.meta({ description: "available + held, after the entry `seq`" }),
    available: MoneyOut,
    held: MoneyOut,
    seq: z
      .number()
      .int()
      .min(0)
      .meta({ description: "The last journal entry created at or before `at`, whose *_after balances these are; 0 (and zeros) if there was none" }),
  })
  .meta({ id: "BalanceAt" });

export const PaymentsPage = z
  .object({
    payments: z.array(PaymentResponse),
    next_after: z.guid().nullable().meta({ description: "The `after` cursor of the next page (the last payment's id), null on the last page" }),
  })
  .meta({ id: "PaymentPage" });

export const AccountsPage = z
  .object({
    accounts: z.array(AccountResponse),
    next_after: z.guid().nullable().meta({ description: "The `after` cursor of the next page (the last account's id), null on the last page" }),
  })
  .meta({ id: "AccountPage" });

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: "Error" });

/** The answer of the batch intake: one result per item, in request order. */
export const BatchResponse = z
  .object({
    results: z.array(
      z.union([
        z.object({ status: z.literal(202), payment: PaymentResponse, replayed: z.literal(true).optional() }),
        z.object({ status: z.number().int().min(400).max(499), error: ErrorResponse.shape.error }),
      ]),
    ),
  })
  .meta({ id: "BatchResults" });

/** The batch intake's body as documented; each item is validated on its own by the same item schemas. */
export const BatchRequestDoc = z
  .object({
    payments: z
      .array(z.union([schemas.BatchTransferItem, schemas.BatchExternalMoveItem]))
      .min(1)
      .max(schemas.MAX_BATCH_ITEMS),
  })
  .meta({ id: "BatchRequest" });

export const HealthResponse = z.object({ status: z.literal("ok") }).meta({ id: "Health" });

export const ReadyResponse = z
  .object({
    status: z.enum(["ready", "unavailable"]),
    postgres: z.enum(["up", "down"]),
    redis: z.enum(["up", "down"]),
    redis_memory: z
      .enum(["ok", "full", "unknown"])
      .meta({ description: "`full`: Redis answers but refuses writes (maxmemory under noeviction); payments are still accepted into PostgreSQL" }),
  })
  .meta({ id: "Readiness" });

export const EventResponse = z
  .object({
    id: Id,
    type: z.enum(EVENT_TYPES),
    created_at: Timestamp,
    data: z
      .union([z.object({ payment: PaymentResponse }), z.object({ account: AccountResponse })])
      .meta({ description: "The payment (payment.* and dispute.* events) or the account (account.*) as the change left it" }),
  })
  .meta({ id: "Event" });

export const EventsPage = z
  .object({
    events: z.array(EventResponse),
    next_after: z
      .string()
      .nullable()
      .meta({ description: "Pass it as `after` to get the events that follow (the feed has no end); null only when there are no events yet" }),
  })
  .meta({ id: "EventPage" });

const EndpointEvents = z.array(z.union([z.enum(EVENT_TYPES), z.literal("*")]));

export const WebhookEndpointResponse = z
  .object({
    id: Id,
    url: z.string(),
    events: EndpointEvents,
    description: z.string().nullable(),
    status: z.enum(["enabled", "disabled"]),
    created_at: Timestamp,
  })
  .meta({ id: "WebhookEndpoint" });

export const WebhookEndpointWithSecretResponse = WebhookEndpointResponse.extend({
  secret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9_-]{43}$/)
    .meta({ description: "The signing secret: shown only in this answer" }),
}).meta({ id: "WebhookEndpointWithSecret" });

export const WebhookEndpointsPage = z
  .object({
    webhook_endpoints: z.array(WebhookEndpointResponse),
    next_after: z.guid().nullable().meta({ description: "The `after` cursor of the next page (the last endpoint's id), null on the last page" }),
  })
  .meta({ id: "WebhookEndpointPage" });

export const WebhookAttemptResponse = z
  .object({
    event_id: Id,
    attempt: z.number().int().min(1),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number().int().min(0),
    attempted_at: Timestamp,
    next_retry_at: Timestamp.nullable(),
    delivery_status: z.enum(["pending", "delivered", "failed"]),
  })
  .meta({ id: "WebhookAttempt" });

export const WebhookAttemptsResponse = z.object({ attempts: z.array(WebhookAttemptResponse) }).meta({ id: "WebhookAttempts" });

/** Prometheus text exposition format: documented as a string. */
export const MetricsText = z.string().meta({ description: "Prometheus text exposition format 0.0.4" });

// Compile-time drift checks: each schema's type must equal the type the API sends.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const drift: {
  account: Same<z.infer<typeof AccountResponse>, AccountView>;
  payment: Same<z.infer<typeof PaymentResponse>, PaymentView>;
  entry: Same<z.infer<typeof EntryResponse>, EntryView>;
  balanceAt: Same<z.infer<typeof BalanceAtResponse>, BalanceAtView>;
  event: Same<z.infer<typeof EventResponse>, EventView>;
  endpoint: Same<z.infer<typeof WebhookEndpointResponse>, WebhookEndpointView>;
  endpointWithSecret: Same<z.infer<typeof WebhookEndpointWithSecretResponse>, WebhookEndpointWithSecret>;
  attempt: Same<z.infer<typeof WebhookAttemptResponse>, WebhookAttemptView>;
} = { account: true, payment: true, entry: true, balanceAt: true, event: true, endpoint: true, endpointWithSecret: true, attempt: true };
void drift;
