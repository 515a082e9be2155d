// `pnpm verify` against a healthy ledger (exit 0), then against one corrupted behind the
// application's back (exit 1, naming each mismatch).
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { clearPrefix } from "./support/processes";
import { client, newAccount, settled } from "./support/http";

const ROOT = path.resolve(__dirname, "..");
const execFileAsync = promisify(execFile);

let system: InProcessSystem;
let accounts: string[];
let refused: string;

/** Runs scripts/verify.ts as `pnpm verify` does (tsx, source conditions), with its own environment. */
async function verify(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [require.resolve("tsx/cli", { paths: [ROOT] }), "--conditions=source", "scripts/verify.ts"],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", ...env },
        timeout: 30_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

beforeAll(async () => {
  system = await startInProcess("verify");
  const api = client(system.api.url);
  accounts = [await newAccount(api), await newAccount(api), await newAccount(api)];
  const ids: string[] = [];
  for (const account of accounts) ids.push((await api.post("/api/v1/deposits", { account_id: account, amount: "50.00" })).body.id);
  for (const id of ids) await settled(api, id);
  const more = [
    await api.post("/api/v1/payments", { from_account: accounts[0], to_account: accounts[1], amount: "20.00" }),
    await api.post("/api/v1/payments", { from_account: accounts[1], to_account: accounts[2], amount: "70.00" }),
    await api.post("/api/v1/payments", { from_account: accounts[2], to_account: accounts[0], amount: "500.00" }), // fails: insufficient funds
    await api.post("/api/v1/withdrawals", { account_id: accounts[2], amount: "5.25" }),
  ];
  for (const res of more) await settled(api, res.body.id);
  refused = more[2]!.body.id;
}, 60_000);
afterAll(async () => {
  await system.stop();
  await clearPrefix(system.env.REDIS_URL!, system.prefix);
});

it("exits 0 with a summary on a healthy ledger", async () => {
  const result = await verify({ DATABASE_URL: system.db.url });
  expect(result).toEqual({ code: 0, stdout: expect.stringContaining("verify: OK"), stderr: "" });
  expect(result.stdout).toMatch(/accounts: +3\n/);
  expect(result.stdout).toMatch(/journal entries: +8\n/);
  expect(result.stdout).toMatch(/payments: +7 \(completed 6, failed 1, pending 0\)/);
  expect(result.stdout).toMatch(/total balance: +144\.75\n/);
  // One line per invariant: the findings the tests assert on and the bench reports.
  for (const invariant of ["conservation", "no debit below zero", "journals verify", "failures justified", "nothing pending", "events match changes"]) {
    expect(result.stdout).toContain(`✓ ${invariant}: `);
  }
});

it("exits non-zero naming an insufficient_funds its payer's journal does not justify", async () => {
  // As if the refused payment had been for 1.00, which the payer could pay.
  await system.db.pool.query("UPDATE payments SET amount = 1.00 WHERE id = $1", [refused]);
  const result = await verify({ DATABASE_URL: system.db.url });
  expect(result.code).toBe(1);
  expect(result.stdout).toContain("✗ failures justified");
  expect(result.stderr).toContain(`failures justified: payment ${refused} failed insufficient_funds for 1.00 with 120.00 available before it`);
  await system.db.pool.query("UPDATE payments SET amount = 500.00 WHERE id = $1", [refused]);
  expect((await verify({ DATABASE_URL: system.db.url })).code).toBe(0);
});

it("exits non-zero naming an account row that differs from its journal", async () => {
  await system.db.pool.query("UPDATE accounts SET available = available + 1 WHERE id = $1", [accounts[1]]);
  const result = await verify({ DATABASE_URL: system.db.url });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`account ${accounts[1]}: row (available 1.00, held 0.00) differs from its journal's last entry (0.00, 0.00)`);
  expect(result.stderr).toMatch(/conservation: accounts hold 145\.75 but .* = 144\.75/);
  await system.db.pool.query("UPDATE accounts SET available = available - 1 WHERE id = $1", [accounts[1]]);
  expect((await verify({ DATABASE_URL: system.db.url })).code).toBe(0);
});

it("exits non-zero naming a change without its event and an event without its change", async () => {
  const { rows } = await system.db.pool.query<{ id: string }>("DELETE FROM events WHERE data->'payment'->>'id' = $1 RETURNING id", [refused]);
  expect(rows).toHaveLength(1);
  const ghost = "0193a0f4-0000-7abc-8def-0000000000ff";
  await system.db.pool.query("INSERT INTO events (id, type, data) VALUES (gen_random_uuid(), 'payment.completed', $1)", [
    JSON.stringify({ payment: { id: ghost } }),
  ]);
  const result = await verify({ DATABASE_URL: system.db.url });
  expect(result.code).toBe(1);
  expect(result.stdout).toContain("✗ events match changes");
  expect(result.stderr).toContain(`payment ${refused} (failed): payment events [], expected [payment.failed]`);
  expect(result.stderr).toContain(`event payment.completed names payment ${ghost}, which is missing`);
});

it("exits non-zero naming a journal entry changed behind the append-only trigger", async () => {
  const client = await system.db.pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("ALTER TABLE journal_entries DISABLE TRIGGER USER");
    await client.query(
      "UPDATE journal_entries SET amount = amount + 1, balance_after = balance_after + 1, available_after = available_after + 1 WHERE account_id = $1 AND seq = 1",
      [accounts[0]],
    );
    await client.query("ALTER TABLE journal_entries ENABLE TRIGGER USER");
    await client.query("COMMIT");
  } finally {
    client.release();
  }
  const result = await verify({ DATABASE_URL: system.db.url });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`account ${accounts[0]} entry 1: hash does not match sha256(prev_hash || entry)`);
  expect(result.stderr).toMatch(
    new RegExp(`payment [0-9a-f-]+ \\(deposit, completed\\): entries \\[credit:${accounts[0]}:51\\.00\\] but expected \\[credit:${accounts[0]}:50\\.00\\]`),
  );
});

it("stops with exit 2 naming a malformed DATABASE_URL", async () => {
  const result = await verify({ DATABASE_URL: "mysql://nope" });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("DATABASE_URL");
});
