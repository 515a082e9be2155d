// Authorize, then capture or void (docs/API.md "Authorize, then capture or void"): an authorization
// settles as a hold on the payer; a capture moves (part of) it, a void or the expiry releases it.
import { verifyLedger } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, fundedAccount, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

// The test system sweeps every 500 ms (tests/support/in-process.ts): expiry comes within it.
beforeAll(async () => {
  system = await startInProcess("authorizations", { workers: 2 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

const funded = (amount: string) => fundedAccount(api, amount);

const balances = async (id: string) => {
  const { body } = await api.get(`/api/v1/accounts/${id}`);
  return { available: body.available, held: body.held };
};

async function authorized(from: string, to: string, amount: string, extra: object = {}): Promise<any> {
  const res = await api.post("/api/v1/payments", { from_account: from, to_account: to, amount, capture: false, ...extra });
  expect(res.status).toBe(202);
  expect(res.body).toMatchObject({ status: "pending", capture: false });
  const payment = await settled(api, res.body.id);
  expect(payment.status).toBe("authorized");
  return payment;
}

/**
 * Polls the payment until its status is no longer `from` (at most 15 s). The long poll waits for a
 * queued capture or void; an expiry is queued only by the sweeper, so meanwhile it answers at once.
 */
async function until(id: string, from: string): Promise<any> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const polled = (await api.get(`/api/v1/payments/${id}?wait=5`)).body;
    if (polled.status !== from) return polled;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`payment ${id} stayed ${from}`);
}

it("authorizes (a hold on the payer), then captures part of it: the rest is released", async () => {
  const [payer, merchant] = [await funded("100.00"), await newAccount(api)];
  const auth = await authorized(payer, merchant, "60.00");
  expect(Date.parse(auth.expires_at) - Date.parse(auth.created_at)).toBeGreaterThanOrEqual(7 * 24 * 3600 * 1000 - 1000);
  expect(await balances(payer)).toEqual({ available: "40.00", held: "60.00" });

  const capture = await api.post(`/api/v1/payments/${auth.id}/capture`, { amount: "45.00" });
  expect(capture.status).toBe(202);
  expect(capture.body.operation).toEqual({ id: expect.any(String), kind: "capture", status: "pending", amount: "45.00", created_at: expect.any(String) });
  const done = await until(auth.id, "authorized");
  expect([done.status, done.amount_captured]).toEqual(["completed", "45.00"]);
  expect(await balances(payer)).toEqual({ available: "55.00", held: "0.00" });
  expect(await balances(merchant)).toEqual({ available: "45.00", held: "0.00" });
  const entries = (await api.get(`/api/v1/accounts/${payer}/entries`)).body.entries.filter((e: any) => e.payment_id === auth.id);
  expect(entries.map((e: any) => `${e.type}:${e.amount}`)).toEqual(["authorize:60.00", "capture:45.00", "release:15.00"]);

  // A captured authorization is refundable up to what was captured.
  const over = await api.post(`/api/v1/payments/${auth.id}/refunds`, { amount: "45.01" });
  expect(over.body.error.code).toBe("refund_exceeds_payment");
});

it("captures the whole authorization without an amount, and voids another", async () => {
  const [payer, merchant] = [await funded("50.00"), await newAccount(api)];
  const [a, b] = [await authorized(payer, merchant, "20.00"), await authorized(payer, merchant, "30.00")];
  expect(await balances(payer)).toEqual({ available: "0.00", held: "50.00" });
  expect((await api.post(`/api/v1/payments/${a.id}/capture`)).body.operation.amount).toBe("20.00");
  const voided = await api.post(`/api/v1/payments/${b.id}/void`);
  expect([voided.status, voided.body.operation.kind]).toEqual([202, "void"]);
  expect((await until(a.id, "authorized")).amount_captured).toBe("20.00");
  expect((await until(b.id, "authorized")).status).toBe("voided");
  expect(await balances(payer)).toEqual({ available: "30.00", held: "0.00" });
  expect(await balances(merchant)).toEqual({ available: "20.00", held: "0.00" });
});

it("fails an authorization the payer cannot cover, like any payment", async () => {
  const [payer, merchant] = [await funded("10.00"), await newAccount(api)];
  const res = await api.post("/api/v1/payments", { from_account: payer, to_account: merchant, amount: "10.01", capture: false });
  const failed = await settled(api, res.body.id);
  expect([failed.status, failed.failure_reason]).toEqual(["failed", "insufficient_funds"]);
  expect(await balances(payer)).toEqual({ available: "10.00", held: "0.00" });
});

it("expires an authorization not captured in time: released by the workers, and capture after it is 409", async () => {
  const [payer, merchant] = [await funded("10.00"), await newAccount(api)];
  const auth = await authorized(payer, merchant, "7.00", { expires_in_seconds: 1 });
  const expired = await until(auth.id, "authorized");
  expect(expired.status).toBe("expired");
  expect(await balances(payer)).toEqual({ available: "10.00", held: "0.00" });
  for (const kind of ["capture", "void"]) {
    const res = await api.post(`/api/v1/payments/${auth.id}/${kind}`);
    expect([res.status, res.body.error.code]).toEqual([409, "invalid_state"]);
  }
});

it("refuses capture and void of what is not an authorized payment, a capture beyond it, and a second step", async () => {
  const [payer, merchant] = [await funded("30.00"), await newAccount(api)];
  const plain = await api.post("/api/v1/payments", { from_account: payer, to_account: merchant, amount: "1.00" });
  await settled(api, plain.body.id);
  expect((await api.post(`/api/v1/payments/${plain.body.id}/capture`)).body.error.code).toBe("invalid_state");
  expect((await api.post(`/api/v1/payments/${plain.body.id}/void`)).body.error.code).toBe("invalid_state");

  const auth = await authorized(payer, merchant, "10.00");
  const beyond = await api.post(`/api/v1/payments/${auth.id}/capture`, { amount: "10.01" });
  expect([beyond.status, beyond.body.error.code, beyond.body.error.details]).toEqual([
    409,
    "capture_exceeds_authorization",
    [{ path: "amount", message: "must be at most 10.00" }],
  ]);
  // With no worker, the void stays queued: a capture after it is refused by the queued void.
  await Promise.all(system.workers.map((w) => w.stop()));
  system.workers.length = 0;
  expect((await api.post(`/api/v1/payments/${auth.id}/void`)).status).toBe(202);
  const second = await api.post(`/api/v1/payments/${auth.id}/capture`);
  expect([second.status, second.body.error.code]).toEqual([409, "invalid_state"]);
  expect(second.body.error.message).toContain("void queued");
  // The long poll waits for the queued void, then answers with it applied.
  const poll = api.get(`/api/v1/payments/${auth.id}?wait=20`);
  await new Promise((r) => setTimeout(r, 300));
  await system.startWorker();
  await system.startWorker();
  expect((await poll).body.status).toBe("voided");

  for (const body of [
    { expires_in_seconds: 60 },
    { capture: false, expires_in_seconds: 0 },
    { capture: false, expires_in_seconds: 2_592_001 },
    { capture: "no" },
  ]) {
    const res = await api.post("/api/v1/payments", { from_account: payer, to_account: merchant, amount: "1.00", ...body });
    expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 400, code: "invalid_request" });
  }
  expect((await api.post(`/api/v1/payments/${auth.id}/capture`, { amount: 5 })).status).toBe(400);
  expect((await api.post(`/api/v1/payments/${auth.id}/void`, { amount: "5.00" })).status).toBe(400);
});

it("replays a capture or a void sent again with its Idempotency-Key, and queues nothing more", async () => {
  const [payer, merchant] = [await funded("20.00"), await newAccount(api)];
  const [a, b] = [await authorized(payer, merchant, "5.00"), await authorized(payer, merchant, "5.00")];
  const key = { "Idempotency-Key": `capture-${a.id}` };
  const first = await api.post(`/api/v1/payments/${a.id}/capture`, { amount: "4.00" }, key);
  const again = await api.post(`/api/v1/payments/${a.id}/capture`, { amount: "4.00" }, key);
  expect([again.status, again.headers.get("idempotent-replayed"), again.body.operation]).toEqual([202, "true", first.body.operation]);
  // The same key with another amount, or on another payment's capture: a conflict.
  expect((await api.post(`/api/v1/payments/${a.id}/capture`, { amount: "3.00" }, key)).body.error.code).toBe("idempotency_conflict");
  expect((await api.post(`/api/v1/payments/${b.id}/capture`, { amount: "4.00" }, key)).body.error.code).toBe("idempotency_conflict");
  const voidKey = { "Idempotency-Key": `void-${b.id}` };
  const voided = await api.post(`/api/v1/payments/${b.id}/void`, undefined, voidKey);
  expect((await api.post(`/api/v1/payments/${b.id}/void`, undefined, voidKey)).body.operation).toEqual(voided.body.operation);
  const { rows } = await system.db.pool.query("SELECT payment_id, kind FROM payment_operations WHERE payment_id = ANY($1::uuid[]) ORDER BY kind", [
    [a.id, b.id],
  ]);
  expect(rows).toEqual([
    { payment_id: a.id, kind: "capture" },
    { payment_id: b.id, kind: "void" },
  ]);
  expect((await until(a.id, "authorized")).amount_captured).toBe("4.00");
  expect((await until(b.id, "authorized")).status).toBe("voided");
});

it("takes authorizations in a batch", async () => {
  const [payer, merchant] = [await funded("10.00"), await newAccount(api)];
  const res = await api.post("/api/v1/payments/batch", {
    payments: [{ from_account: payer, to_account: merchant, amount: "4.00", capture: false, expires_in_seconds: 3600 }],
  });
  const accepted = res.body.results[0].payment;
  expect([accepted.capture, Date.parse(accepted.expires_at) - Date.parse(accepted.created_at)]).toEqual([false, 3600 * 1000]);
  expect((await settled(api, accepted.id)).status).toBe("authorized");
});

it("writes an event for each step and leaves a ledger that verifies", async () => {
  const report = await verifyLedger(system.db.pool, { quiescent: true });
  expect(report.problems).toEqual([]);
  const { rows } = await system.db.pool.query("SELECT DISTINCT type FROM events WHERE type LIKE 'payment.%' ORDER BY type");
  expect(rows.map((r) => r.type)).toEqual(
    expect.arrayContaining(["payment.authorized", "payment.captured", "payment.voided", "payment.expired", "payment.completed", "payment.failed"]),
  );
});
