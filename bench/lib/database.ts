import { createPool, migrate, verifyLedger, type Pool } from "@settle/core";

/** The URL of database `name` on the server of `baseUrl`. */
export function databaseUrl(baseUrl: string, name: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops (forcing out stale sessions of an earlier, interrupted run) and recreates a bench database. */
export async function recreateDatabase(baseUrl: string, name: string, options: { migrate: boolean }): Promise<string> {
  if (!/^settle_bench[a-z_]*$/.test(name)) throw new Error(`refusing to drop ${name}: bench databases are named settle_bench*`);
  const admin = createPool({ url: databaseUrl(baseUrl, "postgres"), max: 1, applicationName: "settle-bench" });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(baseUrl, name);
  if (options.migrate) await migrate(url);
  return url;
}

export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  if (!/^settle_bench[a-z_]*$/.test(name)) return;
  const admin = createPool({ url: databaseUrl(baseUrl, "postgres"), max: 1, applicationName: "settle-bench" });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * The invariants of ARCHITECTURE.md, checked after a run: conservation, no negative available
 * through a debit, nothing pending, per-account debit order, and the full journal verification.
 */
export async function checkSettleInvariants(pool: Pool, options: { disputes: boolean }): Promise<InvariantResult[]> {
  const results: InvariantResult[] = [];
  const { rows: cons } = await pool.query(`
    SELECT (SELECT coalesce(sum(available + held), 0) FROM accounts) AS held_by_accounts,
           (SELECT coalesce(sum(CASE type WHEN 'deposit' THEN amount WHEN 'withdrawal' THEN -amount END), 0)
              FROM payments WHERE status = 'completed' AND type IN ('deposit', 'withdrawal')) AS external_net`);
  const c = cons[0]!;
  const { rows: eq } = await pool.query("SELECT $1::numeric = $2::numeric AS equal", [c.held_by_accounts, c.external_net]);
  results.push({
    name: "conservation",
    ok: eq[0]!.equal === true,
    detail: `accounts hold ${c.held_by_accounts}; completed deposits − withdrawals = ${c.external_net}`,
  });

  const { rows: neg } = await pool.query(`
    SELECT (SELECT count(*) FROM accounts WHERE available < 0) AS negative_accounts,
           (SELECT count(*) FROM journal_entries WHERE type = 'debit' AND available_after < 0) AS negative_debits`);
  const negativeAccounts = Number(neg[0]!.negative_accounts);
  const negativeDebits = Number(neg[0]!.negative_debits);
  // A dispute hold may take available below zero (API.md); a transfer or withdrawal never may.
  results.push({
    name: "no negative available",
    ok: negativeDebits === 0 && (options.disputes || negativeAccounts === 0),
    detail: `${negativeDebits} debit entries below zero; ${negativeAccounts} accounts below zero${options.disputes ? " (dispute holds may do that)" : ""}`,
  });

  const { rows: pend } = await pool.query("SELECT count(*) AS n FROM payments WHERE status = 'pending'");
  const pending = Number(pend[0]!.n);
  results.push({ name: "nothing left pending", ok: pending === 0, detail: `${pending} pending` });

  // Each account's debits must be journaled in acceptance (order_seq) order.
  const { rows: order } = await pool.query(`
    SELECT count(*) AS n FROM (
      SELECT p.order_seq < lag(p.order_seq) OVER (PARTITION BY j.account_id ORDER BY j.seq) AS out_of_order
        FROM journal_entries j JOIN payments p ON p.id = j.payment_id
       WHERE j.type = 'debit') x
     WHERE out_of_order`);
  const outOfOrder = Number(order[0]!.n);
  // order_seq is drawn when the INSERT runs, not when it commits: of two accepts of one account in
  // flight together, the later-numbered may commit first and be settled first. That is a valid
  // acceptance order (neither client could tell), so this count is reported, not failed; the
  // driver's check of the order clients observed is the invariant.
  results.push({ name: "debits in order_seq order (informational)", ok: true, detail: `${outOfOrder} debits journaled after a later-numbered debit of the same account (concurrent accepts committing out of sequence order)` });

  const started = Date.now();
  const report = await verifyLedger(pool, { maxProblems: 20 });
  results.push({
    name: "verifyLedger",
    ok: report.problems.length === 0,
    detail:
      report.problems.length === 0
        ? `clean: ${report.accounts} accounts, ${report.entries} entries, ${report.payments.completed} completed, ${report.payments.failed} failed (${Date.now() - started} ms)`
        : report.problems.slice(0, 5).join("; "),
  });
  return results;
}
