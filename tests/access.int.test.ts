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
    for (const headers of [{} as Record<string, string>, { authorization: "Bearer wrong-key-0123456789" }, { authorization: `Basic ${KEY}` }, { authorization: `Bearer ${KEY}x` }]) {
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
});
