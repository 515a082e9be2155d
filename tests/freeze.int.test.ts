// Freezing and unfreezing an account (admin): at once, ordered with settlement by the account's
// row lock, and undone by unfreeze — also for an account a chargeback froze.
import { verifyLedger } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, fundedAccount, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("freeze", { workers: 2 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

const funded = (amount: string) => fundedAccount(api, amount);

const entriesOf = async (account: string): Promise<any[]> => (await api.get(`/api/v1/accounts/${account}/entries?limit=500`)).body.entries;

it("freezes an account: it may receive but not send or withdraw, until it is unfrozen", async () => {
  const [payer, payee] = [await funded("50.00"), await newAccount(api)];
  const frozen = await api.post(`/api/v1/accounts/${payer}/freeze`);
  expect([frozen.status, frozen.body.id, frozen.body.status, frozen.body.available]).toEqual([200, payer, "frozen", "50.00"]);
  // Doing it twice changes nothing.
  expect((await api.post(`/api/v1/accounts/${payer}/freeze`, {})).body.status).toBe("frozen");
  const entriesBefore = (await entriesOf(payer)).length;

  const transfer = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "10.00" });
  const withdrawal = await api.post("/api/v1/withdrawals", { account_id: payer, amount: "10.00" });
  const deposit = await api.post("/api/v1/deposits", { account_id: payer, amount: "5.00" });
  for (const refused of [transfer, withdrawal]) {
    expect(await settled(api, refused.body.id)).toMatchObject({ status: "failed", failure_reason: "account_frozen" });
  }
  expect(await settled(api, deposit.body.id)).toMatchObject({ status: "completed" });
  expect((await entriesOf(payer)).length).toBe(entriesBefore + 1);
  expect((await api.get(`/api/v1/accounts/${payer}`)).body).toMatchObject({ status: "frozen", available: "55.00" });

  const unfrozen = await api.post(`/api/v1/accounts/${payer}/unfreeze`);
  expect([unfrozen.status, unfrozen.body.status]).toEqual([200, "active"]);
  const again = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "10.00" });
  expect(await settled(api, again.body.id)).toMatchObject({ status: "completed" });
  expect((await api.get(`/api/v1/accounts/${payee}`)).body.available).toBe("10.00");
});

it("applies to payments accepted before the freeze and still pending", async () => {
  const [payer, payee] = [await funded("30.00"), await newAccount(api)];
  // Nothing settles while the workers are stopped: the payments wait, pending, for the freeze.
  await Promise.all(system.workers.map((w) => w.stop()));
  system.workers.length = 0;
  const queued = [];
  for (let i = 0; i < 3; i++) queued.push(await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00" }));
  expect(queued.map((r) => [r.status, r.body.status])).toEqual(Array(3).fill([202, "pending"]));
  expect((await api.post(`/api/v1/accounts/${payer}/freeze`)).body.status).toBe("frozen");
  await Promise.all([system.startWorker(), system.startWorker()]);
  for (const r of queued) expect(await settled(api, r.body.id)).toMatchObject({ status: "failed", failure_reason: "account_frozen" });
  expect((await api.get(`/api/v1/accounts/${payer}`)).body.available).toBe("30.00");
});

it("lets an admin unfreeze an account a chargeback froze", async () => {
  const [payer, merchant] = [await funded("20.00"), await newAccount(api)];
  const sale = await api.post("/api/v1/payments", { from_account: payer, to_account: merchant, amount: "20.00" });
  expect((await settled(api, sale.body.id)).status).toBe("completed");
  const refill = await api.post("/api/v1/deposits", { account_id: merchant, amount: "5.00" });
  expect((await settled(api, refill.body.id)).status).toBe("completed");
  for (const [kind, expected] of [
    ["dispute", "open"],
    ["chargeback", "charged_back"],
  ] as const) {
    expect((await api.post(`/api/v1/payments/${sale.body.id}/${kind}`)).status).toBe(202);
    let status = "";
    for (let i = 0; i < 20 && status !== expected; i++) status = (await api.get(`/api/v1/payments/${sale.body.id}?wait=5`)).body.dispute_status;
    expect(status).toBe(expected);
  }
  expect((await api.get(`/api/v1/accounts/${merchant}`)).body).toMatchObject({ status: "frozen", available: "5.00" });
  expect((await api.post(`/api/v1/accounts/${merchant}/unfreeze`)).body.status).toBe("active");
  const payout = await api.post("/api/v1/withdrawals", { account_id: merchant, amount: "5.00" });
  expect(await settled(api, payout.body.id)).toMatchObject({ status: "completed" });
});

it("fails every payment accepted after the freeze was answered, with payments flowing meanwhile", async () => {
  const payer = await funded("1000.00");
  const payee = await newAccount(api);
  const before: string[] = [];
  const after: string[] = [];
  let frozenAt = 0;
  const send = async () => {
    for (let i = 0; i < 40; i++) {
      // Sent after the freeze was answered: must fail. Sent before: either outcome is right.
      const sentAfterFreeze = frozenAt > 0;
      const res = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00" });
      expect(res.status).toBe(202);
      (sentAfterFreeze ? after : before).push(res.body.id);
    }
  };
  const senders = [send(), send()];
  await new Promise((r) => setTimeout(r, 150));
  expect((await api.post(`/api/v1/accounts/${payer}/freeze`)).body.status).toBe("frozen");
  frozenAt = Date.now();
  await Promise.all(senders);
  expect(after.length).toBeGreaterThan(0);
  const outcomes = await Promise.all([...before, ...after].map((id) => settled(api, id)));
  const afterOutcomes = outcomes.slice(before.length);
  expect(afterOutcomes.every((p) => p.status === "failed" && p.failure_reason === "account_frozen")).toBe(true);
  // Money moved exactly for the completed ones.
  const completed = outcomes.filter((p) => p.status === "completed").length;
  expect((await api.get(`/api/v1/accounts/${payee}`)).body.available).toBe(`${completed}.00`);
  expect((await api.get(`/api/v1/accounts/${payer}`)).body.available).toBe(`${1000 - completed}.00`);
  expect((await verifyLedger(system.db.pool)).problems).toEqual([]);
});

it("answers 404 for an unknown account and 400 for a body with fields", async () => {
  const unknown = await api.post("/api/v1/accounts/0190a3c2-0000-7000-8000-000000000000/freeze");
  expect([unknown.status, unknown.body.error.code]).toEqual([404, "not_found"]);
  const account = await newAccount(api);
  const bad = await api.post(`/api/v1/accounts/${account}/freeze`, { reason: "x" });
  expect([bad.status, bad.body.error.code]).toEqual([400, "invalid_request"]);
  expect((await api.get(`/api/v1/accounts/${account}`)).body.status).toBe("active");
});
