import { verifyLedger } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("ledger", { workers: 2 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

async function fund(account: string, amount: string) {
  const res = await api.post("/api/v1/deposits", { account_id: account, amount });
  expect(res.status).toBe(202);
  expect((await settled(api, res.body.id)).status).toBe("completed");
}

it("settles the design notes' race: 100.00 available, 50.00 and 100.00 at once, exactly one completes", async () => {
  const [payer, payee] = [await newAccount(api), await newAccount(api)];
  await fund(payer, "100.00");
  const [a, b] = await Promise.all([
    api.post("/api/v1/payment", { from_account: payer, to_account: payee, amount: "50.00", payment_description: "a" }),
    api.post("/api/v1/payment", { from_account: payer, to_account: payee, amount: "100.00", payment_description: "b" }),
  ]);
  expect([a.status, b.status]).toEqual([202, 202]);
  const results = [await settled(api, a.body.id), await settled(api, b.body.id)];
  expect(results.filter((p) => p.status === "completed")).toHaveLength(1);
  expect(results.filter((p) => p.status === "failed").map((p) => p.failure_reason)).toEqual(["insufficient_funds"]);
  const [from, to] = [(await api.get(`/api/v1/accounts/${payer}`)).body, (await api.get(`/api/v1/accounts/${payee}`)).body];
  const paid = results.find((p) => p.status === "completed").amount;
  expect(to.balance).toBe(paid);
  expect(from.balance).toBe(paid === "50.00" ? "50.00" : "0.00");
});

it("applies one account's payments in acceptance order", async () => {
  const [payer, payee] = [await newAccount(api), await newAccount(api)];
  await fund(payer, "10.00");
  // 6.00 then 5.00 then 4.00, each sent after the previous 202: in order, 6 and 4 complete and 5 fails.
  const ids: string[] = [];
  for (const amount of ["6.00", "5.00", "4.00"]) {
    const res = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount });
    expect(res.status).toBe(202);
    ids.push(res.body.id);
  }
  const outcomes = [];
  for (const id of ids) outcomes.push((await settled(api, id)).status);
  expect(outcomes).toEqual(["completed", "failed", "completed"]);
  const entries = (await api.get(`/api/v1/accounts/${payer}/entries`)).body.entries;
  expect(entries.map((e: any) => [e.type, e.amount, e.available_after])).toEqual([
    ["credit", "10.00", "10.00"],
    ["debit", "6.00", "4.00"],
    ["debit", "4.00", "0.00"],
  ]);
});

it("keeps each journal gap-free and chained, with its last entry equal to the account row", async () => {
  const [a, b] = [await newAccount(api), await newAccount(api)];
  await fund(a, "30.00");
  const ids = [];
  for (let i = 0; i < 5; i++)
    ids.push((await api.post("/api/v1/payments", { from_account: i % 2 ? b : a, to_account: i % 2 ? a : b, amount: "3.00" })).body.id);
  for (const id of ids) await settled(api, id);
  for (const account of [a, b]) {
    const row = (await api.get(`/api/v1/accounts/${account}`)).body;
    const page1 = (await api.get(`/api/v1/accounts/${account}/entries?limit=2`)).body;
    expect(page1.entries).toHaveLength(2);
    expect(page1.next_after).toBe(2);
    const rest = (await api.get(`/api/v1/accounts/${account}/entries?after=${page1.next_after}&limit=500`)).body;
    expect(rest.next_after).toBeNull();
    const entries = [...page1.entries, ...rest.entries];
    expect(entries.map((e: any) => e.seq)).toEqual(entries.map((_: unknown, i: number) => i + 1));
    expect(entries[0].prev_hash).toBe("0".repeat(64));
    for (let i = 1; i < entries.length; i++) expect(entries[i].prev_hash).toBe(entries[i - 1].hash);
    const last = entries[entries.length - 1];
    expect([last.balance_after, last.available_after, last.held_after]).toEqual([row.balance, row.available, row.held]);
    expect(row.entry_count).toBe(entries.length);
  }
  const report = await verifyLedger(system.db.pool);
  expect(report.problems).toEqual([]);
});

it("refuses to update or delete a journal entry, even in SQL", async () => {
  await expect(system.db.pool.query("UPDATE journal_entries SET amount = amount + 1")).rejects.toThrow(/append-only/);
  await expect(system.db.pool.query("DELETE FROM journal_entries")).rejects.toThrow(/append-only/);
});
