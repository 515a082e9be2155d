// Balances at a moment (GET /api/v1/accounts/{id}/balance?at=) and the journal within a time
// window (GET /api/v1/accounts/{id}/entries?from=&to=): both read from the journal, checked
// against its running balances and against instants taken between settled payments.
import { MoneyDecimal, formatMoney } from "@settle/core";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("balance-at", { workers: 1 });
  api = client(system.api.url);
});
afterAll(() => system.stop());

const UNKNOWN = "0190a3c2-0000-7000-8000-000000000000";

interface Entry {
  seq: number;
  type: string;
  amount: string;
  balance_after: string;
  available_after: string;
  held_after: string;
  created_at: string;
}

const balanceAt = (account: string, at: string) => api.get(`/api/v1/accounts/${account}/balance?at=${encodeURIComponent(at)}`);

async function journal(account: string): Promise<Entry[]> {
  const res = await api.get(`/api/v1/accounts/${account}/entries?limit=500`);
  expect(res.status).toBe(200);
  return res.body.entries;
}

/** Every page of the journal under `query`, following `next_after`. */
async function allPages(account: string, query: string, limit: number): Promise<Entry[]> {
  const entries: Entry[] = [];
  let after: number | null = 0;
  for (let page = 0; page < 100; page++) {
    const res: { status: number; body: any } = await api.get(`/api/v1/accounts/${account}/entries?${query}&limit=${limit}&after=${after}`);
    expect(res.status).toBe(200);
    expect(res.body.entries.length).toBeLessThanOrEqual(limit);
    entries.push(...res.body.entries);
    after = res.body.next_after;
    if (after === null) return entries;
    expect(after).toBe(res.body.entries[res.body.entries.length - 1].seq);
  }
  throw new Error("paging never ended");
}

/** What the balance at `at` must be: the balances after the last entry at or before it, by the journal. */
function expectedAt(account: string, entries: Entry[], at: string) {
  const upTo = entries.filter((e) => Date.parse(e.created_at) <= Date.parse(at));
  const last = upTo[upTo.length - 1];
  return {
    account_id: account,
    at: new Date(Date.parse(at)).toISOString(),
    balance: last?.balance_after ?? "0.00",
    available: last?.available_after ?? "0.00",
    held: last?.held_after ?? "0.00",
    seq: last?.seq ?? 0,
  };
}

describe("balances at a moment", () => {
  let a: string;
  let b: string;
  let entries: Entry[];
  /** Instants taken after each settled step, before the next one was sent, with A's balances then. */
  const checkpoints: { at: string; balance: string; available: string; held: string; seq: number }[] = [];
  let beforeFirst: string;

  beforeAll(async () => {
    [a, b] = [await newAccount(api), await newAccount(api)];
    await new Promise((r) => setTimeout(r, 5));
    beforeFirst = new Date().toISOString();
    const checkpoint = async () => {
      const account = (await api.get(`/api/v1/accounts/${a}`)).body;
      // A millisecond later than anything settled so far, so "at or before" cannot hinge on a tie.
      await new Promise((r) => setTimeout(r, 2));
      checkpoints.push({ at: new Date().toISOString(), balance: account.balance, available: account.available, held: account.held, seq: account.entry_count });
      await new Promise((r) => setTimeout(r, 2));
    };
    const post = async (path: string, body: unknown) => {
      const res = await api.post(path, body);
      expect(res.status).toBe(202);
      const payment = await settled(api, res.body.id);
      await checkpoint();
      return payment;
    };
    await post("/api/v1/deposits", { account_id: a, amount: "100.00" });
    await post("/api/v1/payments", { from_account: a, to_account: b, amount: "30.25" });
    await post("/api/v1/deposits", { account_id: a, amount: "0.10" });
    const failed = await post("/api/v1/payments", { from_account: a, to_account: b, amount: "1000.00" });
    expect(failed.status).toBe("failed");
    await post("/api/v1/deposits", { account_id: b, amount: "12345678901204.31" });
    await post("/api/v1/payments", { from_account: b, to_account: a, amount: "12345678901234.56" });
    await post("/api/v1/withdrawals", { account_id: a, amount: "0.01" });
    entries = await journal(a);
  });

  it("equals the journal's running balances at every instant between settled payments", async () => {
    // The journal itself: each entry's balances are the previous ones moved by its amount.
    let available = new MoneyDecimal(0);
    const held = new MoneyDecimal(0);
    for (const e of entries) {
      const amount = new MoneyDecimal(e.amount);
      if (e.type === "credit") available = available.plus(amount);
      else if (e.type === "debit") available = available.minus(amount);
      else throw new Error(`unexpected entry type ${e.type}`);
      expect([e.available_after, e.held_after, e.balance_after]).toEqual([formatMoney(available), formatMoney(held), formatMoney(available.plus(held))]);
    }
    expect(entries.map((e) => e.type)).toEqual(["credit", "debit", "credit", "credit", "debit"]);
    expect(checkpoints.map((c) => c.seq)).toEqual([1, 2, 3, 3, 3, 4, 5]);

    for (const c of checkpoints) {
      const res = await balanceAt(a, c.at);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ account_id: a, at: c.at, balance: c.balance, available: c.available, held: c.held, seq: c.seq });
      expect(res.body).toEqual(expectedAt(a, entries, c.at));
    }
    // The last one is the account as it stands, exact beyond what a JS number holds.
    expect((await balanceAt(a, checkpoints[checkpoints.length - 1]!.at)).body).toMatchObject({
      balance: "12345678901304.40",
      available: "12345678901304.40",
      held: "0.00",
    });
  });

  it("counts an entry created exactly at `at`, and not one a millisecond later", async () => {
    for (const e of entries) {
      const exactly = (await balanceAt(a, e.created_at)).body;
      expect(exactly).toEqual(expectedAt(a, entries, e.created_at));
      expect(exactly.seq).toBeGreaterThanOrEqual(e.seq);
      const before = new Date(Date.parse(e.created_at) - 1).toISOString();
      expect((await balanceAt(a, before)).body).toEqual(expectedAt(a, entries, before));
      expect((await balanceAt(a, before)).body.seq).toBeLessThan(e.seq);
    }
  });

  it("answers zeros and seq 0 before the first entry, and for an account without entries", async () => {
    for (const at of [beforeFirst, "2000-01-01T00:00:00Z", "0001-01-01T00:00:00Z"]) {
      const res = await balanceAt(a, at);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ account_id: a, at: new Date(Date.parse(at)).toISOString(), balance: "0.00", available: "0.00", held: "0.00", seq: 0 });
    }
    const fresh = await newAccount(api);
    expect((await balanceAt(fresh, new Date().toISOString())).body).toMatchObject({ balance: "0.00", available: "0.00", held: "0.00", seq: 0 });
  });

  it("takes any zone and fraction, and echoes the instant in UTC to the millisecond", async () => {
    const last = entries[entries.length - 1]!;
    const ms = Date.parse(last.created_at);
    // The same instant written at +02:00 with microseconds: the last entry counts.
    const local = new Date(ms + 2 * 3_600_000).toISOString().replace(/\.(\d{3})Z$/, ".$1999+02:00");
    const res = await balanceAt(a, local);
    expect(res.body).toMatchObject({ at: last.created_at, seq: last.seq, balance: last.balance_after });
    // Upper-case id in the path: the account is found, and named in PostgreSQL's (lower-case) form.
    expect((await balanceAt(a.toUpperCase(), local)).body.account_id).toBe(a);
  });

  it("filters the journal by created_at, both ends inclusive, across pages", async () => {
    const [from, to] = [entries[1]!.created_at, entries[3]!.created_at];
    const inWindow = entries.filter((e) => Date.parse(e.created_at) >= Date.parse(from) && Date.parse(e.created_at) <= Date.parse(to));
    expect(inWindow.map((e) => e.seq)).toEqual([2, 3, 4]);
    for (const limit of [1, 2, 3, 500]) expect(await allPages(a, `from=${from}&to=${to}`, limit)).toEqual(inWindow);
    // Each end alone.
    expect((await allPages(a, `from=${from}`, 2)).map((e) => e.seq)).toEqual([2, 3, 4, 5]);
    expect((await allPages(a, `to=${to}`, 2)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    // Combined with a cursor: entries after seq 3 within the window.
    const afterThree = await api.get(`/api/v1/accounts/${a}/entries?from=${from}&to=${to}&after=3`);
    expect(afterThree.body).toEqual({ entries: inWindow.filter((e) => e.seq > 3), next_after: null });
    // A full page names its last seq; the answer's entries are those of the unfiltered journal.
    const first = await api.get(`/api/v1/accounts/${a}/entries?from=${encodeURIComponent(from)}&limit=2`);
    expect(first.body).toEqual({ entries: entries.slice(1, 3), next_after: 3 });
    // A window before the first entry, and one of a single instant.
    expect((await api.get(`/api/v1/accounts/${a}/entries?to=2000-01-01T00:00:00Z`)).body).toEqual({ entries: [], next_after: null });
    const one = entries[0]!.created_at;
    expect((await api.get(`/api/v1/accounts/${a}/entries?from=${one}&to=${one}`)).body.entries).toEqual(entries.filter((e) => e.created_at === one));
    // Without filters, the journal as before.
    expect((await api.get(`/api/v1/accounts/${a}/entries?after=4&limit=1`)).body).toEqual({ entries: [entries[4]], next_after: 5 });
  });
});

describe("refusals", () => {
  let account: string;
  beforeAll(async () => {
    account = await newAccount(api);
  });

  const AT_RULE = "is required and must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-29T10:00:00Z";
  const TIME_RULE = "must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-29T10:00:00Z";

  it.each([
    ["balance", "", "at", AT_RULE],
    ["balance", "?at=", "at", AT_RULE],
    ["balance", "?at=yesterday", "at", AT_RULE],
    ["balance", "?at=2026-11-29T10:00:00", "at", AT_RULE],
    ["balance", "?at=2026-11-29", "at", AT_RULE],
    ["balance", "?at=2026-02-30T10:00:00Z", "at", AT_RULE],
    ["balance", "?at=1795946400000", "at", AT_RULE],
    ["balance", "?at=2026-11-29T10:00:00Z&at=2026-11-29T11:00:00Z", "at", AT_RULE],
    ["balance", "?at=0000-12-31T23:00:00Z", "at", "must not be before 0001-01-01T00:00:00Z"],
    ["balance", "?at=2026-11-29T10:00:00Z&limit=1", "(query)", "unknown field(s): limit"],
    ["balance", "?time=2026-11-29T10:00:00Z", "at", AT_RULE],
    ["entries", "?from=yesterday", "from", TIME_RULE],
    ["entries", "?to=2026-11-29T10:00:00", "to", TIME_RULE],
    ["entries", "?from=2026-11-29T10:00:00Z&to=2026-11-28T10:00:00Z", "from", "must not be after to"],
    ["entries", "?from=2026-11-29T10:00:00.001Z&to=2026-11-29T10:00:00Z", "from", "must not be after to"],
    ["entries", "?from=2026-11-29T10:00:00Z&frm=1", "(query)", "unknown field(s): frm"],
  ])("GET %s%s → 400 naming %s", async (route, query, field, message) => {
    const res = await api.get(`/api/v1/accounts/${account}/${route}${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details).toContainEqual({ path: field, message });
  });

  it("refuses an unknown field alongside a missing at with both details", async () => {
    const res = await api.get(`/api/v1/accounts/${account}/balance?time=2026-11-29T10:00:00Z`);
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { path: "at", message: AT_RULE },
        { path: "(query)", message: "unknown field(s): time" },
      ]),
    );
  });

  it("accepts from equal to to", async () => {
    const res = await api.get(`/api/v1/accounts/${account}/entries?from=2026-11-29T10:00:00Z&to=2026-11-29T12:00:00%2B02:00`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ entries: [], next_after: null });
  });

  it.each([
    ["an unknown account", `/api/v1/accounts/${UNKNOWN}/balance?at=2026-11-29T10:00:00Z`],
    ["an id that is not a UUID", "/api/v1/accounts/not-a-uuid/balance?at=2026-11-29T10:00:00Z"],
    ["an unknown account, filtered entries", `/api/v1/accounts/${UNKNOWN}/entries?from=2026-11-29T10:00:00Z`],
  ])("answers 404 not_found for %s", async (_label, path) => {
    const res = await api.get(path);
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: "not_found", message: "account not found" });
  });
});
