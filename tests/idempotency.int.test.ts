import { purgeIdempotencyKeys } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("idempotency", { workers: 1 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

const count = async (table: string) => Number((await system.db.pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

it("returns the original response for a repeated key and body, and creates nothing", async () => {
  const holder = await newAccount(api);
  const body = { account_id: holder, amount: "10.00", description: "top-up" };
  const first = await api.post("/api/v1/deposits", body, { "Idempotency-Key": "dep-1" });
  expect(first.status).toBe(202);
  await settled(api, first.body.id);
  const before = await count("payments");
  // The same JSON with its keys in another order is the same request.
  const again = await api.post("/api/v1/deposits", { description: "top-up", amount: "10.00", account_id: holder }, { "Idempotency-Key": "dep-1" });
  expect(again.status).toBe(202);
  expect(again.body).toEqual(first.body);
  expect(again.headers.get("location")).toBe(first.headers.get("location"));
  expect(again.headers.get("idempotent-replayed")).toBe("true");
  expect(await count("payments")).toBe(before);
  expect((await api.get(`/api/v1/accounts/${holder}`)).body.balance).toBe("10.00");
});

it("answers 409 idempotency_conflict for the same key with another body", async () => {
  const holder = await newAccount(api);
  expect((await api.post("/api/v1/deposits", { account_id: holder, amount: "1.00" }, { "Idempotency-Key": "dep-2" })).status).toBe(202);
  const before = await count("payments");
  const other = await api.post("/api/v1/deposits", { account_id: holder, amount: "2.00" }, { "Idempotency-Key": "dep-2" });
  expect(other.status).toBe(409);
  expect(other.body.error.code).toBe("idempotency_conflict");
  expect(await count("payments")).toBe(before);
});

it("creates exactly one payment for many concurrent requests with one key", async () => {
  const [a, b] = [await newAccount(api), await newAccount(api)];
  // Funded, so the one payment completes and a doubled one would show in the balances.
  const deposit = await api.post("/api/v1/deposits", { account_id: a, amount: "10.00" });
  expect((await settled(api, deposit.body.id)).status).toBe("completed");
  const body = { from_account: a, to_account: b, amount: "3.00" };
  const before = await count("payments");
  const responses = await Promise.all(Array.from({ length: 20 }, () => api.post("/api/v1/payments", body, { "Idempotency-Key": "concurrent-1" })));
  expect(new Set(responses.map((r) => r.status))).toEqual(new Set([202]));
  expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
  expect(await count("payments")).toBe(before + 1);
  expect((await settled(api, responses[0]!.body.id)).status).toBe("completed");
  expect((await api.get(`/api/v1/accounts/${a}`)).body.available).toBe("7.00");
  expect((await api.get(`/api/v1/accounts/${b}`)).body.available).toBe("3.00");
});

it("scopes keys per endpoint, and treats /payment and /payments as one endpoint", async () => {
  const [a, b] = [await newAccount(api), await newAccount(api)];
  const viaSeed = await api.post("/api/v1/payment", { from_account: a, to_account: b, amount: "1.00" }, { "Idempotency-Key": "scoped" });
  const viaPayments = await api.post("/api/v1/payments", { from_account: a, to_account: b, amount: "1.00" }, { "Idempotency-Key": "scoped" });
  expect(viaPayments.body.id).toBe(viaSeed.body.id);
  const deposit = await api.post("/api/v1/deposits", { account_id: a, amount: "1.00" }, { "Idempotency-Key": "scoped" });
  expect(deposit.status).toBe(202);
  expect(deposit.body.id).not.toBe(viaSeed.body.id);
});

it("makes account creation idempotent too, with the original 201", async () => {
  const first = await api.post("/api/v1/accounts", { currency: "EUR" }, { "Idempotency-Key": "acct-1" });
  const again = await api.post("/api/v1/accounts", { currency: "EUR" }, { "Idempotency-Key": "acct-1" });
  expect([first.status, again.status]).toEqual([201, 201]);
  expect(again.body.id).toBe(first.body.id);
  expect((await api.post("/api/v1/accounts", { currency: "USD" }, { "Idempotency-Key": "acct-1" })).status).toBe(409);
});

it("stores nothing for a rejected request, so a corrected retry with the same key works", async () => {
  const holder = await newAccount(api);
  const bad = await api.post("/api/v1/deposits", { account_id: "0190a3c2-0000-7000-8000-000000000001", amount: "1.00" }, { "Idempotency-Key": "retry-1" });
  expect(bad.status).toBe(422);
  expect(await count("idempotency_keys WHERE key = 'retry-1'")).toBe(0);
  const good = await api.post("/api/v1/deposits", { account_id: holder, amount: "1.00" }, { "Idempotency-Key": "retry-1" });
  expect(good.status).toBe(202);
});

it("rejects a malformed key with 400", async () => {
  const holder = await newAccount(api);
  for (const key of ["x".repeat(256), "tab\tkey", "é"]) {
    const res = await api.post("/api/v1/deposits", { account_id: holder, amount: "1.00" }, { "Idempotency-Key": key });
    expect([res.status, res.body.error.code]).toEqual([400, "invalid_request"]);
  }
});

it("keeps keys for 24 hours and purges older ones", async () => {
  const holder = await newAccount(api);
  await api.post("/api/v1/deposits", { account_id: holder, amount: "1.00" }, { "Idempotency-Key": "fresh" });
  await system.db.pool.query(
    "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response, created_at) VALUES ('-:deposit', 'old', repeat('0', 64), 202, '{}', now() - interval '25 hours')",
  );
  expect(await purgeIdempotencyKeys(system.db.pool, 24)).toBe(1);
  const { rows } = await system.db.pool.query("SELECT key FROM idempotency_keys WHERE key IN ('old', 'fresh')");
  expect(rows.map((r) => r.key)).toEqual(["fresh"]);
});
