// Refunds (docs/API.md "Refunds"): a payment of its own from the original's receiver back to its
// payer, within the original's amount (decided under a lock), settled in the receiver's order.
import { verifyLedger } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, fundedAccount, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("refunds", { workers: 2 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

const funded = (amount: string) => fundedAccount(api, amount);

async function completedTransfer(from: string, to: string, amount: string): Promise<any> {
  const res = await api.post("/api/v1/payments", { from_account: from, to_account: to, amount });
  expect(res.status).toBe(202);
  const payment = await settled(api, res.body.id);
  expect(payment.status).toBe("completed");
  return payment;
}

const balances = async (id: string) => {
  const { body } = await api.get(`/api/v1/accounts/${id}`);
  return { available: body.available, held: body.held };
};

/** Waits (long poll) until the payment's status differs from pending, and returns it. */
const refundSettled = (id: string) => settled(api, id);

it("refunds in part, then the rest, moving money back and counting amount_refunded", async () => {
  const [payer, merchant] = [await funded("100.00"), await newAccount(api)];
  const payment = await completedTransfer(payer, merchant, "60.00");
  expect(payment).toMatchObject({ amount_refunded: "0.00", refund_of: null, capture: true, amount_captured: null, expires_at: null });

  const first = await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "25.00", reason: "one item returned" });
  expect(first.status).toBe(202);
  expect(first.headers.get("location")).toBe(`/api/v1/payments/${first.body.id}`);
  expect(first.body).toMatchObject({
    type: "refund",
    status: "pending",
    refund_of: payment.id,
    from_account: merchant,
    to_account: payer,
    amount: "25.00",
    payment_description: "one item returned",
  });
  expect((await refundSettled(first.body.id)).status).toBe("completed");
  expect((await api.get(`/api/v1/payments/${payment.id}`)).body.amount_refunded).toBe("25.00");
  expect(await balances(payer)).toEqual({ available: "65.00", held: "0.00" });
  expect(await balances(merchant)).toEqual({ available: "35.00", held: "0.00" });

  // Without an amount: all that is left.
  const rest = await api.post(`/api/v1/payments/${payment.id}/refunds`);
  expect([rest.status, rest.body.amount]).toEqual([202, "35.00"]);
  expect((await refundSettled(rest.body.id)).status).toBe("completed");
  expect((await api.get(`/api/v1/payments/${payment.id}`)).body.amount_refunded).toBe("60.00");
  expect(await balances(merchant)).toEqual({ available: "0.00", held: "0.00" });

  // Nothing left: 409 refund_exceeds_payment, and nothing written.
  const before = (await system.db.pool.query("SELECT count(*)::int AS n FROM payments")).rows[0].n;
  const over = await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "0.01" });
  expect([over.status, over.body.error.code]).toEqual([409, "refund_exceeds_payment"]);
  expect(over.body.error.message).toContain("at most 0.00 is left");
  expect((await system.db.pool.query("SELECT count(*)::int AS n FROM payments")).rows[0].n).toBe(before);
});

it("counts pending refunds against the amount, and a failed refund no longer counts", async () => {
  const [payer, merchant] = [await funded("50.00"), await newAccount(api)];
  const payment = await completedTransfer(payer, merchant, "50.00");
  // The merchant spends most of the money first: refunds beyond its 5.00 will fail.
  await completedTransfer(merchant, payer, "45.00");
  // With no worker running, the refunds stay pending: they count all the same.
  await Promise.all(system.workers.map((w) => w.stop()));
  system.workers.length = 0;
  const big = await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "40.00" });
  expect(big.status).toBe(202);
  const over = await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "10.01" });
  expect([over.status, over.body.error?.code]).toEqual([409, "refund_exceeds_payment"]);
  expect(over.body.error.message).toContain("total 40.00 of 50.00: at most 10.00 is left");
  const fits = await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "10.00" });
  expect(fits.status).toBe(202);
  await system.startWorker();
  await system.startWorker();
  for (const id of [big.body.id, fits.body.id]) {
    const failed = await refundSettled(id);
    expect([failed.status, failed.failure_reason]).toEqual(["failed", "insufficient_funds"]);
  }
  expect((await api.get(`/api/v1/payments/${payment.id}`)).body.amount_refunded).toBe("0.00");
  // Failed, they no longer count: a refund the merchant can pay goes through.
  const small = await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "5.00" });
  expect(small.status).toBe(202);
  expect((await refundSettled(small.body.id)).status).toBe("completed");
  expect((await api.get(`/api/v1/payments/${payment.id}`)).body.amount_refunded).toBe("5.00");
});

it("refunds a deposit out to the outside world", async () => {
  const holder = await newAccount(api);
  const deposit = await api.post("/api/v1/deposits", { account_id: holder, amount: "30.00" });
  await settled(api, deposit.body.id);
  const refund = await api.post(`/api/v1/payments/${deposit.body.id}/refunds`, { amount: "12.50" });
  expect(refund.body).toMatchObject({ type: "refund", from_account: holder, to_account: null, amount: "12.50" });
  expect((await refundSettled(refund.body.id)).status).toBe("completed");
  expect(await balances(holder)).toEqual({ available: "17.50", held: "0.00" });
});

it("answers 409 invalid_state for what cannot be refunded, 404 for an unknown payment, 400 for a bad body", async () => {
  const [payer, merchant] = [await funded("20.00"), await newAccount(api)];
  const withdrawal = await api.post("/api/v1/withdrawals", { account_id: payer, amount: "1.00" });
  await settled(api, withdrawal.body.id);
  const failed = await api.post("/api/v1/payments", { from_account: merchant, to_account: payer, amount: "5.00" });
  expect((await settled(api, failed.body.id)).status).toBe("failed");
  const refunded = await completedTransfer(payer, merchant, "3.00");
  const refund = await refundSettled((await api.post(`/api/v1/payments/${refunded.id}/refunds`, { amount: "1.00" })).body.id);
  expect(refund.status).toBe("completed");
  // A dispute step queued (not yet applied) already stops refunds.
  const disputed = await completedTransfer(payer, merchant, "4.00");
  expect((await api.post(`/api/v1/payments/${disputed.id}/dispute`)).status).toBe(202);

  for (const id of [withdrawal.body.id, failed.body.id, disputed.id, refund.id]) {
    const res = await api.post(`/api/v1/payments/${id}/refunds`, { amount: "1.00" });
    expect({ id, status: res.status, code: res.body.error?.code }).toEqual({ id, status: 409, code: "invalid_state" });
  }
  expect((await api.post(`/api/v1/payments/0193a0f3-0000-7abc-8def-0123456789ab/refunds`, {})).status).toBe(404);
  const ok = await completedTransfer(payer, merchant, "2.00");
  for (const body of [{ amount: 1 }, { amount: "0" }, { amount: "1.001" }, { reason: "x".repeat(501) }, { reason: "\u0000" }, { other: 1 }]) {
    const res = await api.post(`/api/v1/payments/${ok.id}/refunds`, body);
    expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 400, code: "invalid_request" });
  }
});

it("replays a refund sent again with its Idempotency-Key, and refuses the key on a refund of another payment", async () => {
  const [payer, merchant] = [await funded("20.00"), await newAccount(api)];
  const [a, b] = [await completedTransfer(payer, merchant, "5.00"), await completedTransfer(payer, merchant, "5.00")];
  const headers = { "Idempotency-Key": `refund-${a.id}` };
  const first = await api.post(`/api/v1/payments/${a.id}/refunds`, { amount: "2.00" }, headers);
  const again = await api.post(`/api/v1/payments/${a.id}/refunds`, { amount: "2.00" }, headers);
  expect([again.status, again.body.id, again.headers.get("idempotent-replayed")]).toEqual([202, first.body.id, "true"]);
  const elsewhere = await api.post(`/api/v1/payments/${b.id}/refunds`, { amount: "2.00" }, headers);
  expect([elsewhere.status, elsewhere.body.error.code]).toEqual([409, "idempotency_conflict"]);
  expect((await system.db.pool.query("SELECT count(*)::int AS n FROM payments WHERE refund_of = ANY($1::uuid[])", [[a.id, b.id]])).rows[0].n).toBe(1);
  await refundSettled(first.body.id);
});

it("holds only what is left of a partly refunded payment when it is disputed, and releases that", async () => {
  const [payer, merchant] = [await funded("100.00"), await newAccount(api)];
  const payment = await completedTransfer(payer, merchant, "80.00");
  const refund = await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "30.00" });
  await refundSettled(refund.body.id);
  expect((await api.post(`/api/v1/payments/${payment.id}/dispute`)).status).toBe(202);
  let disputed = (await api.get(`/api/v1/payments/${payment.id}?wait=10`)).body;
  expect([disputed.dispute_status, disputed.amount_disputed]).toEqual(["open", "50.00"]);
  expect(await balances(merchant)).toEqual({ available: "0.00", held: "50.00" });
  // While the dispute is open, no refund.
  expect((await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "1.00" })).status).toBe(409);
  expect((await api.post(`/api/v1/payments/${payment.id}/resolve`)).status).toBe(202);
  disputed = (await api.get(`/api/v1/payments/${payment.id}?wait=10`)).body;
  expect(disputed.dispute_status).toBe("resolved");
  expect(await balances(merchant)).toEqual({ available: "50.00", held: "0.00" });
  // Resolved: refunds again, within what is left.
  expect((await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "50.01" })).body.error.code).toBe("refund_exceeds_payment");
  const last = await api.post(`/api/v1/payments/${payment.id}/refunds`, { amount: "50.00" });
  expect((await refundSettled(last.body.id)).status).toBe("completed");
});

it("leaves a ledger that verifies", async () => {
  const report = await verifyLedger(system.db.pool, { quiescent: true });
  expect(report.problems).toEqual([]);
});
