import type { Pool, PoolClient } from "pg";
import { formatMoney, moneyFromDb, ZERO, type Money } from "../money";
import { appendEntry, type AccountState, type EntryType } from "./apply";
import { GENESIS_HASH } from "./journal-hash";

export interface VerificationReport {
  accounts: number;
  entries: number;
  payments: { completed: number; failed: number; pending: number };
  totalBalance: string;
  externalNet: string;
  problems: string[];
}

const ENTRIES_PAGE = 5000;

/**
 * Recomputes every account's journal (seq, hash chain, balances after each entry), compares the
 * chain's head with the account row, checks that each payment's entries match its outcome and
 * that money is conserved. Reads only; a problem is reported, never repaired.
 */
export async function verifyLedger(pool: Pool, options: { maxProblems?: number } = {}): Promise<VerificationReport> {
  // One snapshot for every read: settlement may go on meanwhile without skewing the comparison.
  const client = await pool.connect();
  // A server going away mid-read must reject the query, not crash the process (see withTransaction).
  const ignore = () => undefined;
  client.on("error", ignore);
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    return await verifySnapshot(client, options.maxProblems ?? 100);
  } finally {
    await client.query("ROLLBACK").catch(() => undefined);
    client.off("error", ignore);
    client.release();
  }
}

async function verifySnapshot(db: PoolClient, maxProblems: number): Promise<VerificationReport> {
  const problems: string[] = [];
  const report = (message: string) => {
    if (problems.length < maxProblems) problems.push(message);
  };

  const { rows: accountRows } = await db.query("SELECT id, status, available, held, entry_count, last_hash FROM accounts ORDER BY id");
  const rowsById = new Map(accountRows.map((r) => [String(r.id), r]));
  const replay = new Map<string, AccountState>();
  let entryCount = 0;
  let cursor: { account: string; seq: string } = { account: "00000000-0000-0000-0000-000000000000", seq: "0" };
  const entriesByPayment = new Map<string, { account: string; type: EntryType; amount: string }[]>();

  for (;;) {
    const { rows } = await db.query(
      `SELECT account_id, seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at
         FROM journal_entries WHERE (account_id, seq) > ($1::uuid, $2::bigint) ORDER BY account_id, seq LIMIT $3`,
      [cursor.account, cursor.seq, ENTRIES_PAGE],
    );
    for (const e of rows) {
      entryCount++;
      const accountId = String(e.account_id);
      let state = replay.get(accountId);
      if (!state) {
        state = { id: accountId, status: "active", available: ZERO, held: ZERO, entryCount: 0, lastHash: GENESIS_HASH };
        replay.set(accountId, state);
      }
      const where = `account ${accountId} entry ${e.seq}`;
      if (Number(e.seq) !== state.entryCount + 1) report(`${where}: seq gap (expected ${state.entryCount + 1})`);
      if (e.prev_hash !== state.lastHash) report(`${where}: prev_hash does not match the previous entry's hash`);
      state.entryCount = Number(e.seq) - 1;
      const expected = appendEntry(state, String(e.payment_id), e.type, moneyFromDb(e.amount), e.created_at);
      const stored = { balanceAfter: formatMoney(moneyFromDb(e.balance_after)), availableAfter: formatMoney(moneyFromDb(e.available_after)), heldAfter: formatMoney(moneyFromDb(e.held_after)) };
      if (stored.balanceAfter !== expected.balanceAfter || stored.availableAfter !== expected.availableAfter || stored.heldAfter !== expected.heldAfter) {
        report(`${where}: *_after columns ${JSON.stringify(stored)} differ from the replayed balances`);
      }
      // Replay continues from what is stored, so one bad entry is reported once, not for every later one.
      state.available = moneyFromDb(e.available_after);
      state.held = moneyFromDb(e.held_after);
      if (expected.hash !== e.hash) report(`${where}: hash does not match sha256(prev_hash || entry)`);
      state.lastHash = String(e.hash);
      const list = entriesByPayment.get(String(e.payment_id)) ?? [];
      list.push({ account: accountId, type: e.type, amount: formatMoney(moneyFromDb(e.amount)) });
      entriesByPayment.set(String(e.payment_id), list);
    }
    if (rows.length < ENTRIES_PAGE) break;
    const last = rows[rows.length - 1]!;
    cursor = { account: String(last.account_id), seq: String(last.seq) };
  }

  let total: Money = ZERO;
  for (const [id, row] of rowsById) {
    const available = moneyFromDb(row.available);
    const held = moneyFromDb(row.held);
    total = total.plus(available).plus(held);
    const state = replay.get(id);
    const head = state ?? { available: ZERO, held: ZERO, entryCount: 0, lastHash: GENESIS_HASH };
    if (!head.available.equals(available) || !head.held.equals(held)) {
      report(`account ${id}: row (available ${formatMoney(available)}, held ${formatMoney(held)}) differs from its journal's last entry (${formatMoney(head.available)}, ${formatMoney(head.held)})`);
    }
    if (Number(row.entry_count) !== head.entryCount) report(`account ${id}: entry_count ${row.entry_count} but the journal has ${head.entryCount} entries`);
    if (row.last_hash !== head.lastHash) report(`account ${id}: last_hash differs from its journal's last hash`);
  }
  for (const id of replay.keys()) if (!rowsById.has(id)) report(`journal entries for unknown account ${id}`);

  const counts = { completed: 0, failed: 0, pending: 0 };
  let externalNet: Money = ZERO;
  const { rows: payments } = await db.query("SELECT id, type, status, from_account, to_account, amount, dispute_status FROM payments");
  for (const p of payments) {
    counts[p.status as keyof typeof counts]++;
    const amount = formatMoney(moneyFromDb(p.amount));
    const got = (entriesByPayment.get(String(p.id)) ?? []).map((e) => `${e.type}:${e.account}:${e.amount}`).sort();
    let want: string[] = [];
    if (p.status === "completed") {
      if (p.type !== "deposit") want.push(`debit:${p.from_account}:${amount}`);
      if (p.type !== "withdrawal") want.push(`credit:${p.to_account}:${amount}`);
      if (p.type === "deposit") externalNet = externalNet.plus(p.amount);
      if (p.type === "withdrawal") externalNet = externalNet.minus(p.amount);
    }
    // A dispute's steps are entries of the disputed payment: hold, then release or chargeback.
    if (p.dispute_status !== "none") want.push(`hold:${p.to_account}:${amount}`);
    if (p.dispute_status === "resolved") want.push(`release:${p.to_account}:${amount}`);
    if (p.dispute_status === "charged_back") {
      want.push(`chargeback:${p.to_account}:${amount}`);
      if (p.type === "transfer") want.push(`credit:${p.from_account}:${amount}`);
      // A charged-back deposit's money goes back to the outside world.
      else externalNet = externalNet.minus(p.amount);
    }
    want = want.sort();
    if (got.join() !== want.join()) report(`payment ${p.id} (${p.type}, ${p.status}): entries [${got.join(", ")}] but expected [${want.join(", ")}]`);
  }
  if (!total.equals(externalNet)) report(`conservation: accounts hold ${formatMoney(total)} but completed deposits − withdrawals − charged-back deposits = ${formatMoney(externalNet)}`);

  return { accounts: rowsById.size, entries: entryCount, payments: counts, totalBalance: formatMoney(total), externalNet: formatMoney(externalNet), problems };
}
