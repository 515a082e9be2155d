// Random sequences of every operation on a payment or an account (deposits, withdrawals, transfers,
// batches, authorizations with capture/void/expiry, refunds (some with an Idempotency-Key), dispute
// steps, freezes, overdraft limits, payments to the overdraft floor, refused requests and admin
// routes tried with a client key), sent through the HTTP API to a real system (PostgreSQL, Redis,
// two workers) one at a time, each settled before the next, and applied in the same order to a
// small in-memory model of docs/API.md (money in decimal.js only). Every answer must be the one the
// model predicts; after every step the accounts, and after every sequence every payment, every
// account's journal, the event feed and the payment listings must be as the model has them, and
// the ledger must verify. The seed is printed: OPS_MODEL_SEED=<seed> replays a run, and
// OPS_MODEL_RUNS=<n> runs more sequences (30 take about a minute).
import fc from "fast-check";
import { formatMoney, MoneyDecimal, verifyLedger, type Money } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, type ApiClient, type HttpResult } from "./support/http";

/** OPS_MODEL_RUNS: more sequences for a longer hunt. */
const RUNS = Number(process.env.OPS_MODEL_RUNS ?? 30);
jest.setTimeout(Math.max(240_000, RUNS * 6000));

const CLIENT_KEY = "ops-model-client-key-0123456789";
const ADMIN_KEY = "ops-model-admin-key-0123456789ab";
const ACCOUNTS = 4;
const OPENING = "50.00";

let system: InProcessSystem;
let user: ApiClient;
let admin: ApiClient;

beforeAll(async () => {
  // Workers sweep every 500 ms (startInProcess), so an authorization of expires_in_seconds 1 expires within ~2 s.
  system = await startInProcess("ops-model", { workers: 2, apiEnv: { API_KEYS: CLIENT_KEY, ADMIN_API_KEYS: ADMIN_KEY } });
  user = client(system.api.url, { authorization: `Bearer ${CLIENT_KEY}` });
  admin = client(system.api.url, { authorization: `Bearer ${ADMIN_KEY}` });
});
afterAll(() => system?.stop());

// ---------------------------------------------------------------------------------------------
// The model (docs/API.md), money in decimal.js only.

const ZERO = new MoneyDecimal(0);
const CENT = new MoneyDecimal("0.01");
const money = (s: string): Money => new MoneyDecimal(s);
const fmt = (m: Money | null): string | null => (m === null ? null : formatMoney(m));

type AccountStatus = "active" | "frozen";
type DisputeStatus = "none" | "open" | "resolved" | "charged_back";
type PaymentStatus = "pending" | "completed" | "failed" | "authorized" | "voided" | "expired";
type FailureReason = null | "insufficient_funds" | "account_frozen";

interface MAccount {
  available: Money;
  held: Money;
  status: AccountStatus;
  limit: Money;
}
interface MPayment {
  id: string;
  type: "transfer" | "deposit" | "withdrawal" | "refund";
  capture: boolean;
  from: number | null;
  to: number | null;
  amount: Money;
  status: PaymentStatus;
  failure_reason: FailureReason;
  dispute_status: DisputeStatus;
  amount_refunded: Money;
  amount_captured: Money | null;
  /** What an open dispute holds on the receiver. */
  disputeHeld: Money;
  refundOf: number | null;
  /** An authorization's expires_in_seconds (the default when it was not sent). */
  expiresIn?: number;
  /** As first answered: an authorization keeps its expires_at, and every payment its processed_at once settled. */
  expiresAt?: string | null;
  processedAt?: string | null;
}
type EntryType = "credit" | "debit" | "hold" | "release" | "chargeback" | "authorize" | "capture";
/** A journal entry the model expects, with the step that wrote it. */
interface MEntry {
  step: number;
  type: EntryType;
  amount: string;
  payment: string;
}
interface Model {
  accounts: MAccount[];
  payments: MPayment[];
  /** Per account, the journal entries expected, oldest first. */
  journals: MEntry[][];
  step: number;
  /** The events the model expects in the feed: `type subject detail` (see `eventKey`). */
  events: string[];
}

/** How an event is compared: its type, what it is about, and that subject's state in its data. */
function eventKey(type: string, subject: string, detail: string): string {
  return `${type} ${subject} ${detail}`;
}
function paymentEvent(model: Model, type: string, p: MPayment): void {
  model.events.push(eventKey(type, p.id, type.startsWith("dispute.") ? p.dispute_status : p.status));
}

/** Money moves in the model only through journal entries, as in the ledger (apply.ts's appendEntry). */
function entry(model: Model, account: number, type: EntryType, amount: Money, payment: MPayment): void {
  const a = model.accounts[account]!;
  if (type === "credit" || type === "release") a.available = a.available.plus(amount);
  if (type === "debit" || type === "hold" || type === "authorize") a.available = a.available.minus(amount);
  if (type === "hold" || type === "authorize") a.held = a.held.plus(amount);
  if (type === "release" || type === "chargeback" || type === "capture") a.held = a.held.minus(amount);
  model.journals[account]!.push({ step: model.step, type, amount: formatMoney(amount), payment: payment.id });
}

/** An answer: HTTP status and error code (none on success). */
type Answer = `${number}` | `${number} ${string}`;
const answerOf = (res: HttpResult): Answer => (res.status < 300 ? `${res.status}` : `${res.status} ${res.body?.error?.code}`);

/** Settles a new payment of `from` (transfer, withdrawal, authorization, refund) the way the workers must. */
function settleDebit(model: Model, p: MPayment): void {
  const payer = p.from === null ? undefined : model.accounts[p.from]!;
  if (payer && payer.status === "frozen") return fail(model, p, "account_frozen");
  if (payer && payer.available.minus(p.amount).lessThan(payer.limit.negated())) return fail(model, p, "insufficient_funds");
  if (!p.capture) {
    // An authorization: held on the payer, nothing reaches the payee yet.
    entry(model, p.from!, "authorize", p.amount, p);
    p.status = "authorized";
    paymentEvent(model, "payment.authorized", p);
    return;
  }
  if (p.from !== null) entry(model, p.from, "debit", p.amount, p);
  if (p.to !== null) entry(model, p.to, "credit", p.amount, p);
  p.status = "completed";
  if (p.refundOf !== null) {
    const original = model.payments[p.refundOf]!;
    original.amount_refunded = original.amount_refunded.plus(p.amount);
  }
  paymentEvent(model, "payment.completed", p);
}
function fail(model: Model, p: MPayment, reason: "insufficient_funds" | "account_frozen"): void {
  p.status = "failed";
  p.failure_reason = reason;
  paymentEvent(model, "payment.failed", p);
}

/** What a transfer or deposit can still give back or be disputed for. */
const base = (p: MPayment): Money => (p.capture ? p.amount : (p.amount_captured ?? ZERO));
const left = (p: MPayment): Money => base(p).minus(p.amount_refunded);
const refundable = (p: MPayment) =>
  (p.type === "transfer" || p.type === "deposit") && p.status === "completed" && (p.dispute_status === "none" || p.dispute_status === "resolved");
const isAuthorization = (p: MPayment) => !p.capture;
const isTransferOrDeposit = (p: MPayment) => p.type === "transfer" || p.type === "deposit";
const disputable = (p: MPayment) => (p.type === "transfer" || p.type === "deposit") && p.status === "completed" && p.dispute_status === "none";

function releaseAuthorization(model: Model, p: MPayment, status: "voided" | "expired"): void {
  entry(model, p.from!, "release", p.amount, p);
  p.status = status;
  paymentEvent(model, `payment.${status}`, p);
}

// ---------------------------------------------------------------------------------------------
// The operations, as fast-check generates them. Payments are named by `pick`, resolved when the
// step runs among the payments the sequence has made so far. `focus` (0..9) chooses among which:
// 3..9 those the operation applies to now (so that the accepted paths are common), 1..2 those of
// the kind it is about whatever their state, 0 any payment (so that every refusal is tried too).

type AmountSpec = { type: "none" } | { type: "exact" } | { type: "part"; pct: number } | { type: "over"; cents: number };
type BatchItem = { type: "transfer" | "authorize" | "deposit" | "withdrawal"; from: number; to: number; amount: string };
type AdminRoute = "dispute" | "resolve" | "chargeback" | "freeze" | "unfreeze" | "limit" | "create";
type Op =
  | { kind: "deposit"; to: number; amount: string }
  | { kind: "withdrawal"; from: number; amount: string }
  | { kind: "transfer"; from: number; to: number; amount: string }
  | { kind: "authorize"; from: number; to: number; amount: string; expiring: boolean }
  | { kind: "capture"; focus: number; pick: number; how: AmountSpec }
  | { kind: "refund"; focus: number; pick: number; how: AmountSpec; keyed: boolean }
  | { kind: "batch"; items: BatchItem[] }
  | { kind: "edge"; via: "transfer" | "authorize" | "withdrawal"; from: number; to: number; over: boolean }
  | { kind: "refused"; variant: number; account: number; pick: number }
  | { kind: "void" | "dispute" | "resolve" | "chargeback"; focus: number; pick: number }
  | { kind: "freeze" | "unfreeze"; account: number }
  | { kind: "limit"; account: number; limit: string }
  | { kind: "forbidden"; route: AdminRoute; pick: number; account: number };

const amountArb = fc
  .tuple(fc.integer({ min: 0, max: 39 }), fc.integer({ min: 0, max: 99 }))
  .map(([units, cents]) => `${units}.${String(cents).padStart(2, "0")}`)
  .filter((s) => s !== "0.00");
const accountArb = fc.integer({ min: 0, max: ACCOUNTS - 1 });
const pairArb = fc.tuple(accountArb, accountArb).filter(([a, b]) => a !== b);
const focusArb = fc.integer({ min: 0, max: 9 });
const pickArb = fc.nat({ max: 1000 });
const limitArb = fc.constantFrom("0.00", "10.00", "25.50", "60.00");
const amountSpecArb: fc.Arbitrary<AmountSpec> = fc.oneof(
  { arbitrary: fc.constant({ type: "none" as const }), weight: 2 },
  { arbitrary: fc.constant({ type: "exact" as const }), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 99 }).map((pct) => ({ type: "part" as const, pct })), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 500 }).map((cents) => ({ type: "over" as const, cents })), weight: 1 },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("deposit" as const), to: accountArb, amount: amountArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("withdrawal" as const), from: accountArb, amount: amountArb }), weight: 2 },
  { arbitrary: fc.tuple(pairArb, amountArb).map(([[from, to], amount]) => ({ kind: "transfer" as const, from, to, amount })), weight: 4 },
  {
    arbitrary: fc
      .tuple(pairArb, amountArb, fc.integer({ min: 0, max: 7 }))
      .map(([[from, to], amount, n]) => ({ kind: "authorize" as const, from, to, amount, expiring: n === 0 })),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant("capture" as const), focus: focusArb, pick: pickArb, how: amountSpecArb }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant("void" as const), focus: focusArb, pick: pickArb }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant("refund" as const),
      focus: focusArb,
      pick: pickArb,
      how: amountSpecArb,
      keyed: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("batch" as const),
      items: fc.array(
        fc
          .tuple(fc.constantFrom<BatchItem["type"]>("transfer", "authorize", "deposit", "withdrawal"), pairArb, amountArb)
          .map(([type, [from, to], amount]) => ({ type, from, to, amount })),
        { minLength: 1, maxLength: 4 },
      ),
    }),
    weight: 1,
  },
  {
    // A payment of exactly what the payer may still pay (down to -overdraft_limit), or a cent more.
    arbitrary: fc
      .tuple(fc.constantFrom("transfer" as const, "authorize" as const, "withdrawal" as const), pairArb, fc.boolean())
      .map(([via, [from, to], over]) => ({ kind: "edge" as const, via, from, to, over })),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant("refused" as const), variant: fc.nat({ max: 7 }), account: accountArb, pick: pickArb }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("dispute" as const), focus: focusArb, pick: pickArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constantFrom("resolve" as const, "chargeback" as const), focus: focusArb, pick: pickArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constantFrom("freeze" as const, "unfreeze" as const), account: accountArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("limit" as const), account: accountArb, limit: limitArb }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant("forbidden" as const),
      route: fc.constantFrom<AdminRoute>("dispute", "resolve", "chargeback", "freeze", "unfreeze", "limit", "create"),
      pick: pickArb,
      account: accountArb,
    }),
    weight: 1,
  },
);

const scenarioArb = fc.record({
  limits: fc.array(fc.constantFrom("0.00", "0.00", "20.00", "35.50"), { minLength: ACCOUNTS, maxLength: ACCOUNTS }),
  // A limit from the start is set by an admin on creation (POST) or just after (PATCH).
  limitsOnCreation: fc.boolean(),
  ops: fc.array(opArb, { minLength: 25, maxLength: 40 }),
});

// ---------------------------------------------------------------------------------------------
// The run: one sequence against fresh accounts on the shared system.

/** Where the event feed was last read to (each sequence starts reading after what came before). */
let lastFeedCursor: string | null = null;
/** Every event after `after`, and the cursor to ask from next. */
async function readFeed(after: string | null): Promise<{ events: any[]; cursor: string | null }> {
  const events: any[] = [];
  let cursor = after;
  for (;;) {
    const res = await user.get(`/api/v1/events?limit=500${cursor ? `&after=${encodeURIComponent(cursor)}` : ""}`);
    if (res.status !== 200) throw new Error(`GET /api/v1/events: ${res.status} ${JSON.stringify(res.body)}`);
    events.push(...res.body.events);
    cursor = res.body.next_after ?? cursor;
    if (res.body.events.length < 500) break;
  }
  lastFeedCursor = cursor;
  return { events, cursor };
}

/** Answers and outcomes by operation, over every sequence: what the run covered. */
const tally = new Map<string, number>();
/** Places where the long poll answered while an operation of the payment was still queued. */
const longPollViolations: string[] = [];

class Run {
  readonly model: Model = { accounts: [], payments: [], journals: [], step: 0, events: [] };
  /** Where the event feed stood when the sequence began. */
  feedStart: string | null = null;
  readonly ids: string[] = [];
  readonly trace: string[] = [];
  readonly runId = Math.random().toString(36).slice(2, 10);
  step = 0;
  /** What the step being run is, for the tally. */
  current = "";

  log(line: string): void {
    this.trace.push(`#${this.step} ${line}`);
  }
  count(outcome: string): void {
    if (this.step > 0) tally.set(`${this.current} ${outcome}`, (tally.get(`${this.current} ${outcome}`) ?? 0) + 1);
  }

  /** Checks the answer against the acceptable ones, with the whole trace in the failure message. */
  expectAnswer(res: HttpResult, acceptable: Answer[], what: string): Answer {
    const got = answerOf(res);
    this.count(`→ ${got}`);
    this.log(`${what} → ${got}${res.status >= 300 ? ` (${res.body?.error?.message})` : ""}`);
    if (!acceptable.includes(got)) {
      throw new Error(`step ${this.step}: ${what}: expected ${acceptable.join(" or ")}, got ${got} ${JSON.stringify(res.body)}\n${this.trace.join("\n")}`);
    }
    return got;
  }

  expectEqual(actual: unknown, expected: unknown, what: string): void {
    try {
      expect(actual).toEqual(expected);
    } catch (error) {
      throw new Error(`step ${this.step}: ${what}\n${(error as Error).message}\n--- trace ---\n${this.trace.join("\n")}`, { cause: error });
    }
  }

  /** The payment an operation names (see `focus`): among those `fits`, else those of its `kind`, else all. */
  pickPayment(focus: number, pick: number, kind: (p: MPayment) => boolean, fits: (p: MPayment) => boolean): { p: MPayment; index: number } {
    const all = this.model.payments;
    const strict = all.filter((p) => kind(p) && fits(p));
    const loose = all.filter(kind);
    const pool = focus >= 3 && strict.length > 0 ? strict : focus >= 1 && loose.length > 0 ? loose : all;
    const p = pool[pick % pool.length]!;
    return { p, index: all.indexOf(p) };
  }

  /** Long-polls a payment until it leaves `pending`. */
  async settledPayment(id: string): Promise<any> {
    let last: any;
    for (let i = 0; i < 6; i++) {
      last = (await user.get(`/api/v1/payments/${id}?wait=10`)).body;
      if (last.status !== "pending") return last;
    }
    throw new Error(`step ${this.step}: payment ${id} still pending after 60 s: ${JSON.stringify(last)}\n${this.trace.join("\n")}`);
  }

  /** Long-polls the payment after an operation on it was accepted: it must answer once the operation is no longer queued. */
  async operationApplied(paymentId: string, operationId: string | undefined, what: string): Promise<void> {
    const started = Date.now();
    await user.get(`/api/v1/payments/${paymentId}?wait=20`);
    const answeredWithin = Date.now() - started < 18_000;
    if (!operationId) return;
    const status = async () =>
      (await system.db.pool.query("SELECT status FROM payment_operations WHERE id = $1", [operationId])).rows[0]?.status as string | undefined;
    const now = await status();
    if (now === "pending" && answeredWithin) longPollViolations.push(`${what}: GET ?wait= answered while operation ${operationId} was still pending`);
    await waitFor(async () => (await status()) !== "pending", { timeoutMs: 30_000, what: `operation ${operationId} (${what}) to be applied` });
  }

  newPayment(
    body: any,
    fields: Omit<
      MPayment,
      "id" | "status" | "failure_reason" | "dispute_status" | "amount_refunded" | "amount_captured" | "disputeHeld" | "expiresAt" | "processedAt"
    >,
  ): MPayment {
    const p: MPayment = {
      id: body.id,
      expiresAt: body.expires_at,
      status: "pending",
      failure_reason: null,
      dispute_status: "none",
      amount_refunded: ZERO,
      amount_captured: null,
      disputeHeld: ZERO,
      ...fields,
    };
    this.model.payments.push(p);
    return p;
  }

  /** The 202 of a new payment must show it as accepted (the fields a new payment carries). */
  expectAccepted(body: any, p: MPayment, what: string): void {
    this.expectEqual(
      {
        type: body.type,
        status: body.status,
        from_account: body.from_account,
        to_account: body.to_account,
        amount: body.amount,
        refund_of: body.refund_of,
        amount_refunded: body.amount_refunded,
        capture: body.capture,
        amount_captured: body.amount_captured,
        expires_at: body.expires_at,
        processed_at: body.processed_at,
      },
      {
        type: p.type,
        status: "pending",
        from_account: p.from === null ? null : this.ids[p.from],
        to_account: p.to === null ? null : this.ids[p.to],
        amount: fmt(p.amount),
        refund_of: p.refundOf === null ? null : this.model.payments[p.refundOf]!.id,
        amount_refunded: "0.00",
        capture: p.capture,
        amount_captured: null,
        // Acceptance time plus expires_in_seconds (docs/API.md "Authorize, then capture or void").
        expires_at: p.capture ? null : new Date(Date.parse(body.created_at) + (p.expiresIn ?? 604_800) * 1000).toISOString(),
        processed_at: null,
      },
      `${what}: the 202's payment`,
    );
  }

  async createAndSettle(path: string, body: unknown, fields: Parameters<Run["newPayment"]>[1], what: string): Promise<MPayment | undefined> {
    const res = await user.post(path, body);
    this.expectAnswer(res, ["202"], what);
    const p = this.newPayment(res.body, fields);
    this.expectAccepted(res.body, p, what);
    const settled = await this.settledPayment(p.id);
    settleDebit(this.model, p);
    this.log(`  settled: ${settled.status}${settled.failure_reason ? ` (${settled.failure_reason})` : ""}`);
    this.count(`settled ${settled.status}${settled.failure_reason ? ` (${settled.failure_reason})` : ""}`);
    p.processedAt = settled.processed_at;
    this.expectPayment(settled, p, `${what}: settled`);
    return p;
  }

  expectPayment(actual: any, p: MPayment, what: string): void {
    this.expectEqual(
      {
        status: actual.status,
        failure_reason: actual.failure_reason,
        dispute_status: actual.dispute_status,
        amount_refunded: actual.amount_refunded,
        amount_captured: actual.amount_captured,
        capture: actual.capture,
        expires_at: actual.expires_at,
        processed_at: p.processedAt === undefined ? "(not yet known)" : actual.processed_at,
        settled: actual.processed_at !== null,
      },
      {
        status: p.status,
        failure_reason: p.failure_reason,
        dispute_status: p.dispute_status,
        amount_refunded: fmt(p.amount_refunded),
        amount_captured: fmt(p.amount_captured),
        capture: p.capture,
        expires_at: p.expiresAt,
        // processed_at is set when a payment is settled and stays (an authorization's stays the time it was authorized).
        processed_at: p.processedAt === undefined ? "(not yet known)" : p.processedAt,
        settled: p.status !== "pending",
      },
      `${what}: payment ${p.id} (#${this.model.payments.indexOf(p)}, ${p.type}${p.capture ? "" : " authorization"})`,
    );
  }

  async expectPayments(which: MPayment[], what: string): Promise<void> {
    for (const p of which) this.expectPayment((await user.get(`/api/v1/payments/${p.id}`)).body, p, what);
  }

  async expectAccounts(what: string): Promise<void> {
    const actual = [];
    for (const id of this.ids) {
      const a = (await user.get(`/api/v1/accounts/${id}`)).body;
      actual.push({ balance: a.balance, available: a.available, held: a.held, status: a.status, overdraft_limit: a.overdraft_limit });
    }
    const expected = this.model.accounts.map((a) => ({
      balance: fmt(a.available.plus(a.held)),
      available: fmt(a.available),
      held: fmt(a.held),
      status: a.status,
      overdraft_limit: fmt(a.limit),
    }));
    this.expectEqual(actual, expected, `${what}: accounts`);
  }

  /**
   * Each account's journal as the model wrote it: the same entries (type, amount, payment) in the
   * same order, step by step; within one step in any order (a capture's `capture` and `release`;
   * a batch's credits to one account from payers settled in other partitions).
   */
  async expectJournals(what: string): Promise<void> {
    for (const [i, id] of this.ids.entries()) {
      const entries = (await user.get(`/api/v1/accounts/${id}/entries?limit=500`)).body.entries as any[];
      const expected = this.model.journals[i]!;
      const actual = entries.map((e, k) => ({ step: expected[k]?.step ?? -1, type: e.type, amount: e.amount, payment: e.payment_id }));
      const bySteps = (list: MEntry[]) =>
        list
          .map((e) => ({ step: e.step, label: `#${e.step} ${e.type} ${e.amount} ${this.paymentName(e.payment)}` }))
          .sort((a, b) => a.step - b.step || a.label.localeCompare(b.label))
          .map((e) => e.label);
      this.expectEqual(bySteps(actual), bySteps(expected), `${what}: the journal of account ${i}`);
    }
  }

  /**
   * Each account's payments as GET /api/v1/payments lists them (newest first), in all and filtered
   * by a new status and by type refund: those the model has it send or receive.
   */
  async expectListings(what: string): Promise<void> {
    for (const [i, id] of this.ids.entries()) {
      // Newest first is by id (UUIDv7): a batch's items, made in one millisecond, are in id order, not item order.
      const mine = this.model.payments.filter((p) => p.from === i || p.to === i).sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      for (const [filter, keep] of [
        ["", () => true],
        ["&status=authorized", (p: MPayment) => p.status === "authorized"],
        ["&status=voided", (p: MPayment) => p.status === "voided"],
        ["&status=expired", (p: MPayment) => p.status === "expired"],
        ["&type=refund", (p: MPayment) => p.type === "refund"],
      ] as const) {
        const res = await user.get(`/api/v1/payments?account_id=${id}&limit=500${filter}`);
        this.expectEqual(
          (res.body.payments as any[] | undefined)?.map((p) => `${this.paymentName(p.id)} ${p.type} ${p.status}`),
          mine.filter(keep).map((p) => `${this.paymentName(p.id)} ${p.type} ${p.status}`),
          `${what}: GET /api/v1/payments?account_id=<account ${i}>${filter}`,
        );
      }
    }
  }

  paymentName(id: string): string {
    const index = this.model.payments.findIndex((p) => p.id === id);
    return index < 0 ? id : `payment #${index}`;
  }

  /** An account's status, with the event a change writes (none when it does not change). */
  setStatus(account: number, status: AccountStatus): void {
    const a = this.model.accounts[account]!;
    if (a.status !== status) this.model.events.push(eventKey(status === "frozen" ? "account.frozen" : "account.unfrozen", this.ids[account]!, status));
    a.status = status;
  }

  /** Every event the feed shows after the sequence began must be one the model expects, and none missing. */
  async expectEvents(what: string): Promise<void> {
    const name = (key: string) =>
      key.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
        const account = this.ids.indexOf(id);
        return account >= 0 ? `account ${account}` : this.paymentName(id);
      });
    const expected = this.model.events.map(name).sort();
    let actual: string[] = [];
    // An event shows once the transactions that began before it have ended: give the feed a moment.
    await waitFor(
      async () => {
        const { events } = await readFeed(this.feedStart);
        actual = events
          .map((e) =>
            e.type.startsWith("account.")
              ? eventKey(e.type, e.data.account.id, e.type === "account.updated" ? e.data.account.overdraft_limit : e.data.account.status)
              : eventKey(e.type, e.data.payment.id, e.type.startsWith("dispute.") ? e.data.payment.dispute_status : e.data.payment.status),
          )
          .map(name)
          .sort();
        return JSON.stringify(actual) === JSON.stringify(expected);
      },
      { timeoutMs: 3000, intervalMs: 200 },
    ).catch(() => undefined);
    this.expectEqual(actual, expected, `${what}: the events of the sequence`);
  }

  async setup(limits: string[], onCreation: boolean): Promise<void> {
    this.feedStart = (await readFeed(lastFeedCursor)).cursor;
    for (let i = 0; i < ACCOUNTS; i++) {
      const withLimit = onCreation && limits[i] !== "0.00";
      const res = withLimit
        ? await admin.post("/api/v1/accounts", { currency: "USD", overdraft_limit: limits[i] })
        : await user.post("/api/v1/accounts", { currency: "USD" });
      this.expectAnswer(res, ["201"], `create account ${i}${withLimit ? ` with overdraft_limit ${limits[i]} (admin)` : ""}`);
      this.expectEqual(res.body.overdraft_limit, withLimit ? limits[i] : "0.00", `create account ${i}: its overdraft_limit`);
      this.ids.push(res.body.id);
      this.model.accounts.push({ available: ZERO, held: ZERO, status: "active", limit: withLimit ? money(limits[i]!) : ZERO });
      this.model.journals.push([]);
    }
    for (let i = 0; i < ACCOUNTS; i++) {
      await this.createAndSettle(
        "/api/v1/deposits",
        { account_id: this.ids[i], amount: OPENING },
        {
          type: "deposit",
          capture: true,
          from: null,
          to: i,
          amount: money(OPENING),
          refundOf: null,
        },
        `deposit(${i}, ${OPENING})`,
      );
      if (!onCreation && limits[i] !== "0.00") await this.setLimit(i, limits[i]!, admin, `limit(${i}, ${limits[i]})`);
    }
    await this.expectAccounts("setup");
  }

  async setLimit(account: number, limit: string, as: ApiClient, what: string): Promise<void> {
    const res = await as.call("PATCH", `/api/v1/accounts/${this.ids[account]}`, { overdraft_limit: limit });
    if (as === user) {
      this.expectAnswer(res, ["403 forbidden"], what);
      return;
    }
    this.expectAnswer(res, ["200"], what);
    if (!this.model.accounts[account]!.limit.equals(limit)) this.model.events.push(eventKey("account.updated", this.ids[account]!, fmt(money(limit))!));
    this.model.accounts[account]!.limit = money(limit);
    this.expectEqual(
      { id: res.body.id, overdraft_limit: res.body.overdraft_limit },
      { id: this.ids[account], overdraft_limit: fmt(money(limit)) },
      `${what}: the answer`,
    );
  }

  async run(op: Op): Promise<void> {
    this.step++;
    this.model.step = this.step;
    this.current = op.kind === "forbidden" ? `client key on ${op.route}` : op.kind === "authorize" && op.expiring ? "authorize (expiring)" : op.kind;
    const m = this.model;
    switch (op.kind) {
      case "deposit":
        await this.createAndSettle(
          "/api/v1/deposits",
          { account_id: this.ids[op.to], amount: op.amount },
          {
            type: "deposit",
            capture: true,
            from: null,
            to: op.to,
            amount: money(op.amount),
            refundOf: null,
          },
          `deposit(${op.to}, ${op.amount})`,
        );
        break;
      case "withdrawal":
        await this.createAndSettle(
          "/api/v1/withdrawals",
          { account_id: this.ids[op.from], amount: op.amount },
          {
            type: "withdrawal",
            capture: true,
            from: op.from,
            to: null,
            amount: money(op.amount),
            refundOf: null,
          },
          `withdrawal(${op.from}, ${op.amount})`,
        );
        break;
      case "edge": {
        const payer = m.accounts[op.from]!;
        let amount = payer.available.plus(payer.limit).plus(op.over ? CENT : ZERO);
        if (amount.lessThan(CENT)) amount = CENT;
        const body =
          op.via === "withdrawal"
            ? { account_id: this.ids[op.from], amount: fmt(amount) }
            : { from_account: this.ids[op.from], to_account: this.ids[op.to], amount: fmt(amount), ...(op.via === "authorize" ? { capture: false } : {}) };
        this.current = `${op.via} to the floor${op.over ? " + 0.01" : ""}`;
        await this.createAndSettle(
          op.via === "withdrawal" ? "/api/v1/withdrawals" : "/api/v1/payments",
          body,
          {
            type: op.via === "withdrawal" ? "withdrawal" : "transfer",
            capture: op.via !== "authorize",
            from: op.from,
            to: op.via === "withdrawal" ? null : op.to,
            amount,
            refundOf: null,
          },
          `${op.via}(${op.from}${op.via === "withdrawal" ? "→" : `→${op.to}`}, ${fmt(amount)}: available ${fmt(payer.available)}, limit ${fmt(payer.limit)})`,
        );
        break;
      }
      case "transfer":
        await this.createAndSettle(
          "/api/v1/payments",
          { from_account: this.ids[op.from], to_account: this.ids[op.to], amount: op.amount },
          {
            type: "transfer",
            capture: true,
            from: op.from,
            to: op.to,
            amount: money(op.amount),
            refundOf: null,
          },
          `transfer(${op.from}→${op.to}, ${op.amount})`,
        );
        break;
      case "authorize": {
        const body = {
          from_account: this.ids[op.from],
          to_account: this.ids[op.to],
          amount: op.amount,
          capture: false,
          ...(op.expiring ? { expires_in_seconds: 1 } : {}),
        };
        const what = `authorize(${op.from}→${op.to}, ${op.amount}${op.expiring ? ", expires in 1 s" : ""})`;
        const p = await this.createAndSettle(
          "/api/v1/payments",
          body,
          {
            type: "transfer",
            capture: false,
            from: op.from,
            to: op.to,
            amount: money(op.amount),
            refundOf: null,
            expiresIn: op.expiring ? 1 : undefined,
          },
          what,
        );
        if (op.expiring && p!.status === "authorized") {
          // The sweeper releases it within about a sweep interval of expires_at.
          const expired = await waitFor(
            async () => {
              const now = (await user.get(`/api/v1/payments/${p!.id}`)).body;
              return now.status !== "authorized" ? now : undefined;
            },
            { timeoutMs: 30_000, intervalMs: 100, what: `authorization ${p!.id} to expire` },
          );
          releaseAuthorization(m, p!, "expired");
          this.log(`  expired: ${expired.status}`);
          this.count(`then ${expired.status}`);
          this.expectPayment(expired, p!, `${what}: after its expiry`);
        }
        break;
      }
      case "capture": {
        const { p } = this.pickPayment(op.focus, op.pick, isAuthorization, (x) => x.status === "authorized");
        let amount: Money | undefined;
        if (op.how.type === "exact") amount = p.amount;
        if (op.how.type === "part") amount = MoneyDecimal.max(CENT, p.amount.times(op.how.pct).dividedBy(100).toDecimalPlaces(2, MoneyDecimal.ROUND_DOWN));
        if (op.how.type === "over") amount = p.amount.plus(CENT.times(op.how.cents));
        const what = `capture(#${m.payments.indexOf(p)} ${p.status}, ${amount ? fmt(amount) : "all"} of ${fmt(p.amount)})`;
        const exceeds = amount !== undefined && amount.greaterThan(p.amount);
        const capturable = !p.capture && p.status === "authorized";
        // Both wrong (not capturable and too much): the contract does not say which check comes first.
        const acceptable: Answer[] = capturable
          ? [exceeds ? "409 capture_exceeds_authorization" : "202"]
          : exceeds
            ? ["409 invalid_state", "409 capture_exceeds_authorization"]
            : ["409 invalid_state"];
        const res = await user.post(`/api/v1/payments/${p.id}/capture`, amount ? { amount: fmt(amount) } : {});
        if (this.expectAnswer(res, acceptable, what) !== "202") break;
        this.expectEqual(
          { id: res.body.id, kind: res.body.operation?.kind, status: res.body.operation?.status, amount: amount ? res.body.operation?.amount : "(not sent)" },
          { id: p.id, kind: "capture", status: "pending", amount: amount ? fmt(amount) : "(not sent)" },
          `${what}: the 202`,
        );
        await this.operationApplied(p.id, res.body.operation?.id, what);
        const payer = m.accounts[p.from!]!;
        if (payer.status === "frozen") {
          this.log("  rejected: the payer is frozen");
          this.count("rejected (payer frozen)");
        } else {
          const captured = amount ?? p.amount;
          entry(m, p.from!, "capture", captured, p);
          // Nothing is left to release of a capture of all of it (an entry moves an amount greater than 0).
          if (p.amount.greaterThan(captured)) entry(m, p.from!, "release", p.amount.minus(captured), p);
          entry(m, p.to!, "credit", captured, p);
          p.status = "completed";
          p.amount_captured = captured;
          paymentEvent(m, "payment.captured", p);
        }
        await this.expectPayments([p], `${what}: applied`);
        break;
      }
      case "void": {
        const { p } = this.pickPayment(op.focus, op.pick, isAuthorization, (x) => x.status === "authorized");
        const what = `void(#${m.payments.indexOf(p)} ${p.status})`;
        const res = await user.post(`/api/v1/payments/${p.id}/void`);
        if (this.expectAnswer(res, [!p.capture && p.status === "authorized" ? "202" : "409 invalid_state"], what) !== "202") break;
        this.expectEqual({ id: res.body.id, kind: res.body.operation?.kind }, { id: p.id, kind: "void" }, `${what}: the 202`);
        await this.operationApplied(p.id, res.body.operation?.id, what);
        releaseAuthorization(m, p, "voided");
        await this.expectPayments([p], `${what}: applied`);
        break;
      }
      case "refund": {
        const { p, index } = this.pickPayment(op.focus, op.pick, isTransferOrDeposit, (x) => refundable(x) && left(x).greaterThan(0));
        const ok = refundable(p);
        const remaining = ok ? left(p) : p.amount;
        let amount: Money | undefined;
        if (op.how.type === "exact") amount = remaining;
        if (op.how.type === "part") amount = MoneyDecimal.max(CENT, remaining.times(op.how.pct).dividedBy(100).toDecimalPlaces(2, MoneyDecimal.ROUND_DOWN));
        if (op.how.type === "over") amount = remaining.plus(CENT.times(op.how.cents));
        if (amount !== undefined && amount.lessThan(CENT)) amount = CENT;
        const what = `refund(#${index} ${p.type} ${p.status}/${p.dispute_status}, ${amount ? fmt(amount) : "all"}; left ${fmt(ok ? left(p) : ZERO)})`;
        let acceptable: Answer[];
        if (!ok) acceptable = ["409 invalid_state"];
        else if (amount === undefined) acceptable = left(p).isZero() ? ["409 refund_exceeds_payment", "409 invalid_state"] : ["202"];
        else acceptable = amount.greaterThan(left(p)) ? ["409 refund_exceeds_payment"] : ["202"];
        const body = amount ? { amount: fmt(amount), reason: `step ${this.step}` } : {};
        const key = op.keyed ? `refund-${this.runId}-${this.step}` : undefined;
        const send = (b: unknown = body) => user.post(`/api/v1/payments/${p.id}/refunds`, b, key ? { "idempotency-key": key } : {});
        const res = await send();
        if (this.expectAnswer(res, acceptable, what + (key ? " with an Idempotency-Key" : "")) !== "202") {
          // A refused request stores no key: the same request again is decided again (and refused again).
          if (key) this.expectAnswer(await send(), [answerOf(res)], `${what} again with its Idempotency-Key`);
          break;
        }
        const refund = this.newPayment(res.body, { type: "refund", capture: true, from: p.to, to: p.from, amount: amount ?? left(p), refundOf: index });
        this.expectAccepted(res.body, refund, what);
        this.expectEqual(res.body.payment_description, amount ? `step ${this.step}` : null, `${what}: the refund's payment_description (its reason)`);
        const settled = await this.settledPayment(refund.id);
        settleDebit(m, refund);
        refund.processedAt = settled.processed_at;
        this.log(`  settled: ${settled.status}${settled.failure_reason ? ` (${settled.failure_reason})` : ""}`);
        this.count(`settled ${settled.status}${settled.failure_reason ? ` (${settled.failure_reason})` : ""}`);
        this.expectPayment(settled, refund, `${what}: settled`);
        await this.expectPayments([p], `${what}: the original`);
        if (key) {
          // The same key and body: the original answer (the refund as accepted), nothing new.
          const again = await send();
          this.expectAnswer(again, ["202"], `${what} again with its Idempotency-Key`);
          this.expectEqual(
            { replayed: again.headers.get("idempotent-replayed"), id: again.body.id, status: again.body.status, location: again.headers.get("location") },
            { replayed: "true", id: refund.id, status: "pending", location: `/api/v1/payments/${refund.id}` },
            `${what}: the replay`,
          );
          // The same key with another body: a conflict, nothing new.
          this.expectAnswer(
            await send({ amount: "0.01", reason: "another body" }),
            ["409 idempotency_conflict"],
            `${what}: its Idempotency-Key with another body`,
          );
        }
        break;
      }
      case "dispute":
      case "resolve":
      case "chargeback": {
        const fits = op.kind === "dispute" ? (x: MPayment) => disputable(x) && left(x).greaterThan(0) : (x: MPayment) => x.dispute_status === "open";
        const { p, index } = this.pickPayment(op.focus, op.pick, op.kind === "dispute" ? isTransferOrDeposit : (x) => x.dispute_status !== "none", fits);
        const what = `${op.kind}(#${index} ${p.type} ${p.status}/${p.dispute_status}${op.kind === "dispute" ? `, left ${fmt(left(p))}` : ""})`;
        const allowed = op.kind === "dispute" ? disputable(p) && left(p).greaterThan(0) : p.dispute_status === "open";
        const res = await admin.post(`/api/v1/payments/${p.id}/${op.kind}`);
        if (this.expectAnswer(res, [allowed ? "202" : "409 invalid_state"], what) !== "202") break;
        await this.operationApplied(p.id, res.body.operation?.id, what);
        if (op.kind === "dispute") {
          p.disputeHeld = left(p);
          entry(m, p.to!, "hold", p.disputeHeld, p);
          p.dispute_status = "open";
          paymentEvent(m, "dispute.opened", p);
        } else if (op.kind === "resolve") {
          entry(m, p.to!, "release", p.disputeHeld, p);
          p.dispute_status = "resolved";
          paymentEvent(m, "dispute.resolved", p);
        } else {
          entry(m, p.to!, "chargeback", p.disputeHeld, p);
          if (p.from !== null) entry(m, p.from, "credit", p.disputeHeld, p);
          this.setStatus(p.to!, "frozen");
          p.dispute_status = "charged_back";
          paymentEvent(m, "dispute.charged_back", p);
        }
        await this.expectPayments([p], `${what}: applied`);
        break;
      }
      case "freeze":
      case "unfreeze": {
        const what = `${op.kind}(${op.account})`;
        const res = await admin.post(`/api/v1/accounts/${this.ids[op.account]}/${op.kind}`);
        this.expectAnswer(res, ["200"], what);
        this.setStatus(op.account, op.kind === "freeze" ? "frozen" : "active");
        this.expectEqual(res.body.status, m.accounts[op.account]!.status, `${what}: the answer's status`);
        break;
      }
      case "limit":
        await this.setLimit(op.account, op.limit, admin, `limit(${op.account}, ${op.limit})`);
        break;
      case "batch": {
        // Items whose payer is no other item's receiver: each account's items settle in batch
        // order, but a credit is settled with its payer's account, so this keeps the model's order exact.
        const payers = new Set<number>();
        const receivers = new Set<number>();
        const items = op.items.filter((item) => {
          const payer = item.type === "deposit" ? undefined : item.from;
          const receiver = item.type === "withdrawal" ? undefined : item.type === "deposit" ? item.from : item.to;
          if ((payer !== undefined && receivers.has(payer)) || (receiver !== undefined && payers.has(receiver))) return false;
          if (payer !== undefined) payers.add(payer);
          if (receiver !== undefined) receivers.add(receiver);
          return true;
        });
        const what = `batch(${items.map((i) => `${i.type} ${i.type === "deposit" ? `→${i.from}` : i.type === "withdrawal" ? `${i.from}→` : `${i.from}→${i.to}`} ${i.amount}`).join("; ")})`;
        const res = await user.post("/api/v1/payments/batch", {
          payments: items.map((i) =>
            i.type === "deposit" || i.type === "withdrawal"
              ? { type: i.type, account_id: this.ids[i.from], amount: i.amount }
              : { from_account: this.ids[i.from], to_account: this.ids[i.to], amount: i.amount, ...(i.type === "authorize" ? { capture: false } : {}) },
          ),
        });
        this.expectAnswer(res, ["202"], what);
        this.expectEqual(
          (res.body.results as any[]).map((r) => r.status),
          items.map(() => 202),
          `${what}: the items' statuses`,
        );
        const created = items.map((i, k) => {
          const p = this.newPayment(res.body.results[k].payment, {
            type: i.type === "authorize" ? "transfer" : i.type,
            capture: i.type !== "authorize",
            from: i.type === "deposit" ? null : i.from,
            to: i.type === "withdrawal" ? null : i.type === "deposit" ? i.from : i.to,
            amount: money(i.amount),
            refundOf: null,
          });
          this.expectAccepted(res.body.results[k].payment, p, `${what}: item ${k}`);
          return p;
        });
        const settled = [];
        for (const p of created) settled.push(await this.settledPayment(p.id));
        for (const [k, p] of created.entries()) {
          settleDebit(m, p);
          p.processedAt = settled[k].processed_at;
          this.log(`  item ${k} settled: ${settled[k].status}${settled[k].failure_reason ? ` (${settled[k].failure_reason})` : ""}`);
          this.count(`item settled ${settled[k].status}${settled[k].failure_reason ? ` (${settled[k].failure_reason})` : ""}`);
          this.expectPayment(settled[k], p, `${what}: item ${k} settled`);
        }
        break;
      }
      case "refused": {
        // Requests the contract refuses whole: 400 (or 404 for an unknown account), and nothing written.
        const id = this.ids[op.account]!;
        const target = this.model.payments[op.pick % this.model.payments.length]!;
        const variants: [string, () => Promise<HttpResult>, Answer][] = [
          ["PATCH overdraft_limit -1.00", () => admin.call("PATCH", `/api/v1/accounts/${id}`, { overdraft_limit: "-1.00" }), "400 invalid_request"],
          ["PATCH overdraft_limit 1.001", () => admin.call("PATCH", `/api/v1/accounts/${id}`, { overdraft_limit: "1.001" }), "400 invalid_request"],
          ["PATCH overdraft_limit as a number", () => admin.call("PATCH", `/api/v1/accounts/${id}`, { overdraft_limit: 5 }), "400 invalid_request"],
          ["PATCH with no field", () => admin.call("PATCH", `/api/v1/accounts/${id}`, {}), "400 invalid_request"],
          [
            "PATCH with an unknown field",
            () => admin.call("PATCH", `/api/v1/accounts/${id}`, { overdraft_limit: "1.00", status: "frozen" }),
            "400 invalid_request",
          ],
          [
            "PATCH of an unknown account",
            () => admin.call("PATCH", `/api/v1/accounts/0190a3c2-0000-7000-8000-000000000000`, { overdraft_limit: "1.00" }),
            "404 not_found",
          ],
          [
            `refund of #${op.pick % this.model.payments.length} of 0`,
            () => user.post(`/api/v1/payments/${target.id}/refunds`, { amount: "0" }),
            "400 invalid_request",
          ],
          [
            `capture of #${op.pick % this.model.payments.length} of 1.001`,
            () => user.post(`/api/v1/payments/${target.id}/capture`, { amount: "1.001" }),
            "400 invalid_request",
          ],
        ];
        const [what, send, expected] = variants[op.variant % variants.length]!;
        this.current = `refused: ${what.replace(/ \(#\d+\)/, "")}`;
        this.expectAnswer(await send(), [expected], what);
        break;
      }
      case "forbidden": {
        const what = `client key: ${op.route}`;
        if (op.route === "create") {
          const count = async () => Number((await system.db.pool.query("SELECT count(*) AS n FROM accounts")).rows[0].n);
          const before = await count();
          this.expectAnswer(
            await user.post("/api/v1/accounts", { currency: "USD", overdraft_limit: "100.00" }),
            ["403 forbidden"],
            `${what} with overdraft_limit 100.00`,
          );
          this.expectEqual(await count(), before, `${what}: accounts in the database`);
        } else if (op.route === "limit") {
          await this.setLimit(op.account, "99.00", user, `${what}(${op.account}, 99.00)`);
        } else if (op.route === "freeze" || op.route === "unfreeze") {
          this.expectAnswer(await user.post(`/api/v1/accounts/${this.ids[op.account]}/${op.route}`), ["403 forbidden"], `${what}(${op.account})`);
        } else {
          const { index, p } = this.pickPayment(
            0,
            op.pick,
            () => true,
            () => true,
          );
          this.expectAnswer(await user.post(`/api/v1/payments/${p.id}/${op.route}`), ["403 forbidden"], `${what}(#${index})`);
        }
        break;
      }
    }
    await this.expectAccounts(`after step ${this.step}`);
  }
}

const seed = process.env.OPS_MODEL_SEED ? Number(process.env.OPS_MODEL_SEED) : Math.floor(Math.random() * 2 ** 31);

it("agrees with the model answer by answer, balance by balance and payment by payment", async () => {
  console.log(`operations model: fast-check seed ${seed} (OPS_MODEL_SEED=${seed} replays it)`);
  let runs = 0;
  let steps = 0;
  await fc.assert(
    fc.asyncProperty(scenarioArb, async ({ limits, limitsOnCreation, ops }) => {
      const run = new Run();
      await run.setup(limits, limitsOnCreation);
      for (const op of ops) await run.run(op);
      // Every payment of the sequence, once more, as the model has it.
      run.step++;
      await run.expectPayments(run.model.payments, "at the end of the sequence");
      await run.expectAccounts("at the end of the sequence");
      await run.expectJournals("at the end of the sequence");
      await run.expectEvents("at the end of the sequence");
      await run.expectListings("at the end of the sequence");
      const report = await verifyLedger(system.db.pool, { quiescent: true });
      run.expectEqual(report.problems, [], "verifyLedger");
      runs++;
      steps += ops.length;
    }),
    // The time limit bounds the shrinking of a failure (each try is a whole sequence); the runs
    // themselves take well under it.
    { numRuns: RUNS, seed, interruptAfterTimeLimit: RUNS > 30 ? undefined : 100_000 },
  );
  console.log(
    `operations model: ${runs} sequences, ${steps} steps; answers and outcomes:\n${[...tally]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `  ${k} ×${n}`)
      .join("\n")}`,
  );
  expect(longPollViolations).toEqual([]);
});
