// POST /api/v1/payments/batch: many payments in one request, one INSERT and one commit; each item
// is judged on its own and answered in request order.
import { verifyLedger } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("batch", { workers: 1 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

const count = async () => Number((await system.db.pool.query("SELECT count(*) AS n FROM payments")).rows[0].n);
const batch = (payments: unknown[], headers?: Record<string, string>) => api.post("/api/v1/payments/batch", { payments }, headers);

async function funded(amount: string): Promise<string> {
  const id = await newAccount(api);
  const deposit = await api.post("/api/v1/deposits", { account_id: id, amount });
  expect((await settled(api, deposit.body.id)).status).toBe("completed");
  return id;
}

it("answers each item in request order; a bad item refuses only itself and writes nothing", async () => {
  const [a, b] = [await funded("100.00"), await newAccount(api)];
  const euro = await newAccount(api, "EUR");
  const before = await count();
  const res = await batch([
    { from_account: a, to_account: b, amount: "1.00", payment_description: "first" },
    { from_account: a, to_account: b, amount: "1.001" },
    { from_account: a, to_account: "0190a3c2-0000-7000-8000-00000000beef", amount: "1.00" },
    { from_account: a, to_account: euro, amount: "1.00" },
    { type: "deposit", account_id: b, amount: "2.50", description: "top-up" },
    { type: "withdrawal", account_id: a, amount: "3.00" },
    { type: "refund", account_id: a, amount: "3.00" },
    { from_account: a, to_account: b, amount: "4.00", surprise: true },
  ]);
  expect(res.status).toBe(202);
  const statuses = res.body.results.map((r: { status: number }) => r.status);
  expect(statuses).toEqual([202, 400, 422, 422, 202, 202, 400, 400]);
  expect(res.body.results[0].payment).toMatchObject({ type: "transfer", status: "pending", amount: "1.00", payment_description: "first" });
  expect(res.body.results[1].error).toMatchObject({ code: "invalid_request", details: [{ path: "amount" }] });
  expect(res.body.results[2].error).toMatchObject({ code: "account_not_found", details: [{ path: "to_account" }] });
  expect(res.body.results[3].error.code).toBe("currency_mismatch");
  expect(res.body.results[4].payment).toMatchObject({ type: "deposit", to_account: b, amount: "2.50", payment_description: "top-up" });
  expect(res.body.results[5].payment).toMatchObject({ type: "withdrawal", from_account: a, amount: "3.00" });
  expect(res.body.results[6].error.details).toEqual([{ path: "type", message: "must be transfer, deposit or withdrawal" }]);
  expect(res.body.results[7].error.message).toContain("surprise");
  expect(await count()).toBe(before + 3);

  for (const i of [0, 4, 5]) expect((await settled(api, res.body.results[i].payment.id)).status).toBe("completed");
  expect((await api.get(`/api/v1/accounts/${a}`)).body.available).toBe("96.00");
  expect((await api.get(`/api/v1/accounts/${b}`)).body.available).toBe("3.50");
});

it("commits the accepted items in one transaction, settled in batch order per account", async () => {
  const [a, b] = [await funded("10.00"), await newAccount(api)];
  const res = await batch(["6.00", "5.00", "4.00", "0.50"].map((amount) => ({ from_account: a, to_account: b, amount })));
  const ids: string[] = res.body.results.map((r: { payment: { id: string } }) => r.payment.id);
  // One INSERT, one commit: every row carries the same creating transaction id.
  const { rows } = await system.db.pool.query("SELECT DISTINCT xmin::text AS xid FROM payments WHERE id = ANY($1::uuid[])", [ids]);
  expect(rows).toHaveLength(1);
  const outcomes = [];
  for (const id of ids) outcomes.push((await settled(api, id)).status);
  expect(outcomes).toEqual(["completed", "failed", "completed", "failed"]);
  expect((await verifyLedger(system.db.pool)).problems).toEqual([]);
});

it("replays an item by its idempotency_key, shares keys with the single endpoints, and refuses a key reused with another body", async () => {
  const [a, b] = [await funded("50.00"), await newAccount(api)];
  const single = await api.post("/api/v1/payments", { from_account: a, to_account: b, amount: "1.00" }, { "Idempotency-Key": "shared-key" });
  const items = [
    { from_account: a, to_account: b, amount: "2.00", idempotency_key: "batch-key-1" },
    { from_account: a, to_account: b, amount: "1.00", idempotency_key: "shared-key" },
    { from_account: a, to_account: b, amount: "2.00", idempotency_key: "batch-key-1" },
    { from_account: a, to_account: b, amount: "9.00", idempotency_key: "batch-key-1" },
  ];
  const before = await count();
  const first = await batch(items);
  expect(first.body.results.map((r: { status: number }) => r.status)).toEqual([202, 202, 202, 409]);
  expect(first.body.results[1]).toMatchObject({ replayed: true, payment: { id: single.body.id } });
  expect(first.body.results[2]).toMatchObject({ replayed: true, payment: { id: first.body.results[0].payment.id } });
  expect(first.body.results[0].replayed).toBeUndefined();
  expect(first.body.results[3].error.code).toBe("idempotency_conflict");
  expect(await count()).toBe(before + 1);

  const again = await batch(items.slice(0, 3));
  expect(again.body.results.map((r: { payment: { id: string } }) => r.payment.id)).toEqual(
    first.body.results.slice(0, 3).map((r: { payment: { id: string } }) => r.payment.id),
  );
  expect(again.body.results.every((r: { replayed?: boolean }) => r.replayed)).toBe(true);
  expect(await count()).toBe(before + 1);
  // And the other way: the batch item's key replays on the single endpoint.
  const viaSingle = await api.post("/api/v1/payments", { from_account: a, to_account: b, amount: "2.00" }, { "Idempotency-Key": "batch-key-1" });
  expect(viaSingle.body.id).toBe(first.body.results[0].payment.id);
});

it("shares keys with the single endpoints across types: a deposit's key replays as a batch deposit and back, and is a 409 on any other type", async () => {
  const [a, b] = [await funded("20.00"), await newAccount(api)];
  const single = await api.post("/api/v1/deposits", { account_id: b, amount: "3.00" }, { "Idempotency-Key": "deposit-shared" });
  expect(single.status).toBe(202);
  const before = await count();
  const res = await batch([
    { type: "deposit", account_id: b, amount: "3.00", idempotency_key: "deposit-shared" },
    { from_account: a, to_account: b, amount: "3.00", idempotency_key: "deposit-shared" },
    // The same body as the deposit: only the type tells them apart.
    { type: "withdrawal", account_id: b, amount: "3.00", idempotency_key: "deposit-shared" },
    { type: "withdrawal", account_id: a, amount: "1.00", idempotency_key: "withdrawal-in-batch" },
    { type: "deposit", account_id: a, amount: "1.00", idempotency_key: "withdrawal-in-batch" },
  ]);
  expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([202, 409, 409, 202, 409]);
  expect(res.body.results[0]).toMatchObject({ replayed: true, payment: { id: single.body.id, type: "deposit" } });
  for (const i of [1, 2]) {
    expect(res.body.results[i].error).toEqual({
      code: "idempotency_conflict",
      message: "idempotency_key was first used on another endpoint (POST /api/v1/deposits)",
    });
  }
  expect(res.body.results[4].error.message).toBe("idempotency_key was first used on another endpoint (POST /api/v1/withdrawals)");
  expect(await count()).toBe(before + 1);

  // The other way: the batch withdrawal's key replays on POST /withdrawals and is a 409 on POST /deposits.
  const withdrawal = res.body.results[3].payment;
  const viaSingle = await api.post("/api/v1/withdrawals", { account_id: a, amount: "1.00" }, { "Idempotency-Key": "withdrawal-in-batch" });
  expect([viaSingle.status, viaSingle.body.id, viaSingle.headers.get("idempotent-replayed")]).toEqual([202, withdrawal.id, "true"]);
  const wrongEndpoint = await api.post("/api/v1/deposits", { account_id: a, amount: "1.00" }, { "Idempotency-Key": "withdrawal-in-batch" });
  expect([wrongEndpoint.status, wrongEndpoint.body.error.message]).toEqual([
    409,
    "Idempotency-Key was first used on another endpoint (POST /api/v1/withdrawals)",
  ]);
  expect(await count()).toBe(before + 1);

  for (const id of [single.body.id, withdrawal.id]) expect((await settled(api, id)).status).toBe("completed");
  expect((await api.get(`/api/v1/accounts/${a}`)).body.available).toBe("19.00");
  expect((await api.get(`/api/v1/accounts/${b}`)).body.available).toBe("3.00");
});

it("refuses a malformed batch as a whole, with the contract's error body", async () => {
  const [a, b] = [await newAccount(api), await newAccount(api)];
  const item = { from_account: a, to_account: b, amount: "1.00" };
  const before = await count();
  const cases = [
    await batch([]),
    await batch(Array.from({ length: 1001 }, () => item)),
    await api.post("/api/v1/payments/batch", [item]),
    await api.post("/api/v1/payments/batch", { payments: [item], extra: 1 }),
    await api.post("/api/v1/payments/batch", { payments: "none" }),
    await batch([item], { "Idempotency-Key": "whole-batch" }),
  ];
  for (const res of cases) {
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  }
  expect(cases[1]!.body.error.message).toBe("payments: must hold at most 1000 payments");
  expect(await count()).toBe(before);
});

it("takes bodies up to 1 MiB (1,000 items) and refuses larger ones with 413", async () => {
  const [a, b] = [await funded("1000.00"), await newAccount(api)];
  const description = "x".repeat(400);
  const thousand = Array.from({ length: 1000 }, () => ({ from_account: a, to_account: b, amount: "0.01", payment_description: description }));
  const res = await batch(thousand);
  expect(res.status).toBe(202);
  expect(res.body.results).toHaveLength(1000);
  const last = res.body.results[999].payment.id;
  expect((await settled(api, last, 30_000)).status).toBe("completed");
  expect((await api.get(`/api/v1/accounts/${b}`)).body.available).toBe("10.00");

  const before = await count();
  const tooLarge = await batch(Array.from({ length: 1000 }, () => ({ from_account: a, to_account: b, amount: "0.01", payment_description: "y".repeat(1100) })));
  expect(tooLarge.status).toBe(413);
  expect(tooLarge.body.error).toMatchObject({ code: "payload_too_large", message: "request body is larger than 1024 KiB" });
  expect(await count()).toBe(before);
  // The single endpoints keep their 16 KiB limit.
  const single = await api.post("/api/v1/payments", { from_account: a, to_account: b, amount: "1.00", payment_description: "z".repeat(17 * 1024) });
  expect(single.status).toBe(413);
});
