// @settle/client against a real API and worker (in this process): the README's walk-through
// through typed calls, idempotent replays, the long poll, errors as SettleApiError, the admin calls
// behind an admin key, batch intake; and the check that its generated types match the document.
import { execFile } from "node:child_process";
import path from "node:path";
import { createSettleClient, newIdempotencyKey, SettleApiError, type Account, type Payment, type SettleClient } from "@settle/client";
import { startInProcess, type InProcessSystem } from "./support/in-process";

const ROOT = path.resolve(__dirname, "..");
const CLIENT_KEY = "client-key-for-the-client-test";
const ADMIN_KEY = "admin-key-for-the-client-test";
const MISSING = "0193a0f2-6c1e-7c3a-9a52-3f6f2a1d9b99";

let system: InProcessSystem;
let settle: SettleClient;
let admin: SettleClient;

beforeAll(async () => {
  // No worker yet: the first test sees waitForPayment time out on a payment that cannot settle.
  system = await startInProcess("client", { workers: 0, apiEnv: { API_KEYS: CLIENT_KEY, ADMIN_API_KEYS: ADMIN_KEY } });
  settle = createSettleClient({ baseUrl: system.api.url, apiKey: CLIENT_KEY });
  admin = createSettleClient({ baseUrl: system.api.url, apiKey: ADMIN_KEY });
});
afterAll(() => system?.stop());

/** The SettleApiError a call rejects with. */
async function refusal(call: Promise<unknown>): Promise<SettleApiError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof SettleApiError) return error;
    throw error;
  }
  throw new Error("expected the call to be refused");
}

describe("the README walk-through through @settle/client", () => {
  let a: Account;
  let b: Account;
  let deposit: Payment;
  let transfer: Payment;

  it("creates accounts; a deposit with an Idempotency-Key replays; waitForPayment times out, then settles", async () => {
    ({ account: a } = await settle.createAccount({ currency: "USD" }));
    ({ account: b } = await settle.createAccount());
    expect(a).toMatchObject({ currency: "USD", status: "active", balance: "0.00", available: "0.00", held: "0.00", entry_count: 0 });
    expect(b.currency).toBe("USD");

    const key = newIdempotencyKey();
    const first = await settle.createDeposit({ account_id: a.id, amount: "100.00" }, { idempotencyKey: key });
    expect(first).toEqual({
      replayed: false,
      location: `/api/v1/payments/${first.payment.id}`,
      payment: expect.objectContaining({ type: "deposit", status: "pending", from_account: null, to_account: a.id, amount: "100.00", currency: "USD" }),
    });
    const again = await settle.createDeposit({ account_id: a.id, amount: "100.00" }, { idempotencyKey: key });
    expect(again).toEqual({ ...first, replayed: true });
    // Another body under the same key is refused, not a second deposit.
    expect(await refusal(settle.createDeposit({ account_id: a.id, amount: "5.00" }, { idempotencyKey: key }))).toMatchObject({
      status: 409,
      code: "idempotency_conflict",
    });

    const started = Date.now();
    const waited = await settle.waitForPayment(first.payment.id, { timeoutSeconds: 1 });
    expect(waited.status).toBe("pending");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);

    await system.startWorker();
    deposit = await settle.waitForPayment(first.payment.id, { timeoutSeconds: 20 });
    expect(deposit).toMatchObject({ id: first.payment.id, status: "completed", processed_at: expect.any(String) });
  });

  it("transfers 99.01 with an Idempotency-Key and long-polls it to completed", async () => {
    const sent = await settle.createPayment(
      { from_account: a.id, to_account: b.id, amount: "99.01", payment_description: "this is a payment desc." },
      { idempotencyKey: "order-1234" },
    );
    expect(sent.payment).toMatchObject({ type: "transfer", status: "pending", from_account: a.id, to_account: b.id, amount: "99.01" });
    transfer = await settle.waitForPayment(sent.payment.id, { timeoutSeconds: 20 });
    expect(transfer).toMatchObject({ status: "completed", failure_reason: null, dispute_status: "none" });

    expect(await settle.getAccount(a.id)).toMatchObject({ balance: "0.99", available: "0.99", held: "0.00", entry_count: 2 });
    expect(await settle.getAccount(b.id)).toMatchObject({ balance: "99.01" });
    expect(await settle.getPayment(transfer.id)).toEqual(transfer);
  });

  it("reads the journal, the payments newest first and the accounts, page by page", async () => {
    const journal = await settle.listEntries(a.id);
    expect(journal.entries.map((e) => [e.seq, e.type, e.amount, e.balance_after])).toEqual([
      [1, "credit", "100.00", "100.00"],
      [2, "debit", "99.01", "0.99"],
    ]);
    expect(journal.entries[1]!.prev_hash).toBe(journal.entries[0]!.hash);
    expect((await settle.listEntries(a.id, { after: 1 })).entries.map((e) => e.seq)).toEqual([2]);

    const payments = await settle.listPayments({ account_id: a.id });
    expect(payments).toEqual({ payments: [transfer, deposit], next_after: null });
    const page1 = await settle.listPayments({ account_id: a.id, limit: 1 });
    expect(page1).toEqual({ payments: [transfer], next_after: transfer.id });
    // A full page carries a cursor even when nothing follows: the page after it is empty.
    const page2 = await settle.listPayments({ account_id: a.id, limit: 1, after: page1.next_after! });
    expect(page2).toEqual({ payments: [deposit], next_after: deposit.id });
    expect(await settle.listPayments({ account_id: a.id, limit: 1, after: page2.next_after! })).toEqual({ payments: [], next_after: null });
    expect((await settle.listPayments({ account_id: a.id, type: "deposit", status: "completed" })).payments.map((p) => p.id)).toEqual([deposit.id]);

    const accounts = await settle.listAccounts({ limit: 10 });
    expect(accounts.accounts.map((x) => x.id)).toEqual([a.id, b.id].sort());
    expect(accounts.next_after).toBeNull();
  });

  it("answers refusals with SettleApiError: the contract's code, status, message and details", async () => {
    const unknown = await refusal(settle.createPayment({ from_account: a.id, to_account: MISSING, amount: "1.00" }));
    expect(unknown).toMatchObject({
      name: "SettleApiError",
      status: 422,
      code: "account_not_found",
      details: [{ path: "to_account", message: "no such account" }],
    });
    expect(unknown.message).toContain(MISSING);
    expect(unknown.requestId).toEqual(expect.any(String));

    const invalid = await refusal(settle.createPayment({ from_account: a.id, to_account: b.id, amount: "1.001" }));
    expect(invalid).toMatchObject({ status: 400, code: "invalid_request", details: [expect.objectContaining({ path: "amount" })] });
    expect(await refusal(settle.getPayment(MISSING))).toMatchObject({ status: 404, code: "not_found" });
    expect(await refusal(settle.getPayment(transfer.id, { wait: 31 }))).toMatchObject({ status: 400, code: "invalid_request" });
    expect(await refusal(settle.disputePayment(transfer.id))).toMatchObject({ status: 403, code: "forbidden" });
    const stranger = createSettleClient({ baseUrl: system.api.url, apiKey: "not-a-key-of-this-api" });
    expect(await refusal(stranger.getAccount(a.id))).toMatchObject({ status: 401, code: "unauthorized" });
    expect(await refusal(createSettleClient({ baseUrl: system.api.url }).listAccounts())).toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("disputes and resolves a transfer; waitForPayment waits for the queued operation", async () => {
    const disputed = await admin.disputePayment(transfer.id);
    expect(disputed).toMatchObject({ id: transfer.id, operation: { kind: "dispute", status: "pending" } });
    // The payment is completed already: what is waited for is the dispute operation.
    expect(await admin.waitForPayment(transfer.id, { timeoutSeconds: 20 })).toMatchObject({ status: "completed", dispute_status: "open" });
    expect(await settle.getAccount(b.id)).toMatchObject({ balance: "99.01", available: "0.00", held: "99.01" });

    expect(await admin.resolvePayment(transfer.id)).toMatchObject({ operation: { kind: "resolve" } });
    expect(await admin.waitForPayment(transfer.id, { timeoutSeconds: 20 })).toMatchObject({ dispute_status: "resolved" });
    expect(await refusal(admin.resolvePayment(transfer.id))).toMatchObject({ status: 409, code: "invalid_state" });
  });

  it("charges back a disputed deposit, which freezes the account; freeze and unfreeze", async () => {
    const { payment } = await settle.createDeposit({ account_id: b.id, amount: "10.00" });
    await settle.waitForPayment(payment.id, { timeoutSeconds: 20 });
    await admin.disputePayment(payment.id);
    await admin.waitForPayment(payment.id, { timeoutSeconds: 20 });
    expect(await admin.chargebackPayment(payment.id)).toMatchObject({ operation: { kind: "chargeback" } });
    expect(await admin.waitForPayment(payment.id, { timeoutSeconds: 20 })).toMatchObject({ dispute_status: "charged_back" });
    expect(await settle.getAccount(b.id)).toMatchObject({ status: "frozen", balance: "99.01" });
    expect(await admin.unfreezeAccount(b.id)).toMatchObject({ status: "active" });

    expect(await admin.freezeAccount(a.id)).toMatchObject({ id: a.id, status: "frozen" });
    const blocked = await settle.createWithdrawal({ account_id: a.id, amount: "0.10" });
    expect(await settle.waitForPayment(blocked.payment.id, { timeoutSeconds: 20 })).toMatchObject({ status: "failed", failure_reason: "account_frozen" });
    expect(await admin.unfreezeAccount(a.id)).toMatchObject({ status: "active" });
    const withdrawn = await settle.createWithdrawal({ account_id: a.id, amount: "0.10", description: "ATM" });
    expect(await settle.waitForPayment(withdrawn.payment.id, { timeoutSeconds: 20 })).toMatchObject({
      status: "completed",
      to_account: null,
      payment_description: "ATM",
    });
  });

  it("refunds, authorizes then captures or voids, sets an overdraft limit and reads a balance at a moment", async () => {
    const payer = (await settle.createAccount()).account;
    const merchant = (await settle.createAccount()).account;
    const funding = await settle.createDeposit({ account_id: payer.id, amount: "50.00" });
    await settle.waitForPayment(funding.payment.id, { timeoutSeconds: 20 });
    const paid = await settle.createPayment({ from_account: payer.id, to_account: merchant.id, amount: "20.00" });
    await settle.waitForPayment(paid.payment.id, { timeoutSeconds: 20 });

    const key = newIdempotencyKey();
    const refund = await settle.refundPayment(paid.payment.id, { amount: "5.00", reason: "returned" }, { idempotencyKey: key });
    expect(refund.payment).toMatchObject({ type: "refund", refund_of: paid.payment.id, amount: "5.00", payment_description: "returned" });
    expect((await settle.refundPayment(paid.payment.id, { amount: "5.00", reason: "returned" }, { idempotencyKey: key })).replayed).toBe(true);
    expect(await settle.waitForPayment(refund.payment.id, { timeoutSeconds: 20 })).toMatchObject({ status: "completed" });
    expect(await refusal(settle.refundPayment(paid.payment.id, { amount: "15.01" }))).toMatchObject({ status: 409, code: "refund_exceeds_payment" });

    const auth = await settle.createPayment({ from_account: payer.id, to_account: merchant.id, amount: "10.00", capture: false });
    expect(await settle.waitForPayment(auth.payment.id, { timeoutSeconds: 20 })).toMatchObject({ status: "authorized" });
    expect(await settle.capturePayment(auth.payment.id, "6.00")).toMatchObject({ operation: { kind: "capture", amount: "6.00" } });
    expect(await settle.waitForPayment(auth.payment.id, { timeoutSeconds: 20 })).toMatchObject({ status: "completed", amount_captured: "6.00" });
    const other = await settle.createPayment({ from_account: payer.id, to_account: merchant.id, amount: "3.00", capture: false });
    await settle.waitForPayment(other.payment.id, { timeoutSeconds: 20 });
    expect(await settle.voidPayment(other.payment.id)).toMatchObject({ operation: { kind: "void" } });
    expect(await settle.waitForPayment(other.payment.id, { timeoutSeconds: 20 })).toMatchObject({ status: "voided" });

    expect(await refusal(settle.updateAccount(payer.id, { overdraft_limit: "10.00" }))).toMatchObject({ status: 403, code: "forbidden" });
    expect(await admin.updateAccount(payer.id, { overdraft_limit: "10.00" })).toMatchObject({ overdraft_limit: "10.00", available: "29.00" });
    const now = await settle.getBalanceAt(payer.id, new Date(Date.now() + 1000).toISOString());
    expect(now).toMatchObject({ account_id: payer.id, balance: "29.00", available: "29.00", held: "0.00" });
    expect(await settle.getBalanceAt(payer.id, "2000-01-01T00:00:00Z")).toMatchObject({ balance: "0.00", seq: 0 });
  });

  it("takes a batch: one result per item, in order; an item's key replays", async () => {
    const items = [
      { type: "deposit" as const, account_id: b.id, amount: "1.00", idempotency_key: "batch-item-1" },
      { from_account: b.id, to_account: MISSING, amount: "1.00" },
      { from_account: b.id, to_account: a.id, amount: "0.50" },
    ];
    const { results } = await settle.createPaymentBatch(items);
    expect(results.map((r) => r.status)).toEqual([202, 422, 202]);
    const [deposited, refused] = results;
    expect(refused).toMatchObject({ error: { code: "account_not_found" } });
    const replayed = (await settle.createPaymentBatch([items[0]!])).results[0]!;
    expect(replayed).toEqual({ ...deposited, replayed: true });
    if (!deposited || !("payment" in deposited)) throw new Error("the deposit was not accepted");
    expect(await settle.waitForPayment(deposited.payment.id, { timeoutSeconds: 20 })).toMatchObject({ status: "completed" });
  });
});

describe("the generated types", () => {
  it("match what the current OpenAPI document generates (else: run pnpm client:generate)", async () => {
    // A child process: openapi-typescript's dependencies are ES modules only, which Jest's
    // CommonJS runtime cannot load. It runs the command as a user types it.
    const outcome = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        "pnpm",
        ["--silent", "client:generate", "--check"],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }, timeout: 90_000 },
        (error, _stdout, stderr) => {
          resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stderr });
        },
      );
    });
    expect(outcome).toEqual({ code: 0, stderr: "" });
  }, 120_000);
});
