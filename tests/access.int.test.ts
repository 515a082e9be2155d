import { createRedis } from "@settle/core";
import { clearRedisPrefix } from "@settle/core/testing";
import { loadConfig as loadApiConfig } from "../apps/api/src/config";
import { ROUTES } from "../apps/api/src/ops/openapi-routes";
import { startApi } from "../apps/api/src/server";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, type ApiClient } from "./support/http";

const KEY = "test-key-0123456789abcdef";
const OTHER = "other-key-0123456789abcdef";

describe("API keys", () => {
  let system: InProcessSystem;
  let api: ApiClient;
  beforeAll(async () => {
    system = await startInProcess("access", { workers: 1, apiEnv: { API_KEYS: `${KEY},${OTHER}` } });
    api = client(system.api.url);
  });
  afterAll(() => system.stop());

  it("answers 401 unauthorized without a valid bearer key, on every /api/v1 route", async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: "Bearer wrong-key-0123456789" },
      { authorization: `Basic ${KEY}` },
      { authorization: `Bearer ${KEY}x` },
    ]) {
      const res = await api.post("/api/v1/accounts", {}, headers);
      expect([res.status, res.body.error.code]).toEqual([401, "unauthorized"]);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await api.get("/api/v1/payments/0190a3c2-0000-7000-8000-000000000000", headers)).status).toBe(401);
    }
    expect(Number((await system.db.pool.query("SELECT count(*) AS n FROM accounts")).rows[0].n)).toBe(0);
  });

  it("serves a caller with any configured key; health stays open", async () => {
    expect((await api.post("/api/v1/accounts", {}, { authorization: `Bearer ${KEY}` })).status).toBe(201);
    expect((await api.post("/api/v1/accounts", {}, { authorization: `Bearer ${OTHER}` })).status).toBe(201);
    expect((await api.get("/healthz")).status).toBe(200);
  });

  it("keeps one client's idempotency keys apart from another's", async () => {
    const a = await api.post("/api/v1/accounts", {}, { authorization: `Bearer ${KEY}`, "idempotency-key": "same" });
    const b = await api.post("/api/v1/accounts", {}, { authorization: `Bearer ${OTHER}`, "idempotency-key": "same" });
    expect(a.body.id).not.toBe(b.body.id);
  });
});

describe("abuse limits", () => {
  let system: InProcessSystem;
  let api: ApiClient;
  beforeAll(async () => {
    system = await startInProcess("abuse", { workers: 1, apiEnv: { RATE_LIMIT_PER_SECOND: "5", RATE_LIMIT_BURST: "10" } });
    api = client(system.api.url);
  });
  afterAll(() => system.stop());

  it("refuses deep JSON, long URLs and huge headers without falling over", async () => {
    let deep: unknown = "x";
    for (let i = 0; i < 20; i++) deep = { a: deep };
    const nested = await api.post("/api/v1/accounts", deep);
    expect([nested.status, nested.body.error.code]).toEqual([400, "invalid_request"]);
    const long = await api.get(`/api/v1/accounts/${"a".repeat(3000)}`);
    expect([long.status, long.body.error.code]).toEqual([414, "uri_too_long"]);
    const huge = await fetch(`${system.api.url}/healthz`, { headers: { "x-filler": "y".repeat(20_000) } });
    expect(huge.status).toBe(431);
  });

  it("answers 429 rate_limited with Retry-After past the burst, per client", async () => {
    // The previous test used a few tokens; 30 quick requests surely pass the burst of 10.
    const results = await Promise.all(Array.from({ length: 30 }, () => api.get("/api/v1/accounts/0190a3c2-0000-7000-8000-000000000000")));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.body.error.code).toBe("rate_limited");
    expect(Number(limited[0]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(results.filter((r) => r.status === 404).length).toBeGreaterThan(0);
    expect((await api.get("/healthz")).status).toBe(200);
  });

  it("shares one limit between API processes: the count lives in Redis", async () => {
    // Two API processes on the same database and Redis prefix, as a scaled-out deployment.
    const config = loadApiConfig({
      ...system.env,
      QUEUE_PREFIX: `${system.prefix}-shared`,
      PORT: "0",
      HOST: "127.0.0.1",
      RATE_LIMIT_PER_SECOND: "1",
      RATE_LIMIT_BURST: "6",
    });
    const second = await startApi(config, system.logger);
    const first = await startApi(config, system.logger);
    try {
      const [a, b] = [client(first.url), client(second.url)];
      const statuses: number[] = [];
      // Alternating between the two: 6 pass in the 6-second window, whichever process answers.
      for (let i = 0; i < 10; i++)
        statuses.push((await (i % 2 ? b : a).get("/api/v1/accounts/0190a3c2-0000-7000-8000-00000000abcd", { authorization: "" })).status);
      expect(statuses.filter((s) => s === 404)).toHaveLength(6);
      expect(statuses.slice(6)).toEqual([429, 429, 429, 429]);
    } finally {
      await Promise.all([first.close(), second.close()]);
      const redis = createRedis(system.env.REDIS_URL!, "worker");
      await clearRedisPrefix(redis, `${system.prefix}-shared`);
      await redis.quit();
    }
  });
});

describe("roles", () => {
  const CLIENT = "client-key-0123456789abcdef";
  const ADMIN = "admin-key-0123456789abcdef";
  const METRICS = "metrics-token-0123456789ab";
  let system: InProcessSystem;
  let api: ApiClient;
  beforeAll(async () => {
    system = await startInProcess("roles", { workers: 1, apiEnv: { API_KEYS: CLIENT, ADMIN_API_KEYS: ADMIN, METRICS_TOKEN: METRICS } });
    api = client(system.api.url);
  });
  afterAll(() => system.stop());

  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  it("lets a client key pay but not dispute, resolve or charge back (403 forbidden); an admin key may", async () => {
    const [payer, payee] = [(await api.post("/api/v1/accounts", {}, as(CLIENT))).body.id, (await api.post("/api/v1/accounts", {}, as(CLIENT))).body.id];
    const deposit = await api.post("/api/v1/deposits", { account_id: payer, amount: "10.00" }, as(CLIENT));
    expect(deposit.status).toBe(202);
    const payment = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "0.01" }, as(CLIENT));
    expect(payment.status).toBe(202);
    for (let i = 0; (await api.get(`/api/v1/payments/${payment.body.id}?wait=5`, as(CLIENT))).body.status === "pending" && i < 5; i++);
    const before = Number((await system.db.pool.query("SELECT count(*) AS n FROM payment_operations")).rows[0].n);
    for (const kind of ["dispute", "resolve", "chargeback"]) {
      const res = await api.post(`/api/v1/payments/${payment.body.id}/${kind}`, {}, as(CLIENT));
      expect([res.status, res.body.error.code]).toEqual([403, "forbidden"]);
    }
    expect(Number((await system.db.pool.query("SELECT count(*) AS n FROM payment_operations")).rows[0].n)).toBe(before);
    const dispute = await api.post(`/api/v1/payments/${payment.body.id}/dispute`, {}, as(ADMIN));
    expect(dispute.status).toBe(202);
    for (const action of ["freeze", "unfreeze"]) {
      const res = await api.post(`/api/v1/accounts/${payee}/${action}`, {}, as(CLIENT));
      expect([res.status, res.body.error.code]).toEqual([403, "forbidden"]);
    }
    expect((await api.get(`/api/v1/accounts/${payee}`, as(CLIENT))).body.status).toBe("active");
    // An admin key is also a client key.
    expect((await api.get(`/api/v1/accounts/${payer}`, as(ADMIN))).status).toBe(200);
  });

  it("states every route's role in the route table, and the app enforces exactly that", async () => {
    expect(ROUTES.every((r) => r.role !== undefined)).toBe(true);
    expect(
      ROUTES.filter((r) => r.role === "admin")
        .map((r) => r.path)
        .sort(),
    ).toEqual([
      "/api/v1/accounts/:id",
      "/api/v1/accounts/:id/freeze",
      "/api/v1/accounts/:id/unfreeze",
      "/api/v1/payments/:id/chargeback",
      "/api/v1/payments/:id/dispute",
      "/api/v1/payments/:id/resolve",
    ]);
    const unknownId = "0190a3c2-0000-7000-8000-000000000000";
    for (const route of ROUTES.filter((r) => r.role === "client" || r.role === "admin")) {
      const path = route.path.replace(/:id/g, unknownId);
      const call = (key: string) => api.call(route.method.toUpperCase(), path, route.method === "post" ? {} : undefined, as(key));
      const [byClient, byAdmin] = [await call(CLIENT), await call(ADMIN)];
      // Past authorization the answer is the route's own (404, 400, …), never 401 or 403.
      expect({ path, status: byAdmin.status === 401 || byAdmin.status === 403 }).toEqual({ path, status: false });
      expect({ path, status: byClient.status }).toEqual({ path, status: route.role === "admin" ? 403 : byAdmin.status });
    }
  });

  it("serves /metrics only with METRICS_TOKEN when it is set", async () => {
    expect((await api.get("/metrics")).status).toBe(401);
    expect((await api.get("/metrics", as(CLIENT))).status).toBe(401);
    const ok = await api.get("/metrics", as(METRICS));
    expect(ok.status).toBe(200);
    expect(String(ok.body)).toContain("settle_payments_accepted_total");
  });

  it("throttles an address after 10 failed authentications a minute (429), even with a right key then", async () => {
    for (let i = 0; i < 10; i++)
      expect((await api.get("/api/v1/accounts/0190a3c2-0000-7000-8000-000000000000", as(`wrong-key-${i}-0123456789`))).status).toBe(401);
    const limited = await api.get("/api/v1/accounts/0190a3c2-0000-7000-8000-000000000000", as(CLIENT));
    expect([limited.status, limited.body.error.code]).toEqual([429, "rate_limited"]);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await api.get("/healthz")).status).toBe(200);
  });
});
