import { partitionFor, settleBatch, uuidv7, verifyLedger } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("disputes", { workers: 2 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

async function completed(path: string, body: unknown): Promise<any> {
  const res = await api.post(path, body);
  expect(res.status).toBe(202);
  const payment = await settled(api, res.body.id);
  expect(payment.status).toBe("completed");
  return payment;
}

const account = async (id: string) => (await api.get(`/api/v1/accounts/${id}`)).body;

/** Posts a dispute step and waits (long poll) until the payment shows the expected dispute status. */
async function step(paymentId: string, kind: string, expected: string): Promise<any> {
  const res = await api.post(`/api/v1/payments/${paymentId}/${kind}`);
  expect(res.status).toBe(202);
  expect(res.headers.get("location")).toBe(`/api/v1/payments/${paymentId}`);
  expect(res.body.id).toBe(paymentId);
  // What was accepted is the operation, not yet applied: the payment is shown as it stands.
  expect(res.body.operation).toEqual({ id: expect.any(String), kind, status: "pending", created_at: expect.any(String) });
  const { rows } = await system.db.pool.query("SELECT kind FROM payment_operations WHERE id = $1", [res.body.operation.id]);
  expect(rows).toEqual([{ kind }]);
  for (let i = 0; i < 20; i++) {
    const polled = await api.get(`/api/v1/payments/${paymentId}?wait=5`);
    if (polled.body.dispute_status === expected) return polled.body;
  }
  throw new Error(`dispute_status never became ${expected}`);
}

describe("dispute lifecycle", () => {
  it("dispute holds the received amount, resolve releases it", async () => {
    const [payer, payee] = [await newAccount(api), await newAccount(api)];
    await completed("/api/v1/deposits", { account_id: payer, amount: "100.00" });
    const transfer = await completed("/api/v1/payments", { from_account: payer, to_account: payee, amount: "40.00" });

    await step(transfer.id, "dispute", "open");
    expect(await account(payee)).toMatchObject({ balance: "40.00", available: "0.00", held: "40.00", status: "active" });
    await step(transfer.id, "resolve", "resolved");
    expect(await account(payee)).toMatchObject({ balance: "40.00", available: "40.00", held: "0.00", status: "active" });
    const entries = (await api.get(`/api/v1/accounts/${payee}/entries`)).body.entries;
    expect(entries.map((e: any) => [e.type, e.amount, e.available_after, e.held_after])).toEqual([
      ["credit", "40.00", "40.00", "0.00"],
      ["hold", "40.00", "0.00", "40.00"],
      ["release", "40.00", "40.00", "0.00"],
    ]);
  });

  it("a hold may make available negative; chargeback returns a transfer to the payer and freezes the receiver", async () => {
    const [payer, payee, other] = [await newAccount(api), await newAccount(api), await newAccount(api)];
    await completed("/api/v1/deposits", { account_id: payer, amount: "50.00" });
    const transfer = await completed("/api/v1/payments", { from_account: payer, to_account: payee, amount: "50.00" });
    await completed("/api/v1/payments", { from_account: payee, to_account: other, amount: "30.00" });

    await step(transfer.id, "dispute", "open");
    expect(await account(payee)).toMatchObject({ available: "-30.00", held: "50.00", balance: "20.00" });
    await step(transfer.id, "chargeback", "charged_back");
    expect(await account(payee)).toMatchObject({ available: "-30.00", held: "0.00", balance: "-30.00", status: "frozen" });
    expect(await account(payer)).toMatchObject({ available: "50.00", balance: "50.00", status: "active" });

    // A frozen account receives but cannot send or withdraw.
    await completed("/api/v1/deposits", { account_id: payee, amount: "100.00" });
    const send = await api.post("/api/v1/payments", { from_account: payee, to_account: other, amount: "1.00" });
    expect(await settled(api, send.body.id)).toMatchObject({ status: "failed", failure_reason: "account_frozen" });
    const withdraw = await api.post("/api/v1/withdrawals", { account_id: payee, amount: "1.00" });
    expect(await settled(api, withdraw.body.id)).toMatchObject({ status: "failed", failure_reason: "account_frozen" });
    expect(await account(payee)).toMatchObject({ available: "70.00", balance: "70.00", status: "frozen" });
  });

  it("a charged-back deposit's money leaves for the outside world", async () => {
    const holder = await newAccount(api);
    const deposit = await completed("/api/v1/deposits", { account_id: holder, amount: "25.00" });
    await step(deposit.id, "dispute", "open");
    await step(deposit.id, "chargeback", "charged_back");
    expect(await account(holder)).toMatchObject({ balance: "0.00", available: "0.00", held: "0.00", status: "frozen" });
  });
});

describe("refused transitions", () => {
  it("answers 409 invalid_state for every step out of order, and writes nothing", async () => {
    const [payer, payee] = [await newAccount(api), await newAccount(api)];
    await completed("/api/v1/deposits", { account_id: payer, amount: "10.00" });
    const transfer = await completed("/api/v1/payments", { from_account: payer, to_account: payee, amount: "10.00" });
    const withdrawal = await completed("/api/v1/withdrawals", { account_id: payee, amount: "1.00" });
    const failed = await settled(api, (await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "999.00" })).body.id);
    expect(failed.status).toBe("failed");

    const refuse = async (id: string, kind: string) => {
      const res = await api.post(`/api/v1/payments/${id}/${kind}`);
      expect([kind, res.status, res.body.error?.code]).toEqual([kind, 409, "invalid_state"]);
    };
    await refuse(transfer.id, "resolve");
    await refuse(transfer.id, "chargeback");
    await refuse(withdrawal.id, "dispute");
    await refuse(failed.id, "dispute");

    await step(transfer.id, "dispute", "open");
    await refuse(transfer.id, "dispute");
    await step(transfer.id, "resolve", "resolved");
    await refuse(transfer.id, "dispute");
    await refuse(transfer.id, "resolve");
    await refuse(transfer.id, "chargeback");
    expect((await api.get(`/api/v1/accounts/${payee}/entries`)).body.entries.map((e: any) => e.type)).toEqual(["credit", "debit", "hold", "release"]);
  });

  it("decides queued steps in order: a second dispute sent before the first is applied is refused", async () => {
    const [payer, payee] = [await newAccount(api), await newAccount(api)];
    await completed("/api/v1/deposits", { account_id: payer, amount: "5.00" });
    const transfer = await completed("/api/v1/payments", { from_account: payer, to_account: payee, amount: "5.00" });
    const results = await Promise.all([1, 2, 3].map(() => api.post(`/api/v1/payments/${transfer.id}/dispute`)));
    expect(results.map((r) => r.status).sort()).toEqual([202, 409, 409]);
    await step(transfer.id, "resolve", "resolved");
    expect(await account(payee)).toMatchObject({ available: "5.00", held: "0.00" });
  });

  it("the worker checks again: an operation that no longer fits is recorded as rejected, not applied", async () => {
    const [payer, payee] = [await newAccount(api), await newAccount(api)];
    await completed("/api/v1/deposits", { account_id: payer, amount: "5.00" });
    const transfer = await completed("/api/v1/payments", { from_account: payer, to_account: payee, amount: "5.00" });
    // As if a request had slipped past the API's check: a resolve of a payment never disputed.
    const partition = partitionFor(payee, Number(system.env.PARTITIONS));
    const opId = uuidv7();
    await system.db.pool.query("INSERT INTO payment_operations (id, partition, payment_id, kind) VALUES ($1, $2, $3, 'resolve')", [
      opId,
      partition,
      transfer.id,
    ]);
    await settleBatch(system.db.pool, [partition], 10);
    const { rows } = await system.db.pool.query("SELECT status, rejection_reason FROM payment_operations WHERE id = $1", [opId]);
    expect(rows[0]).toEqual({ status: "rejected", rejection_reason: "invalid_state" });
    expect((await api.get(`/api/v1/payments/${transfer.id}`)).body.dispute_status).toBe("none");
    expect(await account(payee)).toMatchObject({ available: "5.00", held: "0.00", entry_count: 1 });
  });

  it("404s for an unknown payment or a non-UUID id", async () => {
    expect((await api.post("/api/v1/payments/0190a3c2-0000-7000-8000-000000000000/dispute")).body.error.code).toBe("not_found");
    expect((await api.post("/api/v1/payments/not-a-uuid/dispute")).status).toBe(404);
  });
});

describe("long poll", () => {
  it("answers as soon as the payment settles, and times out with the pending payment otherwise", async () => {
    const holder = await newAccount(api);
    // No worker consumes this system's queues while we stop them; the poll must wait, then time out.
    await Promise.all(system.workers.map((w) => w.stop()));
    system.workers.length = 0;
    const res = await api.post("/api/v1/deposits", { account_id: holder, amount: "1.00" });
    const started = Date.now();
    const timedOut = await api.get(`/api/v1/payments/${res.body.id}?wait=1`);
    expect(timedOut.body.status).toBe("pending");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    const poll = api.get(`/api/v1/payments/${res.body.id}?wait=20`);
    await new Promise((r) => setTimeout(r, 200));
    await system.startWorker();
    const answered = await poll;
    const answeredAt = Date.now();
    expect(answered.body.status).toBe("completed");
    // Woken by the settlement, not by the end of the 20 s wait.
    expect(answeredAt - started).toBeLessThan(15_000);
    console.log(`long poll answered ${answeredAt - Date.parse(answered.body.processed_at)} ms after settlement`);
  });

  it("answers at once for a settled payment, and when a queued dispute operation on it is applied", async () => {
    const holder = await newAccount(api);
    const deposit = await completed("/api/v1/deposits", { account_id: holder, amount: "3.00" });
    const started = Date.now();
    expect((await api.get(`/api/v1/payments/${deposit.id}?wait=20`)).body.dispute_status).toBe("none");
    expect(Date.now() - started).toBeLessThan(10_000);

    await Promise.all(system.workers.map((w) => w.stop()));
    system.workers.length = 0;
    expect((await api.post(`/api/v1/payments/${deposit.id}/dispute`)).status).toBe(202);
    const poll = api.get(`/api/v1/payments/${deposit.id}?wait=20`);
    await new Promise((r) => setTimeout(r, 300));
    const pollStarted = Date.now();
    await system.startWorker();
    const answered = await poll;
    // Woken by the dispute's application, not by the end of the 20 s wait.
    expect(answered.body.dispute_status).toBe("open");
    expect(Date.now() - pollStarted).toBeLessThan(15_000);
  });

  it("rejects a wait outside 0..30", async () => {
    const holder = await newAccount(api);
    const res = await api.post("/api/v1/deposits", { account_id: holder, amount: "1.00" });
    for (const wait of ["31", "-1", "abc", "1.5"]) {
      const polled = await api.get(`/api/v1/payments/${res.body.id}?wait=${wait}`);
      expect([wait, polled.status, polled.body.error.code]).toEqual([wait, 400, "invalid_request"]);
    }
  });
});

it("leaves a ledger that verifies: chains, balances, dispute entries, conservation", async () => {
  const report = await verifyLedger(system.db.pool);
  expect(report.problems).toEqual([]);
  expect(report.entries).toBeGreaterThan(20);
});
