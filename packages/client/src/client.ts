import { randomUUID } from "node:crypto";
import createClient, { type Client } from "openapi-fetch";
import { SettleApiError } from "./errors";
import type { components, operations, paths } from "./generated/openapi";

type Schemas = components["schemas"];
export type Account = Schemas["Account"];
export type AccountPage = Schemas["AccountPage"];
export type JournalEntry = Schemas["JournalEntry"];
export type JournalPage = Schemas["JournalPage"];
export type Payment = Schemas["Payment"];
export type PaymentPage = Schemas["PaymentPage"];
export type DisputeAccepted = Schemas["DisputeAccepted"];
export type AuthorizationOperationAccepted = Schemas["AuthorizationOperationAccepted"];
export type BalanceAt = Schemas["BalanceAt"];
export type BatchItem = Schemas["BatchRequest"]["payments"][number];
export type BatchResults = Schemas["BatchResults"];
export type BatchResult = BatchResults["results"][number];
export type Event = Schemas["Event"];
export type EventPage = Schemas["EventPage"];
export type WebhookEndpoint = Schemas["WebhookEndpoint"];
export type WebhookEndpointWithSecret = Schemas["WebhookEndpointWithSecret"];
export type WebhookEndpointPage = Schemas["WebhookEndpointPage"];
export type WebhookAttempt = Schemas["WebhookAttempt"];

// The document declares request bodies and queries inline on each operation, not as components.
type JsonBody<K extends keyof operations> = NonNullable<operations[K]["requestBody"]> extends { content: { "application/json": infer B } } ? B : never;
type Query<K extends keyof operations> = NonNullable<operations[K]["parameters"]["query"]>;
export type CreateAccountRequest = JsonBody<"createAccount">;
export type TransferRequest = JsonBody<"createPayment">;
/** A deposit's or a withdrawal's body. */
export type ExternalMoveRequest = JsonBody<"createDeposit">;
export type ListAccountsQuery = Query<"listAccounts">;
export type ListEntriesQuery = Query<"listEntries">;
export type ListPaymentsQuery = Query<"listPayments">;
export type ListEventsQuery = Query<"listEvents">;
export type CreateWebhookEndpointRequest = JsonBody<"createWebhookEndpoint">;
export type UpdateAccountRequest = JsonBody<"updateAccount">;
export type RefundRequest = JsonBody<"refundPayment">;

export interface SettleClientOptions {
  /** Where the API answers, such as `http://localhost:3000` (the paths carry `/api/v1`). */
  baseUrl: string;
  /** A key of `API_KEYS` (or `ADMIN_API_KEYS` for the admin calls); leave it out for an open API. */
  apiKey?: string;
  /** Instead of `globalThis.fetch` (a proxy agent, instrumentation). */
  fetch?: (request: Request) => Promise<Response>;
}

export interface CreateOptions {
  /** Sent as `Idempotency-Key`: a retry with the same key and body replays the first answer and creates nothing. */
  idempotencyKey?: string;
}

export interface CreatedAccount {
  account: Account;
  /** The answer is the stored one of an earlier request with the same key (`Idempotent-Replayed: true`). */
  replayed: boolean;
  location: string | null;
}

export interface AcceptedPayment {
  /** As accepted (`pending`), also on a replay; `waitForPayment` or `getPayment` for its state now. */
  payment: Payment;
  replayed: boolean;
  location: string | null;
}

/** The API's calls. Each resolves with the answer's body or rejects with a `SettleApiError`. */
export interface SettleClient {
  createAccount(body?: CreateAccountRequest, options?: CreateOptions): Promise<CreatedAccount>;
  getAccount(id: string): Promise<Account>;
  listAccounts(query?: ListAccountsQuery): Promise<AccountPage>;
  /** The account's journal, oldest first. */
  listEntries(accountId: string, query?: ListEntriesQuery): Promise<JournalPage>;
  /** Admin: from now on the account can receive but not send or withdraw. */
  /** Admin: the overdraft limit (docs/API.md "Overdraft limits"). */
  updateAccount(id: string, body: UpdateAccountRequest): Promise<Account>;
  /** The balances after the account's last journal entry at or before `at` (RFC 3339). */
  getBalanceAt(accountId: string, at: string): Promise<BalanceAt>;
  freezeAccount(id: string): Promise<Account>;
  unfreezeAccount(id: string): Promise<Account>;
  /** A transfer between two accounts. */
  createPayment(body: TransferRequest, options?: CreateOptions): Promise<AcceptedPayment>;
  createDeposit(body: ExternalMoveRequest, options?: CreateOptions): Promise<AcceptedPayment>;
  createWithdrawal(body: ExternalMoveRequest, options?: CreateOptions): Promise<AcceptedPayment>;
  /** Up to 1,000 payments in one request; one result per item, in order (an item's key is its `idempotency_key`). */
  createPaymentBatch(payments: BatchItem[]): Promise<BatchResults>;
  /** `wait` (0..30 s) long-polls once; see `waitForPayment` for longer. */
  getPayment(id: string, options?: { wait?: number }): Promise<Payment>;
  /**
   * Long-polls until the payment is no longer `pending` and no dispute operation of it is queued,
   * or until `timeoutSeconds` (default 30) pass; resolves with the payment as it is then, either
   * way (check its `status`), like the API's own `?wait=`.
   */
  waitForPayment(id: string, options?: { timeoutSeconds?: number }): Promise<Payment>;
  /** Newest first; `next_after` pages. */
  listPayments(query?: ListPaymentsQuery): Promise<PaymentPage>;
  /** Admin: hold the received amount of a completed transfer or deposit. */
  disputePayment(id: string): Promise<DisputeAccepted>;
  /** Admin: release an open dispute's hold. */
  resolvePayment(id: string): Promise<DisputeAccepted>;
  /** Admin: return an open dispute's amount and freeze the receiving account. */
  chargebackPayment(id: string): Promise<DisputeAccepted>;
  /** What changed, oldest first; pass `next_after` as `after` for what follows (the feed has no end). */
  /** A refund: a new payment from the original's receiver back to its payer; `amount` left out refunds what is left. */
  refundPayment(id: string, body?: RefundRequest, options?: CreateOptions): Promise<AcceptedPayment>;
  /** Captures an authorization (`capture: false`), all of it or `amount`; `waitForPayment` then shows it `completed`. */
  capturePayment(id: string, amount?: string, options?: CreateOptions): Promise<AuthorizationOperationAccepted>;
  /** Releases an authorization's hold; `waitForPayment` then shows it `voided`. */
  voidPayment(id: string, options?: CreateOptions): Promise<AuthorizationOperationAccepted>;
  listEvents(query?: ListEventsQuery): Promise<EventPage>;
  /** Subscribes a URL to events; the answer's `secret` (shown only here) verifies each delivery's signature. */
  createWebhookEndpoint(body: CreateWebhookEndpointRequest, options?: CreateOptions): Promise<WebhookEndpointWithSecret>;
  listWebhookEndpoints(query?: ListAccountsQuery): Promise<WebhookEndpointPage>;
  getWebhookEndpoint(id: string): Promise<WebhookEndpoint>;
  deleteWebhookEndpoint(id: string): Promise<void>;
  /** Enables an endpoint: it receives the events created from now on (not those of the time it was disabled). */
  enableWebhookEndpoint(id: string): Promise<WebhookEndpoint>;
  disableWebhookEndpoint(id: string): Promise<WebhookEndpoint>;
  /** A new secret; the previous one keeps signing beside it for 24 hours. */
  rotateWebhookSecret(id: string): Promise<WebhookEndpointWithSecret>;
  /** The endpoint's delivery attempts, newest first. */
  listWebhookAttempts(id: string, query?: { limit?: number }): Promise<WebhookAttempt[]>;
  /** The openapi-fetch client underneath, typed by the same document, for the routes not wrapped here. */
  readonly raw: Client<paths>;
}

/** A fresh Idempotency-Key: keep it with the intent (the order, the retry loop) and reuse it on every retry. */
export function newIdempotencyKey(): string {
  return randomUUID();
}

/** The long poll's cap (docs/API.md: `?wait=` takes 0..30 s). */
const MAX_WAIT_SECONDS = 30;

export function createSettleClient(options: SettleClientOptions): SettleClient {
  const raw = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.apiKey ? { headers: { Authorization: `Bearer ${options.apiKey}` } } : {}),
  });
  const path = (id: string) => ({ path: { id } });
  const keyed = (create: CreateOptions = {}) => ({ header: { "Idempotency-Key": create.idempotencyKey } });

  const client: SettleClient = {
    raw,
    async createAccount(body = {}, create) {
      const { data, response } = await ok(raw.POST("/api/v1/accounts", { body, params: keyed(create) }));
      return { account: data, ...replay(response) };
    },
    async getAccount(id) {
      return (await ok(raw.GET("/api/v1/accounts/{id}", { params: path(id) }))).data;
    },
    async listAccounts(query = {}) {
      return (await ok(raw.GET("/api/v1/accounts", { params: { query } }))).data;
    },
    async listEntries(accountId, query = {}) {
      return (await ok(raw.GET("/api/v1/accounts/{id}/entries", { params: { ...path(accountId), query } }))).data;
    },
    async updateAccount(id, body) {
      return (await ok(raw.PATCH("/api/v1/accounts/{id}", { params: path(id), body }))).data;
    },
    async getBalanceAt(accountId, at) {
      return (await ok(raw.GET("/api/v1/accounts/{id}/balance", { params: { ...path(accountId), query: { at } } }))).data;
    },
    async freezeAccount(id) {
      return (await ok(raw.POST("/api/v1/accounts/{id}/freeze", { params: path(id) }))).data;
    },
    async unfreezeAccount(id) {
      return (await ok(raw.POST("/api/v1/accounts/{id}/unfreeze", { params: path(id) }))).data;
    },
    async createPayment(body, create) {
      const { data, response } = await ok(raw.POST("/api/v1/payments", { body, params: keyed(create) }));
      return { payment: data, ...replay(response) };
    },
    async createDeposit(body, create) {
      const { data, response } = await ok(raw.POST("/api/v1/deposits", { body, params: keyed(create) }));
      return { payment: data, ...replay(response) };
    },
    async createWithdrawal(body, create) {
      const { data, response } = await ok(raw.POST("/api/v1/withdrawals", { body, params: keyed(create) }));
      return { payment: data, ...replay(response) };
    },
    async createPaymentBatch(payments) {
      return (await ok(raw.POST("/api/v1/payments/batch", { body: { payments } }))).data;
    },
    async getPayment(id, { wait } = {}) {
      return (await ok(raw.GET("/api/v1/payments/{id}", { params: { ...path(id), query: wait === undefined ? {} : { wait } } }))).data;
    },
    async waitForPayment(id, { timeoutSeconds = MAX_WAIT_SECONDS } = {}) {
      if (!(timeoutSeconds >= 0)) throw new TypeError("waitForPayment: timeoutSeconds must be a number of seconds, 0 or more");
      const deadline = Date.now() + timeoutSeconds * 1000;
      for (;;) {
        // Whole seconds, as the API takes them, to the nearest: rounding down would turn a timeout of
        // 1 s into no wait at all once a millisecond has passed since the deadline was set.
        const wait = Math.min(MAX_WAIT_SECONDS, Math.max(0, Math.round((deadline - Date.now()) / 1000)));
        const asked = Date.now();
        let payment: Payment;
        try {
          payment = await client.getPayment(id, { wait });
        } catch (error) {
          // Too many long polls at once (429) or PostgreSQL away (503): both say when to come back.
          const delayMs = error instanceof SettleApiError && error.retryAfter !== undefined ? Math.max(250, error.retryAfter * 1000) : undefined;
          if (delayMs === undefined || Date.now() + delayMs >= deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          continue;
        }
        // A long poll that answers before its wait is over has seen what it waits for: settled,
        // and no operation of it queued (which `status` alone does not show). One that took the
        // whole wait may have timed out, so it is asked again while time is left.
        if (payment.status !== "pending" && Date.now() - asked < wait * 1000) return payment;
        if (wait === 0 || Date.now() >= deadline) return payment;
      }
    },
    async listPayments(query = {}) {
      return (await ok(raw.GET("/api/v1/payments", { params: { query } }))).data;
    },
    async disputePayment(id) {
      return (await ok(raw.POST("/api/v1/payments/{id}/dispute", { params: path(id) }))).data;
    },
    async resolvePayment(id) {
      return (await ok(raw.POST("/api/v1/payments/{id}/resolve", { params: path(id) }))).data;
    },
    async chargebackPayment(id) {
      return (await ok(raw.POST("/api/v1/payments/{id}/chargeback", { params: path(id) }))).data;
    },
    async refundPayment(id, body = {}, create) {
      const { data, response } = await ok(raw.POST("/api/v1/payments/{id}/refunds", { params: { ...path(id), ...keyed(create) }, body }));
      return { payment: data, ...replay(response) };
    },
    async capturePayment(id, amount, create) {
      const body = amount === undefined ? {} : { amount };
      return (await ok(raw.POST("/api/v1/payments/{id}/capture", { params: { ...path(id), ...keyed(create) }, body }))).data;
    },
    async voidPayment(id, create) {
      return (await ok(raw.POST("/api/v1/payments/{id}/void", { params: { ...path(id), ...keyed(create) } }))).data;
    },
    async listEvents(query = {}) {
      return (await ok(raw.GET("/api/v1/events", { params: { query } }))).data;
    },
    async createWebhookEndpoint(body, create) {
      return (await ok(raw.POST("/api/v1/webhook-endpoints", { body, params: keyed(create) }))).data;
    },
    async listWebhookEndpoints(query = {}) {
      return (await ok(raw.GET("/api/v1/webhook-endpoints", { params: { query } }))).data;
    },
    async getWebhookEndpoint(id) {
      return (await ok(raw.GET("/api/v1/webhook-endpoints/{id}", { params: path(id) }))).data;
    },
    async deleteWebhookEndpoint(id) {
      await ok(raw.DELETE("/api/v1/webhook-endpoints/{id}", { params: path(id) }));
    },
    async enableWebhookEndpoint(id) {
      return (await ok(raw.POST("/api/v1/webhook-endpoints/{id}/enable", { params: path(id) }))).data;
    },
    async disableWebhookEndpoint(id) {
      return (await ok(raw.POST("/api/v1/webhook-endpoints/{id}/disable", { params: path(id) }))).data;
    },
    async rotateWebhookSecret(id) {
      return (await ok(raw.POST("/api/v1/webhook-endpoints/{id}/rotate-secret", { params: path(id) }))).data;
    },
    async listWebhookAttempts(id, query = {}) {
      return (await ok(raw.GET("/api/v1/webhook-endpoints/{id}/deliveries", { params: { ...path(id), query } }))).data.attempts;
    },
  };
  return client;
}

/** openapi-fetch's answer, with a non-2xx turned into a `SettleApiError`. */
async function ok<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<{ data: T; response: Response }> {
  const { data, error, response } = await pending;
  if (!response.ok) throw SettleApiError.fromResponse(response, error);
  return { data: data as T, response };
}

function replay(response: Response): { replayed: boolean; location: string | null } {
  return { replayed: response.headers.get("idempotent-replayed") === "true", location: response.headers.get("location") };
}
