import type { Pool } from "pg";
import { withTransaction } from "../db/pool";
import { moneyFromDb } from "../money";
import { applyPayment, type AccountState, type FailureReason, type JournalEntry, type PaymentToSettle, type PaymentType } from "./apply";

export interface SettledPayment {
  id: string;
  type: PaymentType;
  orderSeq: bigint;
  status: "completed" | "failed";
  failureReason: FailureReason | null;
  createdAt: Date;
  processedAt: Date;
}

// Locks the oldest pending payments of one partition, in acceptance order. The row lock and the
// status re-check are the fence that makes a duplicate job, or a second worker on the same
// partition after a lost lease, a no-op: a payment already settled is no longer selected.
const LOCK_PENDING_PAYMENTS = `
  SELECT id, type, from_account, to_account, amount, order_seq, created_at
    FROM payments
   WHERE partition = $1 AND status = 'pending'
   ORDER BY order_seq
   LIMIT $2
     FOR NO KEY UPDATE`;

// Locks every account the batch touches in ascending id order, so two settle transactions can
// never wait on each other in a cycle (no deadlocks). NO KEY UPDATE leaves the FOR KEY SHARE
// lock of a concurrent payment insert (its foreign key check) unblocked.
const LOCK_ACCOUNTS = `
  SELECT id, status, available, held, entry_count, last_hash
    FROM accounts
   WHERE id = ANY($1::uuid[])
   ORDER BY id
     FOR NO KEY UPDATE`;

// Writes the whole batch in one round trip: journal entries, new account heads, payment results.
const WRITE_BATCH = `
  WITH entries AS (
    INSERT INTO journal_entries
      (account_id, seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at)
    SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::numeric[], $6::numeric[],
                         $7::numeric[], $8::numeric[], $9::text[], $10::text[], $11::timestamptz[])
  ), heads AS (
    UPDATE accounts a
       SET available = v.available, held = v.held, entry_count = v.entry_count, last_hash = v.last_hash
      FROM unnest($12::uuid[], $13::numeric[], $14::numeric[], $15::bigint[], $16::text[])
           AS v(id, available, held, entry_count, last_hash)
     WHERE a.id = v.id
  )
  UPDATE payments p
     SET status = v.status, failure_reason = v.failure_reason, processed_at = $20
    FROM unnest($17::uuid[], $18::text[], $19::text[]) AS v(id, status, failure_reason)
   WHERE p.id = v.id`;

const HAS_PENDING = "SELECT EXISTS (SELECT 1 FROM payments WHERE partition = $1 AND status = 'pending') AS pending";

/** True when the partition has a payment still pending (a cheap check before a transaction). */
export async function hasPendingPayments(pool: Pool, partition: number): Promise<boolean> {
  const { rows } = await pool.query(HAS_PENDING, [partition]);
  return rows[0]?.pending === true;
}

/**
 * Settles up to `limit` of the oldest pending payments of one partition, in acceptance order,
 * in one PostgreSQL transaction: balances, journal entries and statuses commit together.
 */
export async function settleBatch(pool: Pool, partition: number, limit: number): Promise<SettledPayment[]> {
  return withTransaction(pool, async (client) => {
    const { rows: pending } = await client.query(LOCK_PENDING_PAYMENTS, [partition, limit]);
    if (pending.length === 0) return [];
    const accountIds = [...new Set(pending.flatMap((p) => [p.from_account, p.to_account]).filter((id): id is string => id !== null))].sort();
    const { rows: accountRows } = await client.query(LOCK_ACCOUNTS, [accountIds]);
    const accounts = new Map<string, AccountState>(
      accountRows.map((r) => [
        String(r.id),
        {
          id: String(r.id),
          status: r.status,
          available: moneyFromDb(r.available),
          held: moneyFromDb(r.held),
          entryCount: Number(r.entry_count),
          lastHash: String(r.last_hash),
        },
      ]),
    );
    const startCounts = new Map([...accounts].map(([id, a]) => [id, a.entryCount]));
    const now = new Date();
    const entries: JournalEntry[] = [];
    const settled: SettledPayment[] = [];
    for (const row of pending) {
      const payment: PaymentToSettle = {
        id: String(row.id),
        type: row.type,
        fromAccount: row.from_account,
        toAccount: row.to_account,
        amount: moneyFromDb(row.amount),
      };
      const result = applyPayment(accounts, payment, now);
      entries.push(...result.entries);
      settled.push({
        id: payment.id,
        type: payment.type,
        orderSeq: BigInt(row.order_seq),
        status: result.outcome.status,
        failureReason: result.outcome.failureReason,
        createdAt: row.created_at,
        processedAt: now,
      });
    }
    const changed = [...accounts.values()].filter((a) => a.entryCount !== startCounts.get(a.id));
    await client.query(WRITE_BATCH, [
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
      settled.map((s) => s.id),
      settled.map((s) => s.status),
      settled.map((s) => s.failureReason),
      now.toISOString(),
    ]);
    return settled;
  });
}

/**
 * Settles a partition's pending payments batch by batch until the one with `throughOrderSeq`
 * (and so every earlier one) is settled, or nothing is pending.
 */
export async function settlePartition(
  pool: Pool,
  partition: number,
  options: { batchSize: number; throughOrderSeq?: bigint },
): Promise<SettledPayment[]> {
  const all: SettledPayment[] = [];
  if (!(await hasPendingPayments(pool, partition))) return all;
  for (;;) {
    const batch = await settleBatch(pool, partition, options.batchSize);
    all.push(...batch);
    const last = batch[batch.length - 1];
    if (batch.length < options.batchSize || !last) return all;
    if (options.throughOrderSeq !== undefined && last.orderSeq >= options.throughOrderSeq) return all;
  }
}

/** Partitions holding payments pending for longer than `olderThanSeconds`, with the newest such seq. */
export async function findStalePartitions(pool: Pool, olderThanSeconds: number): Promise<{ partition: number; throughOrderSeq: bigint; count: number }[]> {
  const { rows } = await pool.query(
    `SELECT partition, max(order_seq) AS through, count(*) AS n
       FROM payments
      WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1)
      GROUP BY partition`,
    [olderThanSeconds],
  );
  return rows.map((r) => ({ partition: Number(r.partition), throughOrderSeq: BigInt(r.through), count: Number(r.n) }));
}
