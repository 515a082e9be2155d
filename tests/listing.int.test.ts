// Finding payments and accounts: filters, newest-first cursor paging over an account's payments
// (both sides), and refusals that state the rule.
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("listing", { workers: 1 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

/** Every page of a list, following `next_after`. */
async function allPages(path: string, key: "payments" | "accounts", limit: number): Promise<any[]> {
  const items: any[] = [];
  let after: string | null = null;
  for (let page = 0; page < 100; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const res: { status: number; body: any } = await api.get(`${path}${sep}limit=${limit}${after ? `&after=${after}` : ""}`);
    expect(res.status).toBe(200);
    expect(res.body[key].length).toBeLessThanOrEqual(limit);
    items.push(...res.body[key]);
    after = res.body.next_after;
    if (after === null) return items;
    expect(after).toBe(res.body[key][res.body[key].length - 1].id);
  }
  throw new Error("paging never ended");
}

const isDescending = (ids: string[]) => ids.every((id, i) => i === 0 || ids[i - 1]! > id);

describe("GET /api/v1/payments", () => {
  let a: string;
  let b: string;
  let c: string;
  const ofA: string[] = [];
  let failedId: string;
  let between: { from: string; to: string };

  beforeAll(async () => {
    [a, b, c] = [await newAccount(api), await newAccount(api), await newAccount(api)];
    const post = async (path: string, body: unknown) => {
      const res = await api.post(path, body);
      expect(res.status).toBe(202);
      return (await settled(api, res.body.id)) as { id: string; status: string; created_at: string };
    };
    ofA.push((await post("/api/v1/deposits", { account_id: a, amount: "10.00" })).id);
    ofA.push((await post("/api/v1/payments", { from_account: a, to_account: b, amount: "1.00" })).id);
    const middle = await post("/api/v1/payments", { from_account: b, to_account: a, amount: "0.50" });
    ofA.push(middle.id);
    between = { from: middle.created_at, to: middle.created_at };
    const failed = await post("/api/v1/payments", { from_account: a, to_account: c, amount: "999.00" });
    expect(failed.status).toBe("failed");
    failedId = failed.id;
    ofA.push(failed.id);
    ofA.push((await post("/api/v1/withdrawals", { account_id: a, amount: "2.00" })).id);
    // Not A's: must not appear under account_id=A.
    await post("/api/v1/deposits", { account_id: c, amount: "3.00" });
  });

  it("lists an account's payments, sent and received, newest first, across pages", async () => {
    const listed = await allPages(`/api/v1/payments?account_id=${a}`, "payments", 2);
    expect(listed.map((p) => p.id)).toEqual([...ofA].reverse());
    expect(isDescending(listed.map((p) => p.id))).toBe(true);
    expect(listed.every((p) => p.from_account === a || p.to_account === a)).toBe(true);
    // The same view of a payment as GET /payments/{id}.
    expect(listed[0]).toEqual((await api.get(`/api/v1/payments/${listed[0].id}`)).body);
  });

  it("filters by status, type and creation time; filters combine", async () => {
    const failed = await api.get(`/api/v1/payments?account_id=${a}&status=failed`);
    expect(failed.body).toEqual({ payments: [expect.objectContaining({ id: failedId, status: "failed" })], next_after: null });
    const deposits = await api.get(`/api/v1/payments?account_id=${a}&type=deposit`);
    expect(deposits.body.payments.map((p: any) => p.id)).toEqual([ofA[0]]);
    const window = await api.get(`/api/v1/payments?account_id=${a}&created_from=${between.from}&created_to=${between.to}`);
    expect(window.body.payments.map((p: any) => p.id)).toEqual([ofA[2]]);
    const transfersIn = await api.get(`/api/v1/payments?account_id=${b}&type=transfer&status=completed`);
    expect(transfersIn.body.payments.map((p: any) => p.id)).toEqual([ofA[2], ofA[1]]);
  });

  it("lists every payment without an account, newest first", async () => {
    const listed = await allPages("/api/v1/payments", "payments", 3);
    const { rows } = await system.db.pool.query("SELECT id::text FROM payments ORDER BY id DESC");
    expect(listed.map((p) => p.id)).toEqual(rows.map((r) => r.id));
  });

  it("answers an empty page for an account without payments, and for an unknown one", async () => {
    const fresh = await newAccount(api);
    for (const id of [fresh, "0190a3c2-0000-7000-8000-000000000000"]) {
      expect((await api.get(`/api/v1/payments?account_id=${id}`)).body).toEqual({ payments: [], next_after: null });
    }
  });
});

describe("GET /api/v1/accounts", () => {
  it("lists accounts by id across pages", async () => {
    const created = [await newAccount(api), await newAccount(api), await newAccount(api)];
    const listed = await allPages("/api/v1/accounts", "accounts", 2);
    const ids = listed.map((x) => x.id);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of created) expect(ids).toContain(id);
    const { rows } = await system.db.pool.query("SELECT count(*)::int AS n FROM accounts");
    expect(ids).toHaveLength(rows[0].n);
    expect(listed.find((x) => x.id === created[0])).toEqual((await api.get(`/api/v1/accounts/${created[0]}`)).body);
  });
});

describe("refusals state the rule", () => {
  it.each([
    ["/api/v1/payments?limit=0", "limit", "must be an integer from 1 to 500"],
    ["/api/v1/payments?limit=1000", "limit", "must be an integer from 1 to 500"],
    ["/api/v1/payments?limit=abc", "limit", "must be an integer from 1 to 500"],
    ["/api/v1/accounts?limit=501", "limit", "must be an integer from 1 to 500"],
    ["/api/v1/accounts/0190a3c2-0000-7000-8000-000000000000/entries?after=-1", "after", "must be an integer from 0 to 9007199254740991"],
    ["/api/v1/payments/0190a3c2-0000-7000-8000-000000000000?wait=31", "wait", "must be a whole number of seconds from 0 to 30"],
    ["/api/v1/payments?after=12", "after", "must be a UUID in canonical form"],
    ["/api/v1/payments?status=done", "status", "must be pending, completed, failed, authorized, voided or expired"],
    ["/api/v1/payments?created_from=yesterday", "created_from", "must be an ISO 8601 timestamp with a time zone, e.g. 2026-11-29T10:00:00Z"],
    ["/api/v1/payments?created_from=2026-11-29T10:00:00Z&created_to=2026-11-28T10:00:00Z", "created_from", "must not be after created_to"],
    ["/api/v1/payments?limt=10", "(query)", "unknown field(s): limt"],
  ])("%s → 400 naming %s", async (path, field, message) => {
    const res = await api.get(path);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details).toEqual([{ path: field, message }]);
  });
});
