// Overdraft limits (docs/API.md "Overdraft limits"): available may go down to -overdraft_limit
// through a payment, never below; only an admin key sets a limit.
import { verifyLedger } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, settled, type ApiClient } from "./support/http";

const CLIENT = "client-key-overdraft-0123456789";
const ADMIN = "admin-key-overdraft-0123456789ab";

let system: InProcessSystem;
let api: ApiClient;
let admin: ApiClient;

beforeAll(async () => {
  system = await startInProcess("overdraft", { workers: 2, apiEnv: { API_KEYS: CLIENT, ADMIN_API_KEYS: ADMIN } });
  api = client(system.api.url, { authorization: `Bearer ${CLIENT}` });
  admin = client(system.api.url, { authorization: `Bearer ${ADMIN}` });
});
afterAll(() => system.stop());

const account = async (id: string) => (await api.get(`/api/v1/accounts/${id}`)).body;

async function created(by: ApiClient, body: object = {}): Promise<string> {
  const res = await by.post("/api/v1/accounts", body);
  expect(res.status).toBe(201);
  return res.body.id;
}

async function pay(from: string, to: string, amount: string): Promise<any> {
  const res = await api.post("/api/v1/payments", { from_account: from, to_account: to, amount });
  expect(res.status).toBe(202);
  return settled(api, res.body.id);
}

it("lets available go down to -overdraft_limit through payments, never below", async () => {
  const payer = await created(admin, { overdraft_limit: "100.00" });
  const payee = await created(api);
  expect((await account(payer)).overdraft_limit).toBe("100.00");
  expect((await account(payee)).overdraft_limit).toBe("0.00");
  expect((await pay(payer, payee, "60.00")).status).toBe("completed");
  expect((await pay(payer, payee, "40.00")).status).toBe("completed");
  const beyond = await pay(payer, payee, "0.01");
  expect([beyond.status, beyond.failure_reason]).toEqual(["failed", "insufficient_funds"]);
  expect((await account(payer)).available).toBe("-100.00");
  // An authorization is held within the same floor; a withdrawal too.
  const auth = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00", capture: false });
  expect((await settled(api, auth.body.id)).failure_reason).toBe("insufficient_funds");
  const withdrawal = await api.post("/api/v1/withdrawals", { account_id: payer, amount: "1.00" });
  expect((await settled(api, withdrawal.body.id)).failure_reason).toBe("insufficient_funds");
  const entries = (await api.get(`/api/v1/accounts/${payer}/entries`)).body.entries;
  expect(entries.map((e: any) => e.available_after)).toEqual(["-60.00", "-100.00"]);
});

it("changes the limit at once with PATCH (admin), with its event; lowering it takes nothing back", async () => {
  const payer = await created(api);
  const payee = await created(api);
  expect((await pay(payer, payee, "5.00")).failure_reason).toBe("insufficient_funds");

  const raised = await admin.call("PATCH", `/api/v1/accounts/${payer}`, { overdraft_limit: "50.00" });
  expect([raised.status, raised.body.id, raised.body.overdraft_limit]).toEqual([200, payer, "50.00"]);
  expect((await pay(payer, payee, "30.00")).status).toBe("completed");

  const lowered = await admin.call("PATCH", `/api/v1/accounts/${payer}`, { overdraft_limit: "10.00" });
  expect(lowered.body).toMatchObject({ overdraft_limit: "10.00", available: "-30.00" });
  expect((await pay(payer, payee, "0.01")).failure_reason).toBe("insufficient_funds");
  // Money in brings it back within the floor: then it may pay again, down to -10.00.
  const deposit = await api.post("/api/v1/deposits", { account_id: payer, amount: "25.00" });
  await settled(api, deposit.body.id);
  expect((await pay(payer, payee, "5.00")).status).toBe("completed");
  expect((await account(payer)).available).toBe("-10.00");

  // The same limit again writes no event.
  await admin.call("PATCH", `/api/v1/accounts/${payer}`, { overdraft_limit: "10.00" });
  const { rows } = await system.db.pool.query(
    "SELECT data->'account'->>'overdraft_limit' AS limit FROM events WHERE type = 'account.updated' AND data->'account'->>'id' = $1 ORDER BY xid, seq",
    [payer],
  );
  expect(rows.map((r) => r.limit)).toEqual(["50.00", "10.00"]);
});

it("lets only an admin key give credit: PATCH and an overdraft at creation are 403 for a client key", async () => {
  const id = await created(api);
  const patched = await api.call("PATCH", `/api/v1/accounts/${id}`, { overdraft_limit: "10.00" });
  expect([patched.status, patched.body.error.code]).toEqual([403, "forbidden"]);
  const before = (await system.db.pool.query("SELECT count(*)::int AS n FROM accounts")).rows[0].n;
  const withCredit = await api.post("/api/v1/accounts", { overdraft_limit: "10.00" });
  expect([withCredit.status, withCredit.body.error.code]).toEqual([403, "forbidden"]);
  expect((await system.db.pool.query("SELECT count(*)::int AS n FROM accounts")).rows[0].n).toBe(before);
  // A zero limit is no credit: a client may say so.
  expect((await api.post("/api/v1/accounts", { overdraft_limit: "0.00" })).status).toBe(201);
  expect((await account(id)).overdraft_limit).toBe("0.00");
});

it("refuses a bad limit with 400 and an unknown account with 404", async () => {
  const id = await created(api);
  for (const body of [{}, { overdraft_limit: "-1.00" }, { overdraft_limit: 10 }, { overdraft_limit: "1.001" }, { status: "frozen" }]) {
    const res = await admin.call("PATCH", `/api/v1/accounts/${id}`, body);
    expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 400, code: "invalid_request" });
  }
  expect((await admin.call("PATCH", "/api/v1/accounts/0193a0f2-6c1e-7c3a-9a52-3f6f2a1d9b99", { overdraft_limit: "1.00" })).status).toBe(404);
});

it("stops at the database too: a debit below -overdraft_limit is refused by the journal's CHECK", async () => {
  const id = await created(admin, { overdraft_limit: "5.00" });
  const insert = (available: string, limit: string) =>
    system.db.pool.query(
      `INSERT INTO journal_entries (account_id, seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at, overdraft_limit)
       SELECT $1, 999, id, 'debit', 1, $2, $2, 0, repeat('0', 64), repeat('0', 64), now(), $3 FROM payments LIMIT 1`,
      [id, available, limit],
    );
  await expect(insert("-5.01", "5.00")).rejects.toThrow(/journal_entries_within_overdraft/);
});

it("leaves a ledger that verifies", async () => {
  const report = await verifyLedger(system.db.pool, { quiescent: true });
  expect(report.problems).toEqual([]);
});
