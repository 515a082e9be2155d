import { z } from "zod";
import { EVENT_CURSOR_PATTERN, EVENT_TYPES } from "./events/events";
import { isUuid } from "./ids";
import { AMOUNT_PATTERN, AMOUNT_RULE, parseAmount } from "./money";

const KNOWN_CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

/** A UUID in canonical form, normalised to lower case (PostgreSQL's form). */
export const Uuid = z
  .string({ error: "must be a UUID string" })
  .refine(isUuid, "must be a UUID in canonical form")
  .transform((s) => s.toLowerCase());

/** Money in a request: a decimal string, never a JSON number (docs/API.md "Conventions"). */
export const Amount = z.string({ error: "must be a decimal string, not a number" }).refine((s) => parseAmount(s) !== null, AMOUNT_RULE);

/** The form of a currency code; a known ISO 4217 code is checked besides. */
export const CURRENCY_PATTERN = /^[A-Z]{3}$/;

export const Currency = z
  .string({ error: "must be a string" })
  .refine((s) => CURRENCY_PATTERN.test(s) && KNOWN_CURRENCIES.has(s), "must be an ISO 4217 currency code such as USD");

// A half of a UTF-16 surrogate pair without its other half: JSON can carry it ("\ud800"), UTF-8 cannot.
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Free text as PostgreSQL can store it, exactly: U+0000 cannot be held in text at all, and an
 * unpaired surrogate would be stored as U+FFFD (not what the client sent). Both are refused here,
 * so they never reach (and never fail) a batch insert.
 */
export const storableText = (max: number) =>
  z
    .string({ error: "must be a string" })
    .max(max, `must be at most ${max} characters`)
    .refine((text) => !text.includes("\u0000"), "must not contain the character U+0000")
    .refine((text) => !UNPAIRED_SURROGATE.test(text), "must be well-formed Unicode (no unpaired surrogate such as \\ud800)");

const Description = storableText(500).nullish();

/** A limit in a request: like an amount, but 0 is allowed. */
export const NON_NEGATIVE_AMOUNT_RULE = "must be a decimal string of at least 0 with at most 15 integer digits and 2 fraction digits";
export const OverdraftLimit = z.string({ error: "must be a decimal string, not a number" }).regex(AMOUNT_PATTERN, NON_NEGATIVE_AMOUNT_RULE);

export const CreateAccountRequest = z.strictObject({
  currency: Currency.default("USD"),
  id: Uuid.optional(),
  overdraft_limit: OverdraftLimit.optional(),
});
export type CreateAccountRequest = z.infer<typeof CreateAccountRequest>;

/** The longest an authorization may hold its funds: 30 days. */
export const MAX_AUTHORIZATION_SECONDS = 30 * 24 * 3600;

const transferFields = {
  from_account: Uuid,
  to_account: Uuid,
  amount: Amount,
  payment_description: Description,
  capture: z.boolean({ error: "must be true or false" }).optional(),
  expires_in_seconds: z
    .number({ error: `must be a whole number of seconds from 1 to ${MAX_AUTHORIZATION_SECONDS}` })
    .int(`must be a whole number of seconds from 1 to ${MAX_AUTHORIZATION_SECONDS}`)
    .min(1, `must be a whole number of seconds from 1 to ${MAX_AUTHORIZATION_SECONDS}`)
    .max(MAX_AUTHORIZATION_SECONDS, `must be a whole number of seconds from 1 to ${MAX_AUTHORIZATION_SECONDS}`)
    .optional(),
};
const differentAccounts: [(body: { from_account: string; to_account: string }) => boolean, { path: string[]; message: string }] = [
  (body) => body.from_account !== body.to_account,
  { path: ["to_account"], message: "must differ from from_account" },
];
const expiryOnlyOnAuthorizations: [(body: { capture?: boolean; expires_in_seconds?: number }) => boolean, { path: string[]; message: string }] = [
  (body) => body.expires_in_seconds === undefined || body.capture === false,
  { path: ["expires_in_seconds"], message: 'applies only to an authorization ("capture": false)' },
];

export const TransferRequest = z
  .strictObject(transferFields)
  .refine(...differentAccounts)
  .refine(...expiryOnlyOnAuthorizations);
export type TransferRequest = z.infer<typeof TransferRequest>;

const externalMoveFields = {
  account_id: Uuid,
  amount: Amount,
  description: Description,
};

/** The body of a deposit or a withdrawal: one account and the outside world. */
export const ExternalMoveRequest = z.strictObject(externalMoveFields);
export type ExternalMoveRequest = z.infer<typeof ExternalMoveRequest>;

/** An Idempotency-Key: 1 to 255 printable ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;
const IdempotencyKeyField = z.string({ error: "must be a string" }).regex(IDEMPOTENCY_KEY_PATTERN, "must be 1 to 255 printable ASCII characters").optional();

/** Most payments one batch request may carry. */
export const MAX_BATCH_ITEMS = 1000;

/** The batch intake's envelope; each item is checked on its own (`BatchTransferItem`, `BatchExternalMoveItem`). */
export const BatchRequest = z.strictObject({
  payments: z
    .array(z.unknown(), { error: "must be an array of payments" })
    .min(1, "must hold at least one payment")
    .max(MAX_BATCH_ITEMS, `must hold at most ${MAX_BATCH_ITEMS} payments`),
});
export type BatchRequest = z.infer<typeof BatchRequest>;

/** A batch item that is a transfer: the body of POST /payments, optionally typed and keyed. */
export const BatchTransferItem = z
  .strictObject({ ...transferFields, type: z.literal("transfer").optional(), idempotency_key: IdempotencyKeyField })
  .refine(...differentAccounts)
  .refine(...expiryOnlyOnAuthorizations);
export type BatchTransferItem = z.infer<typeof BatchTransferItem>;

/** A batch item that is a deposit or a withdrawal: the body of its endpoint, typed, optionally keyed. */
export const BatchExternalMoveItem = z.strictObject({
  ...externalMoveFields,
  type: z.enum(["deposit", "withdrawal"]),
  idempotency_key: IdempotencyKeyField,
});
export type BatchExternalMoveItem = z.infer<typeof BatchExternalMoveItem>;

/** The body of a dispute, resolve, chargeback or void: nothing (an empty object, or no body at all). */
export const EmptyRequest = z.strictObject({});

/** POST /payments/{id}/refunds: how much (default: all that is left) and why. */
export const RefundRequest = z.strictObject({
  amount: Amount.optional(),
  reason: storableText(500).optional(),
});
export type RefundRequest = z.infer<typeof RefundRequest>;

/** POST /payments/{id}/capture: how much of the authorization (default: all of it). */
export const CaptureRequest = z.strictObject({ amount: Amount.optional() });
export type CaptureRequest = z.infer<typeof CaptureRequest>;

/** PATCH /accounts/{id} (admin): the fields an operator may change. */
export const UpdateAccountRequest = z
  .strictObject({ overdraft_limit: OverdraftLimit.optional() })
  .refine((body) => body.overdraft_limit !== undefined, { message: "must name a field to change: overdraft_limit", path: [] });
export type UpdateAccountRequest = z.infer<typeof UpdateAccountRequest>;

/** An integer query parameter whose every refusal states the rule (docs/API.md "Conventions"). */
const boundedInteger = (min: number, max: number, what = "an integer") => {
  const rule = `must be ${what} from ${min} to ${max}`;
  return z.coerce.number({ error: rule }).int(rule).min(min, rule).max(max, rule);
};

/** The page size of every list: 1 to 500. */
export const MAX_PAGE_SIZE = 500;

// An instant of the journal: RFC 3339 with a zone (an offset or Z), any fraction of a second.
// PostgreSQL's timestamptz starts at year 1 (4713 BC, but not through ISO 8601's year 0000).
const FIRST_INSTANT = Date.parse("0001-01-01T00:00:00Z");
const EntryTime = z.iso
  .datetime({ offset: true, error: "must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-29T10:00:00Z" })
  .refine((s) => Date.parse(s) >= FIRST_INSTANT, "must not be before 0001-01-01T00:00:00Z");

// Query strings are strict like bodies: an unknown parameter (a typo such as `limt`) is a 400,
// never silently ignored.
export const EntriesQuery = z
  .strictObject({
    after: boundedInteger(0, Number.MAX_SAFE_INTEGER).default(0),
    limit: boundedInteger(1, MAX_PAGE_SIZE).default(100),
    // On the entry's created_at, both inclusive (to the millisecond, the precision it is shown in).
    from: EntryTime.optional(),
    to: EntryTime.optional(),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { message: "must not be after to", path: ["from"] });
export type EntriesQuery = z.infer<typeof EntriesQuery>;

/** GET /accounts/{id}/balance: the balances as of an instant (required). */
export const BalanceAtQuery = z.strictObject({
  at: z.iso
    .datetime({ offset: true, error: "is required and must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-29T10:00:00Z" })
    .refine((s) => Date.parse(s) >= FIRST_INSTANT, "must not be before 0001-01-01T00:00:00Z"),
});
export type BalanceAtQuery = z.infer<typeof BalanceAtQuery>;

export const PaymentQuery = z.strictObject({
  wait: boundedInteger(0, 30, "a whole number of seconds").default(0),
});
export type PaymentQuery = z.infer<typeof PaymentQuery>;

const Timestamp = z.iso.datetime({ offset: true, error: "must be an ISO 8601 timestamp with a time zone, e.g. 2026-11-29T10:00:00Z" });

/** GET /payments: filters, newest first, paged by the last payment id seen. */
export const PaymentsListQuery = z
  .strictObject({
    account_id: Uuid.optional(),
    status: z
      .enum(["pending", "completed", "failed", "authorized", "voided", "expired"], {
        error: "must be pending, completed, failed, authorized, voided or expired",
      })
      .optional(),
    type: z.enum(["transfer", "deposit", "withdrawal", "refund"], { error: "must be transfer, deposit, withdrawal or refund" }).optional(),
    created_from: Timestamp.optional(),
    created_to: Timestamp.optional(),
    limit: boundedInteger(1, MAX_PAGE_SIZE).default(50),
    after: Uuid.optional(),
  })
  .refine((q) => !q.created_from || !q.created_to || Date.parse(q.created_from) <= Date.parse(q.created_to), {
    message: "must not be after created_to",
    path: ["created_from"],
  });
export type PaymentsListQuery = z.infer<typeof PaymentsListQuery>;

/** GET /accounts: by id, paged by the last account id seen. */
export const AccountsListQuery = z.strictObject({
  limit: boundedInteger(1, MAX_PAGE_SIZE).default(50),
  after: Uuid.optional(),
});
export type AccountsListQuery = z.infer<typeof AccountsListQuery>;

const EventTypeField = z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(", ")}` });

/** GET /events: oldest first, after a cursor, of one type or all. */
export const EventsQuery = z.strictObject({
  after: z.string().regex(EVENT_CURSOR_PATTERN, "must be a next_after of an earlier answer").optional(),
  limit: boundedInteger(1, MAX_PAGE_SIZE).default(100),
  type: EventTypeField.optional(),
});
export type EventsQuery = z.infer<typeof EventsQuery>;

/** POST /webhook-endpoints: where to send which events. The URL's own rules are checked by the handler. */
export const CreateWebhookEndpointRequest = z.strictObject({
  url: z.string({ error: "must be a URL string" }).min(1, "must be a URL").max(2048, "must be at most 2048 characters"),
  events: z
    .array(z.union([EventTypeField, z.literal("*")], { error: `each must be "*" or one of ${EVENT_TYPES.join(", ")}` }), {
      error: 'must be an array of event types, or ["*"] for every type',
    })
    .min(1, "must name at least one event type, or *")
    .max(EVENT_TYPES.length + 1, `must hold at most ${EVENT_TYPES.length + 1} entries`),
  description: Description,
});
export type CreateWebhookEndpointRequest = z.infer<typeof CreateWebhookEndpointRequest>;

/** GET /webhook-endpoints: by id, paged by the last endpoint id seen. */
export const WebhookEndpointsListQuery = AccountsListQuery;

/** GET /webhook-endpoints/{id}/deliveries: the newest attempts. */
export const WebhookAttemptsQuery = z.strictObject({
  limit: boundedInteger(1, MAX_PAGE_SIZE).default(100),
});

/** Turns a zod failure into the contract's `details` list. */
export function issuesToDetails(error: z.ZodError, root = "(body)"): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join(".") : root,
    message: issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : issue.message,
  }));
}
