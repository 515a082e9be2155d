import { waitFor } from "@settle/core/testing";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;
let usd1: string;
let usd2: string;
let eur: string;

beforeAll(async () => {
  system = await startInProcess("badinput", { workers: 1 });
  api = client(system.api.url);
  [usd1, usd2, eur] = [await newAccount(api), await newAccount(api), await newAccount(api, "EUR")];
});
afterAll(() => system.stop());

async function writes(): Promise<string> {
  const { rows } = await system.db.pool.query(
    "SELECT (SELECT count(*) FROM accounts) AS a, (SELECT count(*) FROM payments) AS p, (SELECT count(*) FROM journal_entries) AS j, (SELECT count(*) FROM idempotency_keys) AS k, (SELECT count(*) FROM webhook_endpoints) AS w",
  );
  return JSON.stringify(rows[0]);
}

/** Sends a request and checks status, error code and the contract's error body, and that nothing was written. */
async function expectError(method: "GET" | "POST", path: string, body: unknown, status: number, code: string, headers: Record<string, string> = {}) {
  const before = await writes();
  const res = await api.call(method, path, body, headers);
  expect({ path, status: res.status, code: res.body?.error?.code }).toEqual({ path, status, code });
  expect(typeof res.body.error.message).toBe("string");
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+|SELECT|INSERT/);
  expect(await writes()).toBe(before);
  return res.body.error;
}

describe("amounts", () => {
  it.each([
    ["a JSON number", 5],
    ["exponent notation", "1e3"],
    ["a negative amount", "-5"],
    ["zero", "0"],
    ["three fraction digits", "0.001"],
    ["a leading space", " 5"],
    ["a trailing dot", "5."],
    ["NaN", "NaN"],
    ["16 integer digits", "1234567890123456"],
    ["null", null],
  ])("refuses %s with 400 invalid_request naming amount", async (_label, amount) => {
    const error = await expectError("POST", "/api/v1/payments", { from_account: usd1, to_account: usd2, amount }, 400, "invalid_request");
    expect(error.details.map((d: any) => d.path)).toContain("amount");
    await expectError("POST", "/api/v1/deposits", { account_id: usd1, amount }, 400, "invalid_request");
    await expectError("POST", "/api/v1/withdrawals", { account_id: usd1, amount }, 400, "invalid_request");
  });
});

describe("payment bodies", () => {
  it("refuses missing fields, bad ids, equal accounts, long descriptions and unknown fields", async () => {
    await expectError("POST", "/api/v1/payments", {}, 400, "invalid_request");
    await expectError("POST", "/api/v1/payments", { from_account: usd1, amount: "1.00" }, 400, "invalid_request");
    await expectError("POST", "/api/v1/payments", { from_account: "nope", to_account: usd2, amount: "1.00" }, 400, "invalid_request");
    const same = await expectError("POST", "/api/v1/payment", { from_account: usd1, to_account: usd1, amount: "1.00" }, 400, "invalid_request");
    expect(same.details[0].path).toBe("to_account");
    await expectError(
      "POST",
      "/api/v1/payments",
      { from_account: usd1, to_account: usd2, amount: "1.00", payment_description: "x".repeat(501) },
      400,
      "invalid_request",
    );
    const unknown = await expectError(
      "POST",
      "/api/v1/payments",
      { from_account: usd1, to_account: usd2, amount: "1.00", fee: "1.00" },
      400,
      "invalid_request",
    );
    expect(unknown.message).toMatch(/fee/);
    await expectError("POST", "/api/v1/payments", [], 400, "invalid_request");
    await expectError("POST", "/api/v1/payments", "null", 400, "invalid_json");
  });

  it("answers 422 for an unknown account and for a currency mismatch", async () => {
    const ghost = "0190a3c2-0000-7000-8000-0000000000aa";
    const missing = await expectError("POST", "/api/v1/payments", { from_account: usd1, to_account: ghost, amount: "1.00" }, 422, "account_not_found");
    expect(missing.details[0].path).toBe("to_account");
    await expectError("POST", "/api/v1/deposits", { account_id: ghost, amount: "1.00" }, 422, "account_not_found");
    await expectError("POST", "/api/v1/withdrawals", { account_id: ghost, amount: "1.00" }, 422, "account_not_found");
    await expectError("POST", "/api/v1/payments", { from_account: usd1, to_account: eur, amount: "1.00" }, 422, "currency_mismatch");
  });
});

describe("the HTTP envelope", () => {
  it("maps malformed JSON to 400 invalid_json, other media types to 415, big bodies to 413", async () => {
    await expectError("POST", "/api/v1/payments", '{"from_account": ', 400, "invalid_json");
    await expectError("POST", "/api/v1/payments", "amount=5", 415, "unsupported_media_type", { "content-type": "application/x-www-form-urlencoded" });
    await expectError(
      "POST",
      "/api/v1/payments",
      JSON.stringify({ from_account: usd1, to_account: usd2, amount: "1.00", payment_description: "x".repeat(17_000) }),
      413,
      "payload_too_large",
    );
  });

  it("404s unknown routes and ids that are not UUIDs", async () => {
    await expectError("GET", "/api/v1/nothing-here", undefined, 404, "not_found");
    await expectError("GET", "/api/v1/payments/12345", undefined, 404, "not_found");
    await expectError("GET", "/api/v1/payment/12345", undefined, 404, "not_found");
    await expectError("GET", "/api/v1/accounts/zzz", undefined, 404, "not_found");
    await expectError("GET", "/api/v1/accounts/zzz/entries", undefined, 404, "not_found");
    await expectError("GET", "/api/v1/accounts/0190a3c2-0000-7000-8000-0000000000ab", undefined, 404, "not_found");
    await expectError("GET", "/api/v1/payments/0190a3c2-0000-7000-8000-0000000000ab", undefined, 404, "not_found");
  });

  it("validates account creation and entry paging", async () => {
    await expectError("POST", "/api/v1/accounts", { currency: "usd" }, 400, "invalid_request");
    await expectError("POST", "/api/v1/accounts", { currency: "ABC" }, 400, "invalid_request");
    await expectError("POST", "/api/v1/accounts", { id: "not-a-uuid" }, 400, "invalid_request");
    await expectError("POST", "/api/v1/accounts", { id: usd1 }, 409, "account_exists");
    for (const q of ["limit=0", "limit=501", "limit=x", "after=-1"])
      await expectError("GET", `/api/v1/accounts/${usd1}/entries?${q}`, undefined, 400, "invalid_request");
  });

  it("keeps serving after all of the above", async () => {
    const res = await api.post("/api/v1/accounts", {});
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ currency: "USD", status: "active", balance: "0.00", available: "0.00", held: "0.00", entry_count: 0 });
    expect(res.headers.get("location")).toBe(`/api/v1/accounts/${res.body.id}`);
    expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe("characters PostgreSQL cannot store", () => {
  it("refuses U+0000 in a description with 400, on every endpoint and in a batch item alone", async () => {
    const nul = "before\u0000after";
    const error = await expectError(
      "POST",
      "/api/v1/payments",
      { from_account: usd1, to_account: usd2, amount: "1.00", payment_description: nul },
      400,
      "invalid_request",
    );
    expect(error.details).toEqual([{ path: "payment_description", message: "must not contain the character U+0000" }]);
    await expectError("POST", "/api/v1/deposits", { account_id: usd1, amount: "1.00", description: nul }, 400, "invalid_request");
    await expectError("POST", "/api/v1/withdrawals", { account_id: usd1, amount: "1.00", description: nul }, 400, "invalid_request");
    const batch = await api.post("/api/v1/payments/batch", {
      payments: [
        { type: "deposit", account_id: usd1, amount: "1.00", description: "fine" },
        { type: "deposit", account_id: usd1, amount: "1.00", description: nul },
      ],
    });
    expect(batch.body.results.map((r: { status: number }) => r.status)).toEqual([202, 400]);
    expect(batch.body.results[0].payment.payment_description).toBe("fine");
  });

  it("refuses an unpaired surrogate (stored, it would come back as U+FFFD), and stores a paired one exactly", async () => {
    // The batch above may still be settling: its journal entries are not this test's writes.
    await waitFor(async () => (await system.db.pool.query("SELECT 1 FROM payments WHERE status = 'pending' LIMIT 1")).rowCount === 0);
    // Raw JSON text with the escape as a client would send it.
    for (const lone of ["\\ud800", "x\\udfffy"]) {
      const error = await expectError("POST", "/api/v1/deposits", `{"account_id":"${usd1}","amount":"1.00","description":"${lone}"}`, 400, "invalid_request");
      expect(error.details).toEqual([{ path: "description", message: "must be well-formed Unicode (no unpaired surrogate such as \\ud800)" }]);
    }
    const emoji = "paid \u{1F4B8}";
    const ok = await api.post("/api/v1/deposits", { account_id: usd1, amount: "1.00", description: emoji });
    expect(ok.status).toBe(202);
    const stored = await system.db.pool.query("SELECT description FROM payments WHERE id = $1", [ok.body.id]);
    expect(stored.rows[0].description).toBe(emoji);
  });
});

describe("webhook URLs (WEBHOOK_ALLOW_INSECURE unset: https to public addresses only)", () => {
  // A payment accepted above may still be settling: its journal entries are not this section's writes.
  beforeAll(() =>
    waitFor(async () => (await system.db.pool.query("SELECT 1 FROM payments WHERE status = 'pending' LIMIT 1")).rowCount === 0, {
      timeoutMs: 15_000,
      what: "earlier payments to settle",
    }),
  );
  it.each([
    ["plain http", "http://example.com/hooks", "must use https"],
    ["a loopback address", "https://127.0.0.1/hooks", "must not point to a private, loopback or reserved address"],
    ["a private address", "https://10.1.2.3/hooks", "must not point to a private, loopback or reserved address"],
    ["a link-local address (cloud metadata)", "https://169.254.169.254/latest/meta-data", "must not point to a private, loopback or reserved address"],
    ["an IPv6 loopback", "https://[::1]/hooks", "must not point to a private, loopback or reserved address"],
    ["localhost", "https://localhost/hooks", "must not point to localhost"],
    ["credentials in the URL", "https://user:pw@example.com/hooks", "must not contain a username or password"],
  ])("refuses %s", async (_what, url, message) => {
    const error = await expectError("POST", "/api/v1/webhook-endpoints", { url, events: ["*"] }, 400, "invalid_request");
    expect(error.details).toEqual([{ path: "url", message }]);
  });
});
