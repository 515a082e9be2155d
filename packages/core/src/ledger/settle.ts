import type { Pool } from "pg";
import { isTransientDbError, withTransaction } from "../db/pool";
import { accountStatusEvent, eventColumns, insertEventsSql, type NewEvent } from "../events/events";
import { moneyFromDb } from "../money";
import type { AccountState, AccountStatus, JournalEntry } from "./apply";
import {
  rejectDisputeAsInternalError,
  rejectionReason,
  settleDispute,
  type DisputedPaymentRow,
  type DisputeKind,
  type LockedDisputeRow,
  type SettledDispute,
} from "./disputes";
import { toAccountView } from "./ledger-repository";
import { failPaymentAsInternalError, settlePayment, type LockedPaymentRow, type PaymentType, type SettledPayment } from "./payments";

/** The channel on which every settled payment and applied dispute is announced (ids, comma-separated). */
export const SETTLE_EVENTS_CHANNEL = "settle_events";

/** Ids per notification: 200 × 37 bytes stays under PostgreSQL's 8,000-byte payload limit. */
const NOTIFY_IDS_PER_PAYLOAD = 200;

export interface SettleResult {
  payments: SettledPayment[];
  disputes: SettledDispute[];
}

// Locks everything one batch needs, in one round trip and in a fixed order: the oldest pending
// payments of the partitions (acceptance order), their oldest pending dispute operations, the
// payments those target (id order), then every account involved, in ascending id order (the sort
// runs below the row locks), so two settle transactions never wait on each other in a cycle.
// The row locks and the `pending` re-check are the fence that makes a duplicate job, or a second
// worker on the partition after a lost lease, a no-op: what is settled is no longer selected.
// NO KEY UPDATE leaves the FOR KEY SHARE lock of a concurrent payment insert unblocked.
const LOCK_BATCH = `
  WITH payments_due AS (
    SELECT id, partition, type, from_account, to_account, amount, order_seq, created_at, request_id, currency, description, dispute_status
      FROM payments
     WHERE partition = ANY($1::int[]) AND status = 'pending'
     ORDER BY order_seq
     LIMIT $2
       FOR NO KEY UPDATE
  ), disputes_due AS (
    SELECT id, partition, kind, payment_id, order_seq
      FROM dispute_operations
     WHERE partition = ANY($1::int[]) AND status = 'pending'
     ORDER BY order_seq
     LIMIT $2
       FOR NO KEY UPDATE
  ), disputed AS (
    SELECT id, type, status, from_account, to_account, amount, dispute_status, currency, description, failure_reason, created_at, processed_at
      FROM payments
     WHERE id IN (SELECT payment_id FROM disputes_due)
     ORDER BY id
       FOR NO KEY UPDATE
  ), accounts_locked AS (
    SELECT id, status, available, held, entry_count, last_hash, currency, created_at
      FROM accounts
     WHERE id IN (SELECT from_account FROM payments_due UNION SELECT to_account FROM payments_due
                  UNION SELECT from_account FROM disputed UNION SELECT to_account FROM disputed)
     ORDER BY id
       FOR NO KEY UPDATE
  )
  SELECT 'payment' AS row_kind, id, partition, type, NULL AS status, from_account, to_account, amount, order_seq, created_at, request_id,
         NULL AS kind, NULL::uuid AS payment_id, dispute_status, NULL::numeric AS available, NULL::numeric AS held,
         NULL::bigint AS entry_count, NULL AS last_hash, currency, description, NULL AS failure_reason, NULL::timestamptz AS processed_at
    FROM payments_due
  UNION ALL
  SELECT 'dispute', id, partition, NULL, NULL, NULL, NULL, NULL, order_seq, NULL, NULL, kind, payment_id, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL
    FROM disputes_due
  UNION ALL
  SELECT 'disputed', id, NULL, type, status, from_account, to_account, amount, NULL, created_at, NULL, NULL, NULL, dispute_status, NULL, NULL, NULL, NULL,
         currency, description, failure_reason, processed_at
    FROM disputed
  UNION ALL
  SELECT 'account', id, NULL, NULL, status, NULL, NULL, NULL, NULL, created_at, NULL, NULL, NULL, NULL, available, held, entry_count, last_hash,
         currency, NULL, NULL, NULL
    FROM accounts_locked`;

// Writes the whole batch in one round trip: journal entries, new account heads, payment results,
// dispute results, the events reporting them; then announces the touched payments (delivered at
// COMMIT) for long polls.
const WRITE_BATCH = `
  WITH entries AS (
    INSERT INTO journal_entries
      (account_id, seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at)
    SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::numeric[], $6::numeric[],
                         $7::numeric[], $8::numeric[], $9::text[], $10::text[], $11::timestamptz[])
  ), heads AS (
    UPDATE accounts a
       SET available = v.available, held = v.held, entry_count = v.entry_count, last_hash = v.last_hash, status = v.status
      FROM unnest($12::uuid[], $13::numeric[], $14::numeric[], $15::bigint[], $16::text[], $17::text[])
           AS v(id, available, held, entry_count, last_hash, status)
     WHERE a.id = v.id
  ), settled AS (
    UPDATE payments p
       SET status = v.status, failure_reason = v.failure_reason, processed_at = $18
      FROM unnest($19::uuid[], $20::text[], $21::text[]) AS v(id, status, failure_reason)
     WHERE p.id = v.id
    RETURNING p.id
  ), disputed AS (
    UPDATE payments p
       SET dispute_status = v.dispute_status
      FROM unnest($22::uuid[], $23::text[]) AS v(id, dispute_status)
     WHERE p.id = v.id
  ), operations AS (
    UPDATE dispute_operations d
       SET status = v.status, rejection_reason = v.rejection_reason, processed_at = $18
      FROM unnest($24::uuid[], $25::text[], $26::text[]) AS v(id, status, rejection_reason)
     WHERE d.id = v.id
    RETURNING d.payment_id AS id
  ), written_events AS (
    ${insertEventsSql(27)}
  )
  -- PostgreSQL refuses a payload over 8,000 bytes: one notification per ${NOTIFY_IDS_PER_PAYLOAD} ids (37 bytes each).
  SELECT pg_notify('${SETTLE_EVENTS_CHANNEL}', string_agg(id::text, ','))
    FROM (SELECT id, (row_number() OVER () - 1) / ${NOTIFY_IDS_PER_PAYLOAD} AS chunk
            FROM (SELECT id FROM settled UNION SELECT id FROM operations) touched) numbered
   GROUP BY chunk`;

// The rows LOCK_BATCH returns, one shape per `row_kind` (pg gives bigint and numeric as strings);
// payments.ts and disputes.ts own the shapes their settle steps read.
interface LockedAccountRow {
  id: string;
  status: AccountStatus;
  available: string;
  held: string;
  entry_count: string;
  last_hash: string;
  currency: string;
  created_at: Date;
}
type LockedRow =
  | ({ row_kind: "payment" } & LockedPaymentRow)
  | ({ row_kind: "dispute" } & LockedDisputeRow)
  | ({ row_kind: "disputed" } & DisputedPaymentRow)
  | ({ row_kind: "account" } & LockedAccountRow);

type Work = { kind: "payment"; row: LockedPaymentRow; orderSeq: bigint } | { kind: "dispute"; row: LockedDisputeRow; orderSeq: bigint };

function toAccountState(r: LockedAccountRow): AccountState {
  return {
    id: String(r.id),
    status: r.status,
    available: moneyFromDb(r.available),
    held: moneyFromDb(r.held),
    entryCount: Number(r.entry_count),
    lastHash: String(r.last_hash),
  };
}

/**
 * Settles up to `limit` of the oldest pending operations (payments and dispute operations) of the
 * given partitions, in acceptance order, in one PostgreSQL transaction: balances, journal entries
 * and statuses commit together or not at all. Each account's operations come from one partition,
 * so settling several partitions together keeps every account's order.
 */
export async function settleBatch(pool: Pool, partitions: readonly number[], limit: number): Promise<SettleResult> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<LockedRow>({ name: "settle-lock-batch", text: LOCK_BATCH, values: [partitions, limit] });
    const work: Work[] = [];
    const disputed = new Map<string, DisputedPaymentRow>();
    const accounts = new Map<string, AccountState>();
    const accountRows = new Map<string, LockedAccountRow>();
    for (const row of rows) {
      if (row.row_kind === "payment") work.push({ kind: "payment", row, orderSeq: BigInt(row.order_seq) });
      else if (row.row_kind === "dispute") work.push({ kind: "dispute", row, orderSeq: BigInt(row.order_seq) });
      else if (row.row_kind === "disputed") disputed.set(String(row.id), row);
      else {
        accounts.set(String(row.id), toAccountState(row));
        accountRows.set(String(row.id), row);
      }
    }
    work.sort((a, b) => (a.orderSeq < b.orderSeq ? -1 : 1));
    work.splice(limit);
    if (work.length === 0) return { payments: [], disputes: [] };
    const disputedIds = [...new Set(work.flatMap((w) => (w.kind === "dispute" ? [String(w.row.payment_id)] : [])))].sort();
    const before = new Map([...accounts].map(([id, a]) => [id, { entryCount: a.entryCount, status: a.status }]));

    const now = new Date();
    const entries: JournalEntry[] = [];
    const payments: SettledPayment[] = [];
    const disputes: SettledDispute[] = [];
    const events: NewEvent[] = [];
    // Decide: each operation in acceptance order, by the rules of its kind, against the account
    // states (and dispute statuses) the earlier ones of this round left.
    for (const w of work) {
      if (w.kind === "payment") {
        const step = settlePayment(accounts, w.row, now);
        entries.push(...step.entries);
        payments.push(step.settled);
        events.push(step.event);
      } else {
        const step = settleDispute(accounts, w.row, disputed.get(String(w.row.payment_id))!, now);
        entries.push(...step.entries);
        disputes.push(step.settled);
        if (step.event) events.push(step.event);
      }
    }
    const changed = [...accounts.values()].filter((a) => a.entryCount !== before.get(a.id)?.entryCount || a.status !== before.get(a.id)?.status);
    const disputedChanged = disputedIds.map((id) => disputed.get(id)!);
    // A chargeback freezes the receiving account: that is a change of its own, with its event.
    for (const a of changed) {
      if (a.status === before.get(a.id)?.status) continue;
      const row = accountRows.get(a.id)!;
      events.push(
        accountStatusEvent(
          toAccountView({ ...row, status: a.status, available: a.available.toString(), held: a.held.toString(), entry_count: String(a.entryCount) }),
        ),
      );
    }
    // Named: prepared once per connection, so the 29-parameter statement is not planned anew each time.
    await client.query({
      name: "settle-write-batch",
      text: WRITE_BATCH,
      values: [
        entries.map((e) => e.accountId),
        entries.map((e) => e.seq),
        entries.map((e) => e.paymentId),
        entries.map((e) => e.type),
        entries.map((e) => e.amount),
        entries.map((e) => e.balanceAfter),
        entries.map((e) => e.availableAfter),
        entries.map((e) => e.heldAfter),
        entries.map((e) => e.prevHash),
        entries.map((e) => e.hash),
        entries.map((e) => e.createdAt),
        changed.map((a) => a.id),
        changed.map((a) => a.available.toString()),
        changed.map((a) => a.held.toString()),
        changed.map((a) => a.entryCount),
        changed.map((a) => a.lastHash),
        changed.map((a) => a.status),
        now.toISOString(),
        payments.map((s) => s.id),
        payments.map((s) => s.status),
        payments.map((s) => s.failureReason),
        disputedChanged.map((p) => String(p.id)),
        disputedChanged.map((p) => String(p.dispute_status)),
        disputes.map((d) => d.id),
        disputes.map((d) => d.status),
        disputes.map(rejectionReason),
        ...eventColumns(events),
      ],
    });
    return { payments, disputes };
  });
}

const OLDEST_PENDING = `
  SELECT 'payment' AS kind, id, id AS payment_id, type, order_seq, created_at, request_id FROM (
    SELECT * FROM payments WHERE partition = $1 AND status = 'pending' ORDER BY order_seq LIMIT 1 FOR NO KEY UPDATE) p
  UNION ALL
  SELECT 'dispute', id, payment_id, kind, order_seq, created_at, NULL FROM (
    SELECT * FROM dispute_operations WHERE partition = $1 AND status = 'pending' ORDER BY order_seq LIMIT 1 FOR NO KEY UPDATE) d
  ORDER BY order_seq
  LIMIT 1`;

/**
 * Records the oldest pending operation of a partition as one that cannot be settled: a payment
 * fails with `internal_error`, a dispute operation is rejected with it. No money moves and no
 * entry is written; the partition's later operations can then go on.
 */
export async function failOldestPending(pool: Pool, partition: number): Promise<SettleResult> {
  return withTransaction(pool, async (client) => {
    // `type` carries a payment's type, or a dispute operation's kind.
    const { rows } = await client.query<{
      kind: "payment" | "dispute";
      id: string;
      payment_id: string;
      type: string;
      order_seq: string;
      created_at: Date;
      request_id: string | null;
    }>(OLDEST_PENDING, [partition]);
    const row = rows[0];
    if (!row) return { payments: [], disputes: [] };
    const now = new Date();
    const result: SettleResult =
      row.kind === "payment"
        ? { payments: [await failPaymentAsInternalError(client, { ...row, type: row.type as PaymentType }, partition, now)], disputes: [] }
        : { payments: [], disputes: [await rejectDisputeAsInternalError(client, { ...row, kind: row.type as DisputeKind }, partition, now)] };
    await client.query(`SELECT pg_notify('${SETTLE_EVENTS_CHANNEL}', $1)`, [String(row.payment_id)]);
    return result;
  });
}

/**
 * Settles a partition whose round failed for a reason no retry cures: one operation at a time, up
 * to `limit`, so the operation at fault is found; it is recorded as failed (`failOldestPending`)
 * and reported through `onIsolated`, and the partition goes on. A transient fault is thrown.
 */
export async function settleIsolatingFailure(
  pool: Pool,
  partition: number,
  limit: number,
  onIsolated: (operation: { id: string; kind: "payment" | "dispute" }, error: unknown) => void,
): Promise<SettleResult> {
  const all: SettleResult = { payments: [], disputes: [] };
  for (let i = 0; i < limit; i++) {
    let one: SettleResult;
    try {
      one = await settleBatch(pool, [partition], 1);
    } catch (error) {
      if (isTransientDbError(error)) throw error;
      one = await failOldestPending(pool, partition);
      const failed = one.payments[0] ?? one.disputes[0];
      if (failed) onIsolated({ id: failed.id, kind: one.payments[0] ? "payment" : "dispute" }, error);
      all.payments.push(...one.payments);
      all.disputes.push(...one.disputes);
      return all;
    }
    if (one.payments.length + one.disputes.length === 0) return all;
    all.payments.push(...one.payments);
    all.disputes.push(...one.disputes);
  }
  return all;
}
