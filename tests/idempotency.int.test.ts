import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { createLogger, createPool, DEFAULT_MIGRATIONS_DIR, hashRequest, migrate, purgeIdempotencyKeys, type Pool } from "@settle/core";
import { TEST_REDIS_URL, TEST_SERVER_URL, uniquePrefix } from "@settle/core/testing";
import { loadConfig as loadApiConfig } from "../apps/api/src/config";
import { startApi, type RunningApi } from "../apps/api/src/server";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";
import { clearPrefix } from "./support/processes";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  // The purge tests below call purgeIdempotencyKeys step by step and count what is left between
  // steps: the worker's own housekeeping (every SWEEP_INTERVAL_MS, 500 ms in tests) purges the same
  // expired keys, and raced them. Nothing else here needs the sweeper.
  system = await startInProcess("idempotency", { workers: 1, env: { SWEEP_INTERVAL_MS: "600000" } });
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
  // The original response, as Stripe's replays are: still `pending` although the deposit has
  // settled since; its Location gives the current state.
  expect(again.body).toEqual(first.body);
  expect(again.body.status).toBe("pending");
  expect((await api.get(again.headers.get("location")!)).body.status).toBe("completed");
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

it("scopes a key to the client, not the endpoint: /payment and /payments are one, any other is a 409 that writes nothing", async () => {
  const [a, b] = [await newAccount(api), await newAccount(api)];
  const key = { "Idempotency-Key": "scoped" };
  const viaSeed = await api.post("/api/v1/payment", { from_account: a, to_account: b, amount: "1.00" }, key);
  expect(viaSeed.status).toBe(202);
  const viaPayments = await api.post("/api/v1/payments", { from_account: a, to_account: b, amount: "1.00" }, key);
  expect([viaPayments.status, viaPayments.body.id, viaPayments.headers.get("idempotent-replayed")]).toEqual([202, viaSeed.body.id, "true"]);
  const before = [await count("payments"), await count("accounts"), await count("idempotency_keys")];
  for (const [path, body] of [
    ["/api/v1/deposits", { account_id: a, amount: "1.00" }],
    ["/api/v1/withdrawals", { account_id: a, amount: "1.00" }],
    ["/api/v1/accounts", {}],
  ] as const) {
    const reused = await api.post(path, body, key);
    expect([path, reused.status]).toEqual([path, 409]);
    expect(reused.body).toEqual({
      error: { code: "idempotency_conflict", message: "Idempotency-Key was first used on another endpoint (POST /api/v1/payments)" },
    });
    expect(reused.headers.get("idempotent-replayed")).toBeNull();
  }
  expect([await count("payments"), await count("accounts"), await count("idempotency_keys")]).toEqual(before);
});

it("tells a deposit from a withdrawal with the same key and the same body", async () => {
  const holder = await newAccount(api);
  const body = { account_id: holder, amount: "5.00" };
  const key = { "Idempotency-Key": "deposit-or-withdrawal" };
  const deposit = await api.post("/api/v1/deposits", body, key);
  expect(deposit.status).toBe(202);
  const before = await count("payments");
  const withdrawal = await api.post("/api/v1/withdrawals", body, key);
  expect([withdrawal.status, withdrawal.body.error.code]).toEqual([409, "idempotency_conflict"]);
  expect(withdrawal.body.error.message).toBe("Idempotency-Key was first used on another endpoint (POST /api/v1/deposits)");
  expect(await count("payments")).toBe(before);
  const again = await api.post("/api/v1/deposits", body, key);
  expect([again.status, again.body.id, again.headers.get("idempotent-replayed")]).toEqual([202, deposit.body.id, "true"]);
  expect((await settled(api, deposit.body.id)).status).toBe("completed");
  expect((await api.get(`/api/v1/accounts/${holder}`)).body.balance).toBe("5.00");
});

it("creates exactly one payment for concurrent requests with one key on two endpoints; the others replay it or get 409", async () => {
  const holder = await newAccount(api);
  const body = { account_id: holder, amount: "4.00" };
  const key = { "Idempotency-Key": "concurrent-endpoints" };
  const before = await count("payments");
  const responses = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      api.post(i % 2 ? "/api/v1/withdrawals" : "/api/v1/deposits", body, key).then((res) => ({ path: i % 2 ? "withdrawals" : "deposits", res })),
    ),
  );
  expect(await count("payments")).toBe(before + 1);
  const { rows } = await system.db.pool.query("SELECT type FROM payments WHERE to_account = $1 OR from_account = $1", [holder]);
  const winner = rows[0].type === "deposit" ? "deposits" : "withdrawals";
  for (const { path, res } of responses) {
    if (path === winner) expect([res.status, res.body.type]).toEqual([202, rows[0].type]);
    else expect([res.status, res.body.error.message]).toEqual([409, `Idempotency-Key was first used on another endpoint (POST /api/v1/${winner})`]);
  }
  expect(new Set(responses.filter((r) => r.path === winner).map((r) => r.res.body.id)).size).toBe(1);
});

it("makes account creation idempotent too, with the original 201", async () => {
  const first = await api.post("/api/v1/accounts", { currency: "EUR" }, { "Idempotency-Key": "acct-1" });
  const again = await api.post("/api/v1/accounts", { currency: "EUR" }, { "Idempotency-Key": "acct-1" });
  expect([first.status, again.status]).toEqual([201, 201]);
  expect(again.body.id).toBe(first.body.id);
  const otherBody = await api.post("/api/v1/accounts", { currency: "USD" }, { "Idempotency-Key": "acct-1" });
  expect([otherBody.status, otherBody.body.error]).toEqual([
    409,
    { code: "idempotency_conflict", message: "Idempotency-Key was already used with a different request body" },
  ]);
  const otherEndpoint = await api.post("/api/v1/deposits", { account_id: first.body.id, amount: "1.00" }, { "Idempotency-Key": "acct-1" });
  expect([otherEndpoint.status, otherEndpoint.body.error.message]).toEqual([409, "Idempotency-Key was first used on another endpoint (POST /api/v1/accounts)"]);
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
    "INSERT INTO idempotency_keys (scope, key, endpoint, request_hash, status_code, response, created_at) VALUES ('-', 'old', 'deposit', repeat('0', 64), 202, '{}', now() - interval '25 hours')",
  );
  expect(await purgeIdempotencyKeys(system.db.pool, 24)).toEqual({ purged: 1, done: true });
  const { rows } = await system.db.pool.query("SELECT key FROM idempotency_keys WHERE key IN ('old', 'fresh')");
  expect(rows.map((r) => r.key)).toEqual(["fresh"]);
});

it("purges in batches, oldest first, and says when its time budget left keys behind", async () => {
  await system.db.pool.query(
    `INSERT INTO idempotency_keys (scope, key, endpoint, request_hash, status_code, response, created_at)
     SELECT '-', 'expired-' || i, 'transfer', repeat('0', 64), 202, '{}', now() - interval '30 hours' + i * interval '1 minute' FROM generate_series(1, 25) AS i`,
  );
  const expired = () => count("idempotency_keys WHERE key LIKE 'expired-%'");
  // No budget: one batch, and the oldest go first.
  expect(await purgeIdempotencyKeys(system.db.pool, 24, { batchSize: 10, budgetMs: 0 })).toEqual({ purged: 10, done: false });
  const { rows } = await system.db.pool.query("SELECT min(substring(key FROM 9)::int) AS first FROM idempotency_keys WHERE key LIKE 'expired-%'");
  expect(rows[0].first).toBe(11);
  expect(await expired()).toBe(15);
  // With time to spare, batch after batch until none is left.
  expect(await purgeIdempotencyKeys(system.db.pool, 24, { batchSize: 4, budgetMs: 60_000 })).toEqual({ purged: 15, done: true });
  expect(await expired()).toBe(0);
  expect(await count("idempotency_keys WHERE key = 'fresh'")).toBe(1);
});

const KEY_A = "client-a-key-0123456789abcdef";
const KEY_B = "client-b-key-0123456789abcdef";
const as = (apiKey: string, idempotencyKey?: string): Record<string, string> => ({
  authorization: `Bearer ${apiKey}`,
  ...(idempotencyKey === undefined ? {} : { "Idempotency-Key": idempotencyKey }),
});

describe("with API keys", () => {
  let keyed: InProcessSystem;
  let api: ApiClient;
  beforeAll(async () => {
    keyed = await startInProcess("idempotency-clients", { workers: 1, apiEnv: { API_KEYS: `${KEY_A},${KEY_B}` } });
    api = client(keyed.api.url);
  });
  afterAll(() => keyed.stop());

  it("keeps two clients' keys independent, on one endpoint and across endpoints", async () => {
    const holder = (await api.post("/api/v1/accounts", {}, as(KEY_A))).body.id as string;
    const body = { account_id: holder, amount: "2.00" };
    const a = await api.post("/api/v1/deposits", body, as(KEY_A, "same-key"));
    const b = await api.post("/api/v1/deposits", body, as(KEY_B, "same-key"));
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.id).not.toBe(a.body.id);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    // B's use of a key on another endpoint is B's own: A's deposit with it is no conflict for B.
    const aDeposit = await api.post("/api/v1/deposits", body, as(KEY_A, "cross-key"));
    const bWithdrawal = await api.post("/api/v1/withdrawals", { account_id: holder, amount: "1.00" }, as(KEY_B, "cross-key"));
    expect([aDeposit.status, bWithdrawal.status]).toEqual([202, 202]);
    // Each client replays its own, and is refused its own key on another endpoint.
    expect((await api.post("/api/v1/deposits", body, as(KEY_A, "same-key"))).body.id).toBe(a.body.id);
    expect((await api.post("/api/v1/deposits", body, as(KEY_B, "same-key"))).body.id).toBe(b.body.id);
    const aWithdrawal = await api.post("/api/v1/withdrawals", { account_id: holder, amount: "1.00" }, as(KEY_A, "cross-key"));
    expect([aWithdrawal.status, aWithdrawal.body.error.message]).toEqual([409, "Idempotency-Key was first used on another endpoint (POST /api/v1/deposits)"]);

    const reader = client(keyed.api.url, as(KEY_A));
    for (const id of [a.body.id, b.body.id, aDeposit.body.id, bWithdrawal.body.id]) expect((await settled(reader, id)).status).toBe("completed");
    expect((await reader.get(`/api/v1/accounts/${holder}`)).body.balance).toBe("5.00");
    expect(Number((await keyed.db.pool.query("SELECT count(*) AS n FROM payments")).rows[0].n)).toBe(4);
  });
});

describe("migration 0005 (keys scoped per client)", () => {
  // The principal the API derives from an API key (apps/api/src/http/auth.ts).
  const principal = (apiKey: string) => createHash("sha256").update(apiKey).digest("hex").slice(0, 12);
  const name = `settle_idempotency_migration_${randomBytes(4).toString("hex")}`;
  const url = `${TEST_SERVER_URL}/${name}`;
  let pool: Pool;
  let running: RunningApi | undefined;
  const prefix = uniquePrefix("idem-migration");

  afterAll(async () => {
    await running?.close();
    await clearPrefix(TEST_REDIS_URL, prefix);
    await pool?.end();
    const admin = new Client({ connectionString: `${TEST_SERVER_URL}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => admin.end());
  });

  it("moves per-endpoint keys into their client's scope, and every stored outcome still replays", async () => {
    // A database as the code before 0005 left it: migrations 0001..0004 only.
    const before = mkdtempSync(path.join(os.tmpdir(), "settle-migrations-"));
    try {
      for (const file of readdirSync(DEFAULT_MIGRATIONS_DIR).filter((f) => f < "0005"))
        copyFileSync(path.join(DEFAULT_MIGRATIONS_DIR, file), path.join(before, file));
      expect((await migrate(url, before)).applied).toEqual([
        "0001_ledger.sql",
        "0002_idempotency_and_disputes.sql",
        "0003_payment_request_id.sql",
        "0004_internal_error.sql",
      ]);
    } finally {
      rmSync(before, { recursive: true, force: true });
    }
    pool = createPool({ url, max: 2 });
    const [pa, pb] = [principal(KEY_A), principal(KEY_B)];
    const holder = "0190a3c2-0000-7000-8000-0000000000a1";
    const other = "0190a3c2-0000-7000-8000-0000000000b2";
    const bodies = {
      deposit: { account_id: holder, amount: "1.00" },
      bothDeposit: { account_id: holder, amount: "2.00" },
      bothTransfer: { from_account: holder, to_account: other, amount: "3.00" },
      clientB: { account_id: holder, amount: "4.00" },
    };
    const id = (n: number) => `0190a3c2-0000-7000-8000-00000000000${n}`;
    // Old rows, in the old scope '<principal>:<endpoint>'. Under the old rule client A used the
    // key "both" on two endpoints; the transfer is the older of the two.
    const old: [string, string, unknown, number, { id: string }, string][] = [
      [`${pa}:deposit`, "only-deposit", bodies.deposit, 202, { id: id(1) }, "2 hours"],
      [`${pa}:transfer`, "both", bodies.bothTransfer, 202, { id: id(2) }, "3 hours"],
      [`${pa}:deposit`, "both", bodies.bothDeposit, 202, { id: id(3) }, "1 hour"],
      [`${pb}:deposit`, "both", bodies.clientB, 202, { id: id(4) }, "4 hours"],
      ["-:account", "open-api", {}, 201, { id: id(5) }, "5 hours"],
    ];
    for (const [scope, key, body, status, response, age] of old) {
      await pool.query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response, created_at) VALUES ($1, $2, $3, $4, $5, now() - $6::interval)",
        [scope, key, hashRequest(body), status, JSON.stringify(response), age],
      );
    }

    expect((await migrate(url)).applied[0]).toBe("0005_idempotency_client_scope.sql");
    const { rows } = await pool.query("SELECT scope, key, endpoint, response->>'id' AS id FROM idempotency_keys ORDER BY id");
    expect(rows).toEqual([
      { scope: pa, key: "only-deposit", endpoint: "deposit", id: id(1) },
      { scope: pa, key: "both", endpoint: "transfer", id: id(2) },
      // The younger of the two uses keeps its old scope, where its retry still finds it.
      { scope: `${pa}:deposit`, key: "both", endpoint: "deposit", id: id(3) },
      { scope: pb, key: "both", endpoint: "deposit", id: id(4) },
      { scope: "-", key: "open-api", endpoint: "account", id: id(5) },
    ]);

    running = await startApi(
      loadApiConfig({
        DATABASE_URL: url,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: prefix,
        PARTITIONS: "8",
        PORT: "0",
        HOST: "127.0.0.1",
        API_KEYS: `${KEY_A},${KEY_B}`,
      }),
      createLogger({ level: process.env.TEST_LOG_LEVEL ?? "silent", name: "idempotency-migration" }),
    );
    const api = client(running.url);
    const replayed = (res: { status: number; body: { id: string }; headers: Headers }) => [res.status, res.body.id, res.headers.get("idempotent-replayed")];
    expect(replayed(await api.post("/api/v1/deposits", bodies.deposit, as(KEY_A, "only-deposit")))).toEqual([202, id(1), "true"]);
    expect(replayed(await api.post("/api/v1/payments", bodies.bothTransfer, as(KEY_A, "both")))).toEqual([202, id(2), "true"]);
    expect(replayed(await api.post("/api/v1/deposits", bodies.bothDeposit, as(KEY_A, "both")))).toEqual([202, id(3), "true"]);
    expect(replayed(await api.post("/api/v1/deposits", bodies.clientB, as(KEY_B, "both")))).toEqual([202, id(4), "true"]);
    // A third endpoint is refused, naming where the key was first used; so is another body.
    const third = await api.post("/api/v1/withdrawals", bodies.bothDeposit, as(KEY_A, "both"));
    expect([third.status, third.body.error.message]).toEqual([409, "Idempotency-Key was first used on another endpoint (POST /api/v1/payments)"]);
    const otherBody = await api.post("/api/v1/deposits", bodies.deposit, as(KEY_A, "both"));
    expect([otherBody.status, otherBody.body.error.message]).toEqual([409, "Idempotency-Key was already used with a different request body"]);
    // Batch items find the same rows.
    const batch = await api.post(
      "/api/v1/payments/batch",
      {
        payments: [
          { type: "deposit", ...bodies.bothDeposit, idempotency_key: "both" },
          { ...bodies.bothTransfer, idempotency_key: "both" },
          { type: "withdrawal", ...bodies.bothDeposit, idempotency_key: "both" },
          { type: "deposit", ...bodies.deposit, idempotency_key: "only-deposit" },
        ],
      },
      as(KEY_A),
    );
    expect(batch.status).toBe(202);
    expect(batch.body.results.map((r: { status: number; payment?: { id: string } }) => [r.status, r.payment?.id])).toEqual([
      [202, id(3)],
      [202, id(2)],
      [409, undefined],
      [202, id(1)],
    ]);
    expect(batch.body.results[2].error).toEqual({
      code: "idempotency_conflict",
      message: "idempotency_key was first used on another endpoint (POST /api/v1/payments)",
    });
    // Replays and refusals only: nothing was written.
    expect(Number((await pool.query("SELECT count(*) AS n FROM payments")).rows[0].n)).toBe(0);
    expect(Number((await pool.query("SELECT count(*) AS n FROM idempotency_keys")).rows[0].n)).toBe(5);
  });
});
