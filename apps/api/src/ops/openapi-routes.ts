import type { RequestHandler, Response } from "express";
import { z } from "zod";
import { schemas, type ErrorCode } from "@settle/core";
import { ERROR_STATUS } from "../http/errors";
import { BATCH_BODY_LIMIT_BYTES } from "../http/json-body";
import * as accounts from "../routes/accounts";
import * as health from "../routes/health";
import * as payments from "../routes/payments";
import * as webhooks from "../routes/webhooks";
import { RouteIndex } from "../routes/route-index";
import type { RouteContext, RouteHandler } from "../routes/router";
import { buildOpenApiDocument, OPENAPI_PATH } from "./openapi";
import { metricsGuard, serveMetrics } from "./ops-router";
import {
  AccountResponse,
  AccountsPage,
  BalanceAtResponse,
  BatchRequestDoc,
  DisputeAccepted,
  AuthorizationOperationAccepted,
  BatchResponse,
  EntriesResponse,
  ErrorResponse,
  HealthResponse,
  MetricsText,
  PaymentResponse,
  PaymentsPage,
  ReadyResponse,
  EventsPage,
  WebhookAttemptsResponse,
  WebhookEndpointResponse,
  WebhookEndpointsPage,
  WebhookEndpointWithSecretResponse,
} from "./openapi-schemas";

// The route table of the API: every route the app serves, with its handler, the zod schema that
// validates its request and the shape of each answer. Express's routers are built from it
// (routes/router.ts: role check, body parser, handler), the OpenAPI document is generated from it,
// and the metrics label requests by it, so a route cannot be served undocumented or documented
// unserved. The handlers live in routes/*.ts by resource; this file says what each route is.

/** What a 202 accepted: the payment's type, or the dispute operation asked for. */
export type AcceptedOperation = "transfer" | "deposit" | "withdrawal" | "dispute" | "resolve" | "chargeback" | "batch" | "refund" | "capture" | "void";

export interface ResponseSpec {
  description: string;
  /** A zod schema of the JSON body; absent for a body that is not JSON. */
  schema?: z.ZodType;
  /** For a body that is not JSON. */
  contentType?: string;
  example?: unknown;
  headers?: Record<string, { description: string }>;
}

export interface RouteSpec {
  method: "get" | "post" | "patch" | "delete";
  /** Express form: `/api/v1/accounts/:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: "accounts" | "payments" | "events" | "operations";
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: { name: string; description: string; schema: z.ZodType }[];
  body?: z.ZodType;
  /** A body that may be left out (read as `{}`). */
  bodyOptional?: boolean;
  bodyExample?: unknown;
  /** Several named examples instead of one (Swagger UI offers them in a list). */
  bodyExamples?: Record<string, { summary: string; value: unknown }>;
  /** Behind the API key (when API_KEYS is set) and the rate limit: everything under /api/v1 but this document. */
  guarded?: boolean;
  /**
   * Who may call it: `public` (no key), `client` (any API key), `admin` (an ADMIN_API_KEYS key).
   * Set for every route under /api/v1 by `guard` (default `client`); enforced by `requireRole`.
   */
  role?: "public" | "client" | "admin";
  /** Set on routes that create a payment or a dispute operation (counted as accepted on 202). */
  accepts?: AcceptedOperation;
  responses: Record<number, ResponseSpec>;
  /** What answers the route, after the checks its entry implies (routes/router.ts). */
  handler: RouteHandler;
  /** A check of the route's own, run first (the metrics token of /metrics). */
  before?: (ctx: RouteContext) => RequestHandler;
  /** The JSON body parser's limit, for a route with a `body` (default 16 KiB). */
  bodyLimitBytes?: number;
}

/** Paths the app serves that are not part of the JSON API, and why they are left out. */
export const UNDOCUMENTED_PREFIXES: { prefix: string; why: string }[] = [
  { prefix: "/admin/queues", why: "Bull Board's own UI and its internal API, behind basic auth" },
  { prefix: "/docs", why: "the interactive documentation (Swagger UI static files)" },
];

const IdParam = z.object({ id: z.guid().meta({ description: "A UUID; anything else is a 404" }) });

const IDEMPOTENCY_KEY = {
  name: "Idempotency-Key",
  description:
    "Optional. A key belongs to the API key that sends it, not to the endpoint. The same key with the same body on the same endpoint returns the original response and creates nothing; with another body or on another endpoint, 409 `idempotency_conflict`. Kept 24 hours at least.",
  schema: z.string().regex(schemas.IDEMPOTENCY_KEY_PATTERN).meta({ example: "order-1234-attempt" }),
};
const REPLAYED = { description: "`true` when the answer is the replay of an earlier request with the same Idempotency-Key" };

const ids = {
  account: "0193a0f2-6c1e-7c3a-9a52-3f6f2a1d9b10",
  other: "0193a0f2-6c1e-7c3a-9a52-3f6f2a1d9b11",
  payment: "0193a0f3-0000-7abc-8def-0123456789ab",
};
const at = "2026-11-21T10:00:00.000Z";

const accountExample = {
  id: ids.account,
  currency: "USD",
  status: "active",
  balance: "150.00",
  available: "100.00",
  held: "50.00",
  overdraft_limit: "0.00",
  entry_count: 7,
  created_at: at,
};
const paymentExample = {
  id: ids.payment,
  type: "transfer",
  status: "pending",
  from_account: ids.account,
  to_account: ids.other,
  amount: "99.01",
  currency: "USD",
  payment_description: "this is a payment desc.",
  failure_reason: null,
  dispute_status: "none",
  created_at: at,
  processed_at: null,
  refund_of: null,
  amount_refunded: "0.00",
  capture: true,
  amount_captured: null,
  expires_at: null,
  amount_disputed: null,
};
const depositExample = { ...paymentExample, type: "deposit", from_account: null, to_account: ids.account, amount: "100.00", payment_description: null };
const withdrawalExample = { ...paymentExample, type: "withdrawal", to_account: null, amount: "20.00", payment_description: null };
const entriesExample = {
  entries: [
    {
      seq: 1,
      payment_id: ids.payment,
      type: "credit",
      amount: "100.00",
      balance_after: "100.00",
      available_after: "100.00",
      held_after: "0.00",
      prev_hash: "0".repeat(64),
      hash: "9f".repeat(32),
      created_at: at,
    },
  ],
  next_after: null,
};

const ERROR_EXAMPLES: Partial<Record<ErrorCode, { message: string; details?: { path: string; message: string }[] }>> = {
  invalid_request: {
    message: "amount: must be a decimal string greater than 0 with at most 15 integer digits and 2 fraction digits",
    details: [{ path: "amount", message: "must be a decimal string" }],
  },
  invalid_json: { message: "request body is not valid JSON" },
  unauthorized: { message: "send a valid API key as Authorization: Bearer <key>" },
  forbidden: { message: "this operation needs an admin API key (ADMIN_API_KEYS)" },
  rate_limited: { message: "too many requests; retry later" },
  not_found: { message: "payment not found" },
  account_exists: { message: `account ${ids.account} already exists` },
  payload_too_large: { message: "request body is larger than 16 KiB" },
  unsupported_media_type: { message: "send the body as Content-Type: application/json" },
  account_not_found: { message: `account ${ids.other} does not exist`, details: [{ path: "to_account", message: "no such account" }] },
  currency_mismatch: { message: "from_account and to_account hold different currencies" },
  idempotency_conflict: { message: "Idempotency-Key was used with a different body" },
  invalid_state: { message: "payment is not a completed transfer or deposit without a dispute" },
  unavailable: { message: "PostgreSQL is unavailable; retry later" },
};

const endpointExample = {
  id: "0193a0f4-0000-7abc-8def-00000000e001",
  url: "https://example.com/settle/webhooks",
  events: ["payment.completed", "payment.failed"],
  description: "Order service",
  status: "enabled",
  created_at: at,
};
const secretExample = `whsec_${"A".repeat(43)}`;

/** A POST that takes no body: nothing, or `{}`. */
const NO_BODY = { body: schemas.EmptyRequest, bodyOptional: true, bodyExample: {} } satisfies Partial<RouteSpec>;

/** The error answers of a route: one entry per status, each listing the codes it can carry. */
function errors(...codes: ErrorCode[]): Record<number, ResponseSpec> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, group]) => {
      const first = group[0]!;
      const example = ERROR_EXAMPLES[first] ?? { message: first };
      return [
        status,
        {
          description: `Error: ${group.map((c) => `\`${c}\``).join(", ")}`,
          schema: ErrorResponse,
          example: { error: { code: first, ...example } },
          ...(status === 503 || status === 429 ? { headers: { "Retry-After": { description: "Seconds to wait before retrying" } } } : {}),
        },
      ];
    }),
  );
}

const BODY_ERRORS: ErrorCode[] = ["invalid_request", "invalid_json", "payload_too_large", "unsupported_media_type", "unavailable"];
const IDEMPOTENT_ERRORS: ErrorCode[] = [...BODY_ERRORS, "idempotency_conflict"];
const accepted = (example: unknown): ResponseSpec => ({
  description: "Accepted: the payment is durably recorded and will be processed; poll its Location",
  schema: PaymentResponse,
  example,
  headers: { Location: { description: "`/api/v1/payments/{id}`" }, "Idempotent-Replayed": REPLAYED },
});

const transfer = (path: string, operationId: string, summary: string): RouteSpec => ({
  method: "post",
  path,
  handler: payments.transfer,
  operationId,
  summary,
  tag: "payments",
  headers: [IDEMPOTENCY_KEY],
  body: schemas.TransferRequest,
  bodyExample: { from_account: ids.account, to_account: ids.other, amount: "99.01", payment_description: "this is a payment desc." },
  accepts: "transfer",
  responses: { 202: accepted(paymentExample), ...errors(...IDEMPOTENT_ERRORS, "account_not_found", "currency_mismatch") },
});

const getPayment = (path: string, operationId: string, summary: string): RouteSpec => ({
  method: "get",
  path,
  handler: payments.get,
  operationId,
  summary,
  description:
    "`wait` (0..30 s) long-polls: the answer comes as soon as the payment is no longer `pending` and no dispute operation on it is queued (at once if so already), or when the wait ends. At most `LONG_POLL_MAX` wait at once per process (then 429).",
  tag: "payments",
  params: IdParam,
  query: schemas.PaymentQuery,
  responses: {
    200: { description: "The payment", schema: PaymentResponse, example: { ...paymentExample, status: "completed", processed_at: at } },
    ...errors("invalid_request", "not_found", "unavailable"),
  },
});

function disputeOperation(kind: "dispute" | "resolve" | "chargeback", summary: string): RouteSpec {
  return {
    method: "post",
    path: `/api/v1/payments/:id/${kind}`,
    handler: payments.disputeOperation(kind),
    operationId: `${kind}Payment`,
    summary,
    description:
      "Queued like a payment and applied in the receiving account's order. The answer is the payment as it stands with `operation` (id, kind, `status: pending`); `GET /api/v1/payments/{id}?wait=` answers once no operation of it is queued, with the new `dispute_status`.",
    tag: "payments",
    params: IdParam,
    ...NO_BODY,
    accepts: kind,
    role: "admin",
    responses: {
      202: {
        ...accepted({
          ...paymentExample,
          status: "completed",
          processed_at: at,
          dispute_status: kind === "dispute" ? "none" : "open",
          operation: { id: "0193a0f4-0000-7abc-8def-0123456789ab", kind, status: "pending", created_at: at },
        }),
        description: "Accepted: the operation is durably queued; poll the payment (`?wait=` answers once no operation of it is queued)",
        schema: DisputeAccepted,
        // These routes take no Idempotency-Key (a repeated step is refused by its state): no replay header.
        headers: { Location: { description: "`/api/v1/payments/{id}`" } },
      },
      ...errors("not_found", "invalid_state", ...BODY_ERRORS),
    },
  };
}

function authorizationOperation(kind: "capture" | "void", summary: string): RouteSpec {
  const authorized = { ...paymentExample, status: "authorized", processed_at: at, capture: false, expires_at: "2026-11-28T10:00:00.000Z" };
  return {
    method: "post",
    path: `/api/v1/payments/:id/${kind}`,
    handler: payments.authorizationOperation(kind),
    operationId: `${kind}Payment`,
    summary,
    description:
      "Only for an `authorized` payment before its `expires_at`, with no capture or void queued (else 409 `invalid_state`): of a capture and a void sent at once exactly one is accepted. Queued and applied in the payer's order; `GET /api/v1/payments/{id}?wait=` answers once it is applied. With an Idempotency-Key, a retry replays the first answer (a repeat without one is refused by the state).",
    tag: "payments",
    params: IdParam,
    headers: [IDEMPOTENCY_KEY],
    ...(kind === "capture" ? { body: schemas.CaptureRequest, bodyOptional: true, bodyExample: { amount: "40.00" } } : NO_BODY),
    accepts: kind,
    responses: {
      202: {
        ...accepted({
          ...authorized,
          operation: {
            id: "0193a0f4-0000-7abc-8def-0123456789ab",
            kind,
            status: "pending",
            ...(kind === "capture" ? { amount: "40.00" } : {}),
            created_at: at,
          },
        }),
        description: "Accepted: the operation is durably queued; poll the payment (`?wait=` answers once no operation of it is queued)",
        schema: AuthorizationOperationAccepted,
        headers: { Location: { description: "`/api/v1/payments/{id}`" }, "Idempotent-Replayed": REPLAYED },
      },
      ...errors("not_found", "invalid_state", ...(kind === "capture" ? (["capture_exceeds_authorization"] as ErrorCode[]) : []), ...IDEMPOTENT_ERRORS),
    },
  };
}

function accountStatus(action: "freeze" | "unfreeze", summary: string): RouteSpec {
  const status = action === "freeze" ? "frozen" : "active";
  return {
    method: "post",
    path: `/api/v1/accounts/:id/${action}`,
    handler: accounts.setStatus(status),
    operationId: `${action}Account`,
    summary,
    description:
      "Takes effect when answered: every operation settled afterwards sees the new status, including payments accepted earlier and still pending. Doing it twice changes nothing.",
    tag: "accounts",
    params: IdParam,
    ...NO_BODY,
    role: "admin",
    responses: {
      200: { description: `The account, now \`${status}\``, schema: AccountResponse, example: { ...accountExample, status } },
      ...errors("not_found", ...BODY_ERRORS),
    },
  };
}

function endpointStatus(action: "enable" | "disable", summary: string): RouteSpec {
  const status = action === "enable" ? "enabled" : "disabled";
  return {
    method: "post",
    path: `/api/v1/webhook-endpoints/:id/${action}`,
    handler: webhooks.setStatus(status),
    operationId: `${action}WebhookEndpoint`,
    summary,
    description:
      action === "enable"
        ? "Clears its run of failures. Events created while it was disabled are not sent (read them from GET /api/v1/events); retries it had pending resume within their window. Enabling an enabled endpoint changes nothing."
        : "Its pending retries wait; the events created meanwhile are not sent to it, even once enabled again.",
    tag: "events",
    params: IdParam,
    ...NO_BODY,
    responses: {
      200: { description: `The endpoint, now \`${status}\``, schema: WebhookEndpointResponse, example: { ...endpointExample, status } },
      ...errors("not_found", ...BODY_ERRORS),
    },
  };
}

/** A 404's example names what the route looks up: the account or the payment of its path. */
function namedNotFound(route: RouteSpec): RouteSpec {
  const notFound = route.responses[404];
  const what = route.path.startsWith("/api/v1/accounts/:id")
    ? "account"
    : route.path.match(/^\/api\/v1\/payments?\/:id/)
      ? "payment"
      : route.path.startsWith("/api/v1/webhook-endpoints/:id")
        ? "webhook endpoint"
        : undefined;
  if (!notFound || !what) return route;
  return { ...route, responses: { ...route.responses, 404: { ...notFound, example: { error: { code: "not_found", message: `${what} not found` } } } } };
}

// Everything under /api/v1 but the document itself sits behind the API key and the rate limit.
const guard = (route: RouteSpec): RouteSpec => {
  if (!route.path.startsWith("/api/v1/") || route.path === OPENAPI_PATH) return { ...route, role: route.role ?? "public" };
  const role = route.role ?? "client";
  const who = role === "admin" ? "an admin API key (`ADMIN_API_KEYS`); a client key gets 403 `forbidden`" : "any API key (`API_KEYS` or `ADMIN_API_KEYS`)";
  return {
    ...route,
    role,
    guarded: true,
    description: `${route.description ? `${route.description}\n\n` : ""}Role: \`${role}\` — ${who}, when keys are configured.`,
    responses: { ...route.responses, ...errors("unauthorized", "rate_limited", ...(role === "admin" ? (["forbidden"] as ErrorCode[]) : [])) },
  };
};

export const ROUTES: RouteSpec[] = (
  [
    {
      method: "get",
      path: "/healthz",
      handler: health.healthz,
      operationId: "healthz",
      summary: "Liveness: 200 while the process runs",
      tag: "operations",
      responses: { 200: { description: "Alive", schema: HealthResponse, example: { status: "ok" } } },
    },
    {
      method: "get",
      path: "/readyz",
      handler: health.readyz,
      operationId: "readyz",
      summary: "Readiness: 200 when PostgreSQL and Redis answer, Redis takes writes, and the process is not stopping",
      tag: "operations",
      responses: {
        200: { description: "Ready", schema: ReadyResponse, example: { status: "ready", postgres: "up", redis: "up", redis_memory: "ok" } },
        503: {
          description: "A backing service does not answer, Redis is full, or the process is stopping",
          schema: ReadyResponse,
          example: { status: "unavailable", postgres: "up", redis: "down", redis_memory: "unknown" },
        },
      },
    },
    {
      method: "get",
      path: "/metrics",
      handler: serveMetrics,
      before: ({ deps }) => metricsGuard(deps.config.metricsToken),
      operationId: "metrics",
      summary: "Prometheus metrics of the API (summed over its processes under API_PROCESSES)",
      tag: "operations",
      responses: {
        200: {
          description: "Metrics",
          contentType: "text/plain; version=0.0.4",
          schema: MetricsText,
          example: 'settle_payments_accepted_total{type="transfer"} 42\n',
        },
      },
    },
    {
      method: "get",
      path: OPENAPI_PATH,
      handler: serveOpenApi,
      operationId: "openapi",
      summary: "This document (OpenAPI 3.1)",
      tag: "operations",
      responses: { 200: { description: "The OpenAPI document", schema: z.record(z.string(), z.unknown()), example: { openapi: "3.1.0" } } },
    },
    {
      method: "post",
      path: "/api/v1/accounts",
      handler: accounts.create,
      operationId: "createAccount",
      summary: "Create an account",
      tag: "accounts",
      headers: [IDEMPOTENCY_KEY],
      body: schemas.CreateAccountRequest,
      // Tried in order in /docs, these create the two accounts every later example names.
      bodyExamples: {
        first: { summary: "The first account of the examples", value: { currency: "USD", id: ids.account } },
        second: { summary: "The second account of the examples", value: { currency: "USD", id: ids.other } },
        generated: { summary: "An account with a server-chosen id", value: { currency: "USD" } },
      },
      responses: {
        201: {
          description: "Created",
          schema: AccountResponse,
          example: { ...accountExample, balance: "0.00", available: "0.00", held: "0.00", entry_count: 0 },
          headers: { Location: { description: "`/api/v1/accounts/{id}`" }, "Idempotent-Replayed": REPLAYED },
        },
        ...errors(...IDEMPOTENT_ERRORS, "account_exists"),
      },
    },
    {
      method: "get",
      path: "/api/v1/accounts",
      handler: accounts.list,
      operationId: "listAccounts",
      summary: "Accounts by id, with cursor paging",
      tag: "accounts",
      query: schemas.AccountsListQuery,
      responses: {
        200: { description: "One page of accounts", schema: AccountsPage, example: { accounts: [accountExample], next_after: null } },
        ...errors("invalid_request", "unavailable"),
      },
    },
    {
      method: "get",
      path: "/api/v1/accounts/:id",
      handler: accounts.get,
      operationId: "getAccount",
      summary: "An account with its balance, available and held funds",
      tag: "accounts",
      params: IdParam,
      responses: { 200: { description: "The account", schema: AccountResponse, example: accountExample }, ...errors("not_found", "unavailable") },
    },
    {
      method: "get",
      path: "/api/v1/accounts/:id/entries",
      handler: accounts.entries,
      operationId: "listEntries",
      summary: "An account's journal, oldest first, with cursor paging",
      description:
        "`from` and `to` (RFC 3339, both inclusive to the millisecond) keep the entries created within that window; they combine with `after` and `limit`, and `next_after` stays the last entry's `seq`.",
      tag: "accounts",
      params: IdParam,
      query: schemas.EntriesQuery,
      responses: {
        200: { description: "One page of the journal", schema: EntriesResponse, example: entriesExample },
        ...errors("invalid_request", "not_found", "unavailable"),
      },
    },
    {
      method: "get",
      path: "/api/v1/accounts/:id/balance",
      handler: accounts.balance,
      operationId: "getBalanceAt",
      summary: "An account's balances as of an instant, from its journal",
      description:
        "The balances after the account's last journal entry created at or before `at` (RFC 3339 with a zone, taken to the millisecond), with that entry's `seq`; zeros and `seq` 0 before its first entry. `at` is required.",
      tag: "accounts",
      params: IdParam,
      query: schemas.BalanceAtQuery,
      responses: {
        200: {
          description: "The balances at `at`",
          schema: BalanceAtResponse,
          example: { account_id: ids.account, at, balance: "150.00", available: "100.00", held: "50.00", seq: 7 },
        },
        ...errors("invalid_request", "not_found", "unavailable"),
      },
    },
    {
      method: "patch",
      path: "/api/v1/accounts/:id",
      handler: accounts.update,
      operationId: "updateAccount",
      summary: "Change an account's overdraft limit",
      description:
        "Takes effect when answered, like a freeze: every payment settled afterwards is checked against the new limit. Lowering it below the current debt takes nothing back. Writes an `account.updated` event when the limit changes.",
      tag: "accounts",
      params: IdParam,
      body: schemas.UpdateAccountRequest,
      bodyExample: { overdraft_limit: "250.00" },
      role: "admin",
      responses: {
        200: { description: "The account after the change", schema: AccountResponse, example: { ...accountExample, overdraft_limit: "250.00" } },
        ...errors("not_found", ...BODY_ERRORS),
      },
    },
    accountStatus("freeze", "Freeze an account: from now on it can receive money but not send or withdraw it"),
    accountStatus("unfreeze", "Unfreeze an account (also one frozen by a chargeback): it can send again"),
    transfer("/api/v1/payments", "createPayment", "Send money from one account to another"),
    transfer(
      "/api/v1/payment",
      "createPaymentSeedRoute",
      "The original route of version 1, kept for existing clients: the same endpoint as POST /api/v1/payments",
    ),
    {
      method: "post",
      path: "/api/v1/payments/batch",
      handler: payments.batch,
      bodyLimitBytes: BATCH_BODY_LIMIT_BYTES,
      operationId: "createPaymentBatch",
      summary: "Accept up to 1,000 payments in one request, one commit",
      description:
        "Each item is the body of `POST /payments` (or, with `type` `deposit` / `withdrawal`, of those endpoints) with an optional `idempotency_key`. " +
        "Results come in request order; a refused item refuses only itself. Accepted items commit together and keep their batch order per account. Body limit 1 MiB.",
      tag: "payments",
      body: BatchRequestDoc,
      bodyExample: {
        payments: [
          { from_account: ids.account, to_account: ids.other, amount: "99.01", payment_description: "order 1", idempotency_key: "order-1" },
          { type: "deposit", account_id: ids.account, amount: "100.00" },
        ],
      },
      accepts: "batch",
      responses: {
        202: {
          description: "Every item answered: `status` 202 with the payment, or a 4xx with the contract's error",
          schema: BatchResponse,
          example: {
            results: [
              { status: 202, payment: paymentExample },
              { status: 422, error: { code: "account_not_found", message: `account ${ids.account} does not exist` } },
            ],
          },
        },
        ...errors(...BODY_ERRORS),
      },
    },
    {
      method: "post",
      path: "/api/v1/deposits",
      handler: payments.deposit,
      operationId: "createDeposit",
      summary: "Money from the outside world into an account",
      tag: "payments",
      headers: [IDEMPOTENCY_KEY],
      body: schemas.ExternalMoveRequest,
      bodyExample: { account_id: ids.account, amount: "100.00" },
      accepts: "deposit",
      responses: { 202: accepted(depositExample), ...errors(...IDEMPOTENT_ERRORS, "account_not_found") },
    },
    {
      method: "post",
      path: "/api/v1/withdrawals",
      handler: payments.withdrawal,
      operationId: "createWithdrawal",
      summary: "Money from an account to the outside world",
      tag: "payments",
      headers: [IDEMPOTENCY_KEY],
      body: schemas.ExternalMoveRequest,
      bodyExample: { account_id: ids.account, amount: "20.00", description: "ATM" },
      accepts: "withdrawal",
      responses: { 202: accepted(withdrawalExample), ...errors(...IDEMPOTENT_ERRORS, "account_not_found") },
    },
    {
      method: "get",
      path: "/api/v1/payments",
      handler: payments.list,
      operationId: "listPayments",
      summary: "Payments, newest first, filtered and with cursor paging",
      description:
        "With `account_id`, the payments that account sent or received. Filters combine. Newest first by id (a UUIDv7, so by acceptance time); pass the answer's `next_after` as `after` for the next page.",
      tag: "payments",
      query: schemas.PaymentsListQuery,
      responses: {
        200: {
          description: "One page of payments",
          schema: PaymentsPage,
          example: { payments: [{ ...paymentExample, status: "completed", processed_at: at }], next_after: null },
        },
        ...errors("invalid_request", "unavailable"),
      },
    },
    getPayment("/api/v1/payments/:id", "getPayment", "A payment, for polling its status"),
    getPayment(
      "/api/v1/payment/:id",
      "getPaymentSeedRoute",
      "The original route of version 1, kept for existing clients: the same endpoint as GET /api/v1/payments/{id}",
    ),
    disputeOperation("dispute", "Dispute a completed transfer or deposit: its amount is held on the receiving account"),
    disputeOperation("resolve", "Resolve an open dispute: the hold is released"),
    disputeOperation("chargeback", "Charge back an open dispute: the held amount leaves the receiving account, which is frozen"),
    {
      method: "post",
      path: "/api/v1/payments/:id/refunds",
      handler: payments.refund,
      operationId: "refundPayment",
      summary: "Refund a completed payment, in part or in full: a new payment from its receiver back to its payer",
      description:
        "Refunds of one payment (pending and completed) never total more than it: decided under a lock on the payment, so refunds sent at once cannot together exceed it (409 `refund_exceeds_payment`). Without `amount`, refunds what is left. A refund settles like a transfer and may fail with `insufficient_funds`.",
      tag: "payments",
      params: IdParam,
      headers: [IDEMPOTENCY_KEY],
      body: schemas.RefundRequest,
      bodyOptional: true,
      bodyExample: { amount: "10.00", reason: "one item returned" },
      accepts: "refund",
      responses: {
        202: accepted({
          ...paymentExample,
          id: "0193a0f5-0000-7abc-8def-0123456789ab",
          type: "refund",
          refund_of: ids.payment,
          from_account: ids.other,
          to_account: ids.account,
          amount: "10.00",
          payment_description: "one item returned",
        }),
        ...errors("not_found", "invalid_state", "refund_exceeds_payment", ...IDEMPOTENT_ERRORS),
      },
    },
    authorizationOperation("capture", "Capture an authorization, in full or in part: the captured amount moves to the receiver, the rest is released"),
    authorizationOperation("void", "Void an authorization: its hold is released"),
    {
      method: "get",
      path: "/api/v1/events",
      handler: webhooks.events,
      operationId: "listEvents",
      summary: "Events, oldest first, from a cursor: what changed, for clients that poll or missed webhooks",
      description:
        "Each event is written in the transaction of the change it reports. Pass the answer's `next_after` as `after` to get the events that follow; " +
        "an event appears once every transaction that began before it has ended, so a cursor never skips one. Kept `EVENT_RETENTION_DAYS` (30).",
      tag: "events",
      query: schemas.EventsQuery,
      responses: {
        200: {
          description: "One page of the feed",
          schema: EventsPage,
          example: {
            events: [
              {
                id: "0193a0f4-0000-7abc-8def-00000000e7e1",
                type: "payment.completed",
                created_at: at,
                data: { payment: { ...paymentExample, status: "completed", processed_at: at } },
              },
            ],
            next_after: "1234-56",
          },
        },
        ...errors("invalid_request", "unavailable"),
      },
    },
    {
      method: "post",
      path: "/api/v1/webhook-endpoints",
      handler: webhooks.createEndpoint,
      operationId: "createWebhookEndpoint",
      summary: "Subscribe a URL to events: each is POSTed to it, signed (Settle-Signature)",
      description:
        '`url` must be https and not a private, loopback or link-local address (unless `WEBHOOK_ALLOW_INSECURE=true`). `events`: types, or `["*"]` for all. ' +
        "The answer carries the signing `secret`, shown only here and by rotate-secret.",
      tag: "events",
      headers: [IDEMPOTENCY_KEY],
      body: schemas.CreateWebhookEndpointRequest,
      bodyExample: { url: endpointExample.url, events: endpointExample.events, description: endpointExample.description },
      responses: {
        201: {
          description: "Created",
          schema: WebhookEndpointWithSecretResponse,
          example: { ...endpointExample, secret: secretExample },
          headers: { Location: { description: "`/api/v1/webhook-endpoints/{id}`" }, "Idempotent-Replayed": REPLAYED },
        },
        ...errors(...IDEMPOTENT_ERRORS),
      },
    },
    {
      method: "get",
      path: "/api/v1/webhook-endpoints",
      handler: webhooks.listEndpoints,
      operationId: "listWebhookEndpoints",
      summary: "Webhook endpoints by id, with cursor paging (no secrets)",
      tag: "events",
      query: schemas.WebhookEndpointsListQuery,
      responses: {
        200: { description: "One page of endpoints", schema: WebhookEndpointsPage, example: { webhook_endpoints: [endpointExample], next_after: null } },
        ...errors("invalid_request", "unavailable"),
      },
    },
    {
      method: "get",
      path: "/api/v1/webhook-endpoints/:id",
      handler: webhooks.getEndpoint,
      operationId: "getWebhookEndpoint",
      summary: "A webhook endpoint (no secret)",
      tag: "events",
      params: IdParam,
      responses: { 200: { description: "The endpoint", schema: WebhookEndpointResponse, example: endpointExample }, ...errors("not_found", "unavailable") },
    },
    {
      method: "delete",
      path: "/api/v1/webhook-endpoints/:id",
      handler: webhooks.deleteEndpoint,
      operationId: "deleteWebhookEndpoint",
      summary: "Delete a webhook endpoint: nothing more is sent to it, its pending deliveries included",
      tag: "events",
      params: IdParam,
      responses: { 204: { description: "Deleted" }, ...errors("not_found", "unavailable") },
    },
    endpointStatus("enable", "Enable an endpoint (also one disabled after its deliveries kept failing): it receives the events created from now on"),
    endpointStatus("disable", "Disable an endpoint: nothing is sent to it until it is enabled again"),
    {
      method: "post",
      path: "/api/v1/webhook-endpoints/:id/rotate-secret",
      handler: webhooks.rotateSecret,
      operationId: "rotateWebhookSecret",
      summary: "Give an endpoint a new signing secret; the old one keeps signing beside it for 24 hours",
      tag: "events",
      params: IdParam,
      ...NO_BODY,
      responses: {
        200: {
          description: "The endpoint with its new secret",
          schema: WebhookEndpointWithSecretResponse,
          example: { ...endpointExample, secret: secretExample },
        },
        ...errors("not_found", ...BODY_ERRORS),
      },
    },
    {
      method: "get",
      path: "/api/v1/webhook-endpoints/:id/deliveries",
      handler: webhooks.attempts,
      operationId: "listWebhookAttempts",
      summary: "An endpoint's delivery attempts, newest first",
      tag: "events",
      params: IdParam,
      query: schemas.WebhookAttemptsQuery,
      responses: {
        200: {
          description: "The attempts",
          schema: WebhookAttemptsResponse,
          example: {
            attempts: [
              {
                event_id: "0193a0f4-0000-7abc-8def-00000000e7e1",
                attempt: 1,
                status_code: 500,
                error: "HTTP 500",
                duration_ms: 12,
                attempted_at: at,
                next_retry_at: at,
                delivery_status: "pending",
              },
            ],
          },
        },
        ...errors("invalid_request", "not_found", "unavailable"),
      },
    },
  ] satisfies RouteSpec[]
)
  .map(guard)
  .map(namedNotFound);

// Built on first use, once: the document depends only on code. A function declaration, so the
// table above can name it before ROUTES exists.
let servedDocument: string | undefined;
function serveOpenApi(_req: unknown, res: Response): void {
  servedDocument ??= JSON.stringify(buildOpenApiDocument(ROUTES));
  res.type("application/json").send(servedDocument);
}

const index = new RouteIndex(ROUTES);

/** The documented route a request is for, or undefined (a 404, or an undocumented prefix). */
export function findRoute(method: string, path: string): RouteSpec | undefined {
  return index.match(method, path)?.route;
}
