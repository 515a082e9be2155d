import type { Pool, PoolClient } from "pg";
import { formatMoney, moneyFromDb, ZERO, type Money } from "../money";
import { appendEntry, type AccountState, type EntryType } from "./apply";
import { authorizationEntries } from "./authorizations";
import { disputeEntries } from "./disputes";
import { GENESIS_HASH } from "./journal-hash";
import type { JournalEntryRow, PaymentStatus } from "./ledger-repository";

/** The ledger's invariants (docs/ARCHITECTURE.md "Invariants"), as `verifyLedger` checks them. */
export type Invariant =
  "conservation" | "no debit below zero" | "journals verify" | "failures justified" | "nothing pending" | "events match changes" | "debits in acceptance order";

export interface Finding {
  invariant: Invariant;
  ok: boolean;
  /** One line for a person: what was checked and what was found. */
  detail: string;
  /** What breaks it, at most `maxProblems` in all (empty when ok). */
  problems: string[];
  /** Reported, never failed (see the detail). */
  informational?: boolean;
}

export interface VerificationReport {
  accounts: number;
  entries: number;
  payments: Record<PaymentStatus, number>;
  /** Operations on payments (dispute steps, captures, voids, expiries) queued and not yet applied. */
  pendingOperations: number;
  totalBalance: string;
  externalNet: string;
  /** One per invariant, in a fixed order: the one implementation tests, the bench and `pnpm verify` read. */
  findings: Finding[];
  /** Every failing finding's problems (what `ok` of all findings sums up). */
  problems: string[];
}

export interface VerifyOptions {
  /** Problems kept in all. @defaultValue 100 */
  maxProblems?: number;
  /**
   * The system is stopped or drained (after a test or a bench run): anything pending is a
   * problem. On a running system, pending work is normal and only counted. @defaultValue false
   */
  quiescent?: boolean;
}

const ENTRIES_PAGE = 5000;

// Rows as pg returns them: bigint and numeric as strings.
interface AccountRow {
  id: string;
  status: string;
  available: string;
  held: string;
  entry_count: string;
  last_hash: string;
}
interface PaymentRow {
  id: string;
  type: "transfer" | "deposit" | "withdrawal" | "refund";
  status: PaymentStatus;
  from_account: string | null;
  to_account: string | null;
  amount: string;
  dispute_status: "none" | "open" | "resolved" | "charged_back";
  capture: boolean;
  amount_captured: string | null;
  amount_disputed: string | null;
}

/**
 * Recomputes every account's journal (seq, hash chain, balances after each entry), compares the
 * chain's head with the account row, checks that each payment's entries match its outcome and
 * that money is conserved. Reads only; a problem is reported, never repaired.
 */
export async function verifyLedger(pool: Pool, options: VerifyOptions = {}): Promise<VerificationReport> {
  // One snapshot for every read: settlement may go on meanwhile without skewing the comparison.
  const client = await pool.connect();
  // A server going away mid-read must reject the query, not crash the process (see withTransaction).
  const ignore = () => undefined;
  client.on("error", ignore);
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    return await verifySnapshot(client, options.maxProblems ?? 100, options.quiescent ?? false);
  } finally {
    await client.query("ROLLBACK").catch(() => undefined);
    client.off("error", ignore);
    client.release();
  }
}

// Each insufficient_funds, replayed: the payer's available funds just before it (its journal in
// settle order: round time, then acceptance order within a round) were below the amount. A
// dispute step in the same round carries the disputed payment's sequence number, not its own:
// its place in that round is unknown, so such a payment is left out. That includes a chargeback's
// credit back to the payer of a transfer: a `credit` whose payment was settled at another time.
const UNJUSTIFIED_FAILURES = `
  WITH failed AS (
    SELECT p.id, p.from_account AS account, p.amount, p.processed_at, p.order_seq, a.overdraft_limit
      FROM payments p JOIN accounts a ON a.id = p.from_account
     WHERE p.status = 'failed' AND p.failure_reason = 'insufficient_funds'
       -- the overdraft limit in force at the failure is known only while it never changed
       AND NOT EXISTS (SELECT 1 FROM events ev WHERE ev.type = 'account.updated' AND (ev.data->'account'->>'id')::uuid = p.from_account)
  ), replayed AS (
    SELECT f.id, f.amount, f.overdraft_limit,
           coalesce((SELECT e.available_after
                       FROM journal_entries e
                       LEFT JOIN payments p ON p.id = e.payment_id
                      WHERE e.account_id = f.account
                        AND (e.created_at < f.processed_at OR (e.created_at = f.processed_at AND coalesce(p.order_seq, 0) < f.order_seq))
                      ORDER BY e.seq DESC LIMIT 1), 0) AS available_before
      FROM failed f
     WHERE NOT EXISTS (SELECT 1 FROM journal_entries d JOIN payments dp ON dp.id = d.payment_id
                        WHERE d.account_id = f.account AND d.created_at = f.processed_at
                          AND (d.type IN ('hold', 'release', 'chargeback', 'capture') OR dp.processed_at <> d.created_at))
  )
  SELECT id, amount::text AS amount, available_before::text AS available_before
    FROM replayed WHERE available_before + overdraft_limit >= amount`;

// order_seq is drawn when the INSERT runs, not when it commits: of two accepts of one account in
// flight together, the later-numbered may commit first and be settled first. That is a valid
// acceptance order (neither client could tell), so this count is reported, not failed; the order
// clients observed is checked by the tests, which know when each 202 arrived.
const DEBITS_OUT_OF_SEQUENCE = `
  SELECT count(*) AS n FROM (
    SELECT p.order_seq < lag(p.order_seq) OVER (PARTITION BY j.account_id ORDER BY j.seq) AS out_of_order
      FROM journal_entries j JOIN payments p ON p.id = j.payment_id
     WHERE j.type = 'debit') x
   WHERE out_of_order`;

// Every change since events began (migration 0007 records when) has its event, and every event
// its change: one payment.<status> event per settled payment — for an authorization,
// payment.authorized and then one of payment.captured, .voided or .expired — and as many dispute.*
// events on a payment as dispute operations applied to it. Changes older than the oldest event
// kept are left out: retention (EVENT_RETENTION_DAYS) deleted theirs.
const EVENT_MISMATCHES = `
  WITH since AS (
    SELECT greatest((SELECT value::timestamptz FROM settle_settings WHERE key = 'events_since'),
                    (SELECT min(created_at) FROM events)) AS at
  ), payment_events AS (
    SELECT (data->'payment'->>'id')::uuid AS payment_id, type FROM events WHERE type LIKE 'payment.%'
  ), dispute_events AS (
    SELECT (data->'payment'->>'id')::uuid AS payment_id, count(*) AS n FROM events WHERE type LIKE 'dispute.%' GROUP BY 1
  ), applied AS (
    SELECT payment_id, count(*) AS n FROM payment_operations, since
     WHERE status = 'applied' AND kind IN ('dispute', 'resolve', 'chargeback') AND processed_at >= since.at GROUP BY payment_id
  ), expected AS (
    SELECT p.id, p.status, CASE
             WHEN p.capture OR p.status = 'failed' THEN ARRAY['payment.' || p.status]
             WHEN p.status = 'authorized' THEN ARRAY['payment.authorized']
             WHEN p.status = 'completed' THEN ARRAY['payment.authorized', 'payment.captured']
             ELSE ARRAY['payment.authorized', 'payment.' || p.status]
           END AS types
      FROM payments p
  )
  SELECT 'payment ' || x.id || ' (' || x.status || '): payment events [' || coalesce(string_agg(e.type, ', ' ORDER BY e.type), '') || '], expected ['
         || array_to_string(x.types, ', ') || ']' AS problem
    FROM expected x JOIN payments p ON p.id = x.id CROSS JOIN since LEFT JOIN payment_events e ON e.payment_id = x.id
   WHERE x.status <> 'pending' AND p.processed_at >= since.at
   GROUP BY x.id, x.status, x.types
  HAVING coalesce(array_agg(e.type ORDER BY e.type) FILTER (WHERE e.type IS NOT NULL), '{}') <> (SELECT array_agg(t ORDER BY t) FROM unnest(x.types) t)
  UNION ALL
  SELECT 'event ' || e.type || ' names payment ' || e.payment_id || ', which is ' || coalesce(x.status, 'missing')
    FROM payment_events e LEFT JOIN expected x ON x.id = e.payment_id
   WHERE x.id IS NULL OR NOT (e.type = ANY (x.types))
  UNION ALL
  SELECT 'payment ' || coalesce(a.payment_id, d.payment_id) || ': ' || coalesce(a.n, 0) || ' dispute operations applied, ' || coalesce(d.n, 0) || ' dispute events'
    FROM applied a FULL JOIN dispute_events d ON d.payment_id = a.payment_id
   WHERE coalesce(a.n, 0) <> coalesce(d.n, 0)
     AND coalesce(a.payment_id, d.payment_id) IN (SELECT id FROM payments, since WHERE processed_at >= since.at)`;

async function verifySnapshot(db: PoolClient, maxProblems: number, quiescent: boolean): Promise<VerificationReport> {
  let kept = 0;
  const findings = new Map<Invariant, string[]>(
    (
      [
        "conservation",
        "no debit below zero",
        "journals verify",
        "failures justified",
        "nothing pending",
        "events match changes",
        "debits in acceptance order",
      ] as const
    ).map((i) => [i, []]),
  );
  const report = (message: string, invariant: Invariant = "journals verify") => {
    if (kept >= maxProblems) return;
    kept++;
    findings.get(invariant)!.push(message);
  };
  let negativeDebits = 0;

  const { rows: accountRows } = await db.query<AccountRow>("SELECT id, status, available, held, entry_count, last_hash FROM accounts ORDER BY id");
  let belowOverdraft = 0;
  const rowsById = new Map(accountRows.map((r) => [String(r.id), r]));
  const replay = new Map<string, AccountState>();
  let entryCount = 0;
  let cursor: { account: string; seq: string } = { account: "00000000-0000-0000-0000-000000000000", seq: "0" };
  const entriesByPayment = new Map<string, { account: string; type: EntryType; amount: string }[]>();

  for (;;) {
    const { rows } = await db.query<JournalEntryRow & { overdraft_limit: string }>(
      `SELECT account_id, seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at, overdraft_limit
         FROM journal_entries WHERE (account_id, seq) > ($1::uuid, $2::bigint) ORDER BY account_id, seq LIMIT $3`,
      [cursor.account, cursor.seq, ENTRIES_PAGE],
    );
    for (const e of rows) {
      entryCount++;
      const accountId = String(e.account_id);
      let state = replay.get(accountId);
      if (!state) {
        state = { id: accountId, status: "active", available: ZERO, held: ZERO, overdraftLimit: ZERO, entryCount: 0, lastHash: GENESIS_HASH };
        replay.set(accountId, state);
      }
      const where = `account ${accountId} entry ${e.seq}`;
      if (Number(e.seq) !== state.entryCount + 1) report(`${where}: seq gap (expected ${state.entryCount + 1})`);
      if (e.prev_hash !== state.lastHash) report(`${where}: prev_hash does not match the previous entry's hash`);
      state.entryCount = Number(e.seq) - 1;
      const expected = appendEntry(state, String(e.payment_id), e.type, moneyFromDb(e.amount), e.created_at);
      const stored = {
        balanceAfter: formatMoney(moneyFromDb(e.balance_after)),
        availableAfter: formatMoney(moneyFromDb(e.available_after)),
        heldAfter: formatMoney(moneyFromDb(e.held_after)),
      };
      if (stored.balanceAfter !== expected.balanceAfter || stored.availableAfter !== expected.availableAfter || stored.heldAfter !== expected.heldAfter) {
        report(`${where}: *_after columns ${JSON.stringify(stored)} differ from the replayed balances`);
      }
      // Replay continues from what is stored, so one bad entry is reported once, not for every later one.
      state.available = moneyFromDb(e.available_after);
      state.held = moneyFromDb(e.held_after);
      if (expected.hash !== e.hash) report(`${where}: hash does not match sha256(prev_hash || entry)`);
      // A debit (or an authorization's hold) may go below zero only within the overdraft limit it was written under.
      const floor = moneyFromDb(e.overdraft_limit).negated();
      if ((e.type === "debit" || e.type === "authorize") && state.available.lessThan(floor)) {
        negativeDebits++;
        report(`${where}: a ${e.type} left available at ${formatMoney(state.available)}, below ${formatMoney(floor)}`, "no debit below zero");
      } else if (e.type === "debit" && state.available.isNegative()) belowOverdraft++;
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
      report(
        `account ${id}: row (available ${formatMoney(available)}, held ${formatMoney(held)}) differs from its journal's last entry (${formatMoney(head.available)}, ${formatMoney(head.held)})`,
      );
    }
    if (Number(row.entry_count) !== head.entryCount) report(`account ${id}: entry_count ${row.entry_count} but the journal has ${head.entryCount} entries`);
    if (row.last_hash !== head.lastHash) report(`account ${id}: last_hash differs from its journal's last hash`);
  }
  for (const id of replay.keys()) if (!rowsById.has(id)) report(`journal entries for unknown account ${id}`);

  const counts: Record<PaymentStatus, number> = { completed: 0, failed: 0, pending: 0, authorized: 0, voided: 0, expired: 0 };
  let externalNet: Money = ZERO;
  const { rows: payments } = await db.query<PaymentRow>(
    "SELECT id, type, status, from_account, to_account, amount, dispute_status, capture, amount_captured, amount_disputed FROM payments",
  );
  for (const p of payments) {
    counts[p.status]++;
    const amount = formatMoney(moneyFromDb(p.amount));
    const got = (entriesByPayment.get(String(p.id)) ?? []).map((e) => `${e.type}:${e.account}:${e.amount}`).sort();
    let want: string[] = [];
    if (!p.capture) {
      // An authorization: its hold, then a capture (with the release of the rest) or a release.
      for (const e of authorizationEntries({
        status: p.status,
        fromAccount: p.from_account!,
        toAccount: p.to_account!,
        amount: moneyFromDb(p.amount),
        amountCaptured: p.amount_captured === null ? null : moneyFromDb(p.amount_captured),
      })) {
        want.push(`${e.type}:${e.account}:${formatMoney(e.amount)}`);
      }
    } else if (p.status === "completed") {
      // A payment, or a refund (from the original's receiver back to its payer, or out to the world).
      if (p.from_account !== null) want.push(`debit:${p.from_account}:${amount}`);
      if (p.to_account !== null) want.push(`credit:${p.to_account}:${amount}`);
      if (p.from_account === null) externalNet = externalNet.plus(p.amount);
      if (p.to_account === null) externalNet = externalNet.minus(p.amount);
    }
    // A dispute's steps are entries of the disputed payment: hold, then release or chargeback, of
    // what it held (amount_disputed).
    const disputed = formatMoney(moneyFromDb(p.amount_disputed ?? p.amount));
    for (const e of disputeEntries({ type: p.type, fromAccount: p.from_account, toAccount: p.to_account, disputeStatus: p.dispute_status })) {
      want.push(`${e.type}:${e.account}:${disputed}`);
    }
    // A charged-back deposit's money goes back to the outside world.
    if (p.dispute_status === "charged_back" && p.type !== "transfer") externalNet = externalNet.minus(disputed);
    want = want.sort();
    if (got.join() !== want.join()) report(`payment ${p.id} (${p.type}, ${p.status}): entries [${got.join(", ")}] but expected [${want.join(", ")}]`);
  }
  if (!total.equals(externalNet))
    report(
      `accounts hold ${formatMoney(total)} but completed deposits − withdrawals − refunds of deposits − charged-back deposits = ${formatMoney(externalNet)}`,
      "conservation",
    );

  const { rows: unjustified } = await db.query<{ id: string; amount: string; available_before: string }>(UNJUSTIFIED_FAILURES);
  for (const r of unjustified)
    report(
      `payment ${r.id} failed insufficient_funds for ${formatMoney(moneyFromDb(r.amount))} with ${formatMoney(moneyFromDb(r.available_before))} available before it`,
      "failures justified",
    );
  const { rows: operations } = await db.query<{ n: string }>("SELECT count(*) AS n FROM payment_operations WHERE status = 'pending'");
  const pendingOperations = Number(operations[0]!.n);
  if (quiescent && counts.pending + pendingOperations > 0)
    report(`${counts.pending} payments and ${pendingOperations} operations on payments still pending`, "nothing pending");
  const { rows: eventMismatches } = await db.query<{ problem: string }>(EVENT_MISMATCHES);
  for (const r of eventMismatches) report(r.problem, "events match changes");
  const { rows: sequence } = await db.query<{ n: string }>(DEBITS_OUT_OF_SEQUENCE);
  const outOfSequence = Number(sequence[0]!.n);

  const details: Record<Invariant, string> = {
    conservation: `accounts hold ${formatMoney(total)}; completed deposits − withdrawals − refunds of deposits − charged-back deposits = ${formatMoney(externalNet)}`,
    "no debit below zero": `${negativeDebits} of the journal's debits and authorizations left available below zero beyond the overdraft limit they were written under (a dispute hold may; a debit never); ${belowOverdraft} debits went below zero within an overdraft limit`,
    "journals verify": `${rowsById.size} accounts, ${entryCount} entries: seq without gaps, hash chains, *_after columns, account heads, each payment's entries`,
    "failures justified": `${counts.failed} failed payments; each insufficient_funds replayed against its payer's journal`,
    "nothing pending": `${counts.pending} payments and ${pendingOperations} operations on payments pending${quiescent ? "" : " (counted, not checked: the system may be running)"}`,
    "events match changes": `${eventMismatches.length} mismatches: each settled payment has one payment event of its status, an authorization payment.authorized and its capture, void or expiry event, each applied dispute operation its dispute event, each payment event its payment`,
    "debits in acceptance order": `${outOfSequence} debits journaled after a later-numbered debit of the same account (accepts in flight together may commit out of sequence order: reported, not failed)`,
  };
  const result: Finding[] = [...findings].map(([invariant, problems]) => ({
    invariant,
    ok: problems.length === 0,
    detail: details[invariant],
    problems,
    ...(invariant === "debits in acceptance order" ? { informational: true } : {}),
  }));
  return {
    accounts: rowsById.size,
    entries: entryCount,
    payments: counts,
    pendingOperations,
    totalBalance: formatMoney(total),
    externalNet: formatMoney(externalNet),
    findings: result,
    problems: result.flatMap((f) => f.problems),
  };
}
