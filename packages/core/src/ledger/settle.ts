import type { Pool } from "pg";
import { isTransientDbError, withTransaction, type TransactionOptions } from "../db/pool";
import { accountStatusEvent, eventColumns, insertEventsSql, type NewEvent } from "../events/events";
import { moneyFromDb } from "../money";
import type { AccountState, AccountStatus, JournalEntry } from "./apply";
import { isAuthorizationKind, settleAuthorizationOperation } from "./authorizations";
import { isDisputeKind, settleDispute } from "./disputes";
import { PAYMENT_COLUMNS, toAccountView } from "./ledger-repository";
import { rejectOperationAsInternalError, type LockedOperationRow, type OperationKind, type SettledOperation, type TargetPaymentRow } from "./operations";
import { failPaymentAsInternalError, settlePayment, type LockedPaymentRow, type PaymentType, type SettledPayment } from "./payments";

/** The channel on which every settled payment and applied operation is announced (ids, comma-separated). */
export const SETTLE_EVENTS_CHANNEL = "settle_events";

/** Ids per notification: 200 × 37 bytes stays under PostgreSQL's 8,000-byte payload limit. */
const NOTIFY_IDS_PER_PAYLOAD = 200;

export interface SettleResult {
  payments: SettledPayment[];
  /** Operations on payments: dispute steps, captures, voids and expiries. */
  operations: SettledOperation[];
}

// One result set for four kinds of row: every column of every kind, each kind filling its own and
// leaving the others NULL (typed, so that UNION ALL agrees on each column's type). Money stays
// numeric all the way: pg returns it as a string.
const LOCKED_COLUMNS: [string, string][] = [
  ["id", "uuid"],
  ["partition", "int"],
  ["order_seq", "bigint"],
  ["request_id", "text"],
  ["type", "text"],
  ["status", "text"],
  ["from_account", "uuid"],
  ["to_account", "uuid"],
  ["amount", "numeric"],
  ["currency", "text"],
  ["description", "text"],
  ["failure_reason", "text"],
  ["dispute_status", "text"],
  ["created_at", "timestamptz"],
  ["processed_at", "timestamptz"],
  ["refund_of", "uuid"],
  ["amount_refunded", "numeric"],
  ["capture", "boolean"],
  ["amount_captured", "numeric"],
  ["expires_at", "timestamptz"],
  ["amount_disputed", "numeric"],
  ["kind", "text"],
  ["payment_id", "uuid"],
  ["available", "numeric"],
  ["held", "numeric"],
  ["overdraft_limit", "numeric"],
  ["entry_count", "bigint"],
  ["last_hash", "text"],
];
const PAYMENT_COLUMN_LIST = PAYMENT_COLUMNS.split(", ");
const LOCKED_KINDS: [string, string, string[]][] = [
  ["payment", "payments_due", ["partition", "order_seq", "request_id", ...PAYMENT_COLUMN_LIST]],
  ["operation", "operations_due", ["id", "partition", "kind", "payment_id", "order_seq", "amount"]],
  ["target", "targets", PAYMENT_COLUMN_LIST],
  ["account", "accounts_locked", ["id", "status", "available", "held", "overdraft_limit", "entry_count", "last_hash", "currency", "created_at"]],
];
function lockedRowsSql(): string {
  return LOCKED_KINDS.map(
    ([kind, from, has]) =>
      `SELECT '${kind}' AS row_kind, ${LOCKED_COLUMNS.map(([c, t]) => (has.includes(c) ? `${c}::${t} AS ${c}` : `NULL::${t} AS ${c}`)).join(", ")} FROM ${from}`,
  ).join("\n  UNION ALL\n  ");
}

/** The ids of the `$2` oldest pending rows of `table` in the partitions `$1`, each partition's from its own end of its pending index. */
function oldestPendingIds(table: "payments" | "payment_operations"): string {
  return `SELECT d.id
      FROM unnest($1::int[]) AS p(partition)
     CROSS JOIN LATERAL (
           SELECT id, order_seq FROM ${table}
            WHERE ${table}.partition = p.partition AND status = 'pending'
            ORDER BY order_seq
            LIMIT $2) d
     ORDER BY d.order_seq
     LIMIT $2`;
}

// Locks everything one batch needs, in one round trip and in a fixed order: the oldest pending
// payments of the partitions (acceptance order), their oldest pending operations, the payments
// those target and the payments the refunds among them refund (id order), then every account
// involved, in ascending id order (the sort runs below the row locks), so two settle transactions
// never wait on each other in a cycle.
// The row locks and the `pending` re-check are the fence that makes a duplicate job, or a second
// worker on the partition after a lost lease, a no-op: what is settled is no longer selected.
// NO KEY UPDATE leaves the FOR KEY SHARE lock of a concurrent payment insert unblocked.
// A round costs the same behind a backlog of any size, whatever the table's statistics say (they
// lag behind a backlog that builds in seconds): each partition's oldest are read from its own end
// of the pending index (*_ids), and locked by primary key (*_locked), where no plan can walk the
// whole backlog; then the rows as they are once locked are kept only if still pending (*_due).
const LOCK_BATCH = `
  WITH payment_ids AS (
    ${oldestPendingIds("payments")}
  ), payments_locked AS MATERIALIZED (
    SELECT partition, order_seq, request_id, ${PAYMENT_COLUMNS}
      FROM payments
     WHERE id = ANY (ARRAY(SELECT id FROM payment_ids))
     ORDER BY order_seq
       FOR NO KEY UPDATE
  ), payments_due AS (
    SELECT * FROM payments_locked WHERE status = 'pending'
  ), operation_ids AS (
    ${oldestPendingIds("payment_operations")}
  ), operations_locked AS MATERIALIZED (
    SELECT id, partition, kind, payment_id, order_seq, amount, status
      FROM payment_operations
     WHERE id = ANY (ARRAY(SELECT id FROM operation_ids))
     ORDER BY order_seq
       FOR NO KEY UPDATE
  ), operations_due AS (
    SELECT id, partition, kind, payment_id, order_seq, amount FROM operations_locked WHERE status = 'pending'
  ), targets AS (
    SELECT ${PAYMENT_COLUMNS}
      FROM payments
     WHERE id IN (SELECT payment_id FROM operations_due UNION SELECT refund_of FROM payments_due WHERE refund_of IS NOT NULL)
     ORDER BY id
       FOR NO KEY UPDATE
  ), accounts_locked AS (
    SELECT id, status, available, held, overdraft_limit, entry_count, last_hash, currency, created_at
      FROM accounts
     WHERE id IN (SELECT from_account FROM payments_due UNION SELECT to_account FROM payments_due
                  UNION SELECT from_account FROM targets UNION SELECT to_account FROM targets)
     ORDER BY id
       FOR NO KEY UPDATE
  )
  ${lockedRowsSql()}`;

// Writes the whole batch in one round trip: journal entries, new account heads, payment results,
// the targeted payments' new state, operation results, the events reporting them; then announces
// the touched payments (delivered at COMMIT) for long polls. Each UPDATE also names its rows with
// `= ANY` of the ids it unnests: the round runs its generic plan, which cannot see how short the
// arrays are (it guesses 100), and this keeps every plan a look-up by primary key, never a scan
// of a small table hashed against the arrays.
const WRITE_BATCH = `
  WITH entries AS (
    INSERT INTO journal_entries
      (account_id, seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at, overdraft_limit)
    SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::numeric[], $6::numeric[],
                         $7::numeric[], $8::numeric[], $9::text[], $10::text[], $11::timestamptz[], $30::numeric[])
  ), heads AS (
    UPDATE accounts a
       SET available = v.available, held = v.held, entry_count = v.entry_count, last_hash = v.last_hash, status = v.status
      FROM unnest($12::uuid[], $13::numeric[], $14::numeric[], $15::bigint[], $16::text[], $17::text[])
           AS v(id, available, held, entry_count, last_hash, status)
     WHERE a.id = v.id AND a.id = ANY($12::uuid[])
  ), settled AS (
    UPDATE payments p
       SET status = v.status, failure_reason = v.failure_reason, processed_at = $18
      FROM unnest($19::uuid[], $20::text[], $21::text[]) AS v(id, status, failure_reason)
     WHERE p.id = v.id AND p.id = ANY($19::uuid[])
    RETURNING p.id
  ), targeted AS (
    UPDATE payments p
       SET dispute_status = v.dispute_status, status = v.status, amount_captured = v.amount_captured, amount_refunded = v.amount_refunded,
           amount_disputed = v.amount_disputed
      FROM unnest($22::uuid[], $23::text[], $31::text[], $32::numeric[], $33::numeric[], $34::numeric[])
           AS v(id, dispute_status, status, amount_captured, amount_refunded, amount_disputed)
     WHERE p.id = v.id AND p.id = ANY($22::uuid[])
  ), operations AS (
    UPDATE payment_operations d
       SET status = v.status, rejection_reason = v.rejection_reason, processed_at = $18
      FROM unnest($24::uuid[], $25::text[], $26::text[]) AS v(id, status, rejection_reason)
     WHERE d.id = v.id AND d.id = ANY($24::uuid[])
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
// payments.ts and operations.ts own the shapes their settle steps read.
interface LockedAccountRow {
  id: string;
  status: AccountStatus;
  available: string;
  held: string;
  overdraft_limit: string;
  entry_count: string;
  last_hash: string;
  currency: string;
  created_at: Date;
}
type LockedRow =
  | ({ row_kind: "payment" } & LockedPaymentRow)
  | ({ row_kind: "operation" } & LockedOperationRow)
  | ({ row_kind: "target" } & TargetPaymentRow)
  | ({ row_kind: "account" } & LockedAccountRow);

type Work = { kind: "payment"; row: LockedPaymentRow; orderSeq: bigint } | { kind: "operation"; row: LockedOperationRow; orderSeq: bigint };

function toAccountState(r: LockedAccountRow): AccountState {
  return {
    id: String(r.id),
    status: r.status,
    available: moneyFromDb(r.available),
    held: moneyFromDb(r.held),
    overdraftLimit: moneyFromDb(r.overdraft_limit),
    entryCount: Number(r.entry_count),
    lastHash: String(r.last_hash),
  };
}

// Neither statement of a round has a best plan that depends on its values (the lock reads each
// partition's end of the pending index and locks by key; the write unnests arrays and updates by
// key), and planning the write anew at each round cost PostgreSQL about 0.3 ms
// (bench/settle-rounds.ts): one generic plan per connection serves every round.
const SETTLE_TRANSACTION: TransactionOptions = { genericPlans: true };

/**
 * Settles up to `limit` of the oldest pending operations (payments and operations on payments) of
 * the given partitions, in acceptance order, in one PostgreSQL transaction: balances, journal
 * entries and statuses commit together or not at all. Each account's operations come from one
 * partition, so settling several partitions together keeps every account's order.
 */
export async function settleBatch(pool: Pool, partitions: readonly number[], limit: number): Promise<SettleResult> {
  return withTransaction(
    pool,
    async (client, end) => {
      const { rows } = await client.query<LockedRow>({ name: "settle-lock-batch", text: LOCK_BATCH, values: [partitions, limit] });
      const work: Work[] = [];
      const targets = new Map<string, TargetPaymentRow>();
      const accounts = new Map<string, AccountState>();
      const accountRows = new Map<string, LockedAccountRow>();
      for (const row of rows) {
        if (row.row_kind === "payment") work.push({ kind: "payment", row, orderSeq: BigInt(row.order_seq) });
        else if (row.row_kind === "operation") work.push({ kind: "operation", row, orderSeq: BigInt(row.order_seq) });
        else if (row.row_kind === "target") targets.set(String(row.id), row);
        else {
          accounts.set(String(row.id), toAccountState(row));
          accountRows.set(String(row.id), row);
        }
      }
      work.sort((a, b) => (a.orderSeq < b.orderSeq ? -1 : 1));
      work.splice(limit);
      if (work.length === 0) return { payments: [], operations: [] };
      const targetIds = [
        ...new Set(work.flatMap((w) => (w.kind === "operation" ? [String(w.row.payment_id)] : w.row.refund_of !== null ? [String(w.row.refund_of)] : []))),
      ].sort();
      const before = new Map([...accounts].map(([id, a]) => [id, { entryCount: a.entryCount, status: a.status }]));

      const now = new Date();
      const entries: JournalEntry[] = [];
      const payments: SettledPayment[] = [];
      const operations: SettledOperation[] = [];
      const events: NewEvent[] = [];
      // Decide: each operation in acceptance order, by the rules of its kind, against the account
      // states (and targeted payments) the earlier ones of this round left.
      for (const w of work) {
        if (w.kind === "payment") {
          const step = settlePayment(accounts, w.row, targets, now);
          entries.push(...step.entries);
          payments.push(step.settled);
          events.push(step.event);
        } else {
          const step = settleOperation(accounts, w.row, targets.get(String(w.row.payment_id))!, now);
          entries.push(...step.entries);
          operations.push(step.settled);
          if (step.event) events.push(step.event);
        }
      }
      const changed = [...accounts.values()].filter((a) => a.entryCount !== before.get(a.id)?.entryCount || a.status !== before.get(a.id)?.status);
      const targetsChanged = targetIds.map((id) => targets.get(id)!);
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
      // Named, and run with its generic plan (SETTLE_TRANSACTION): the 34-parameter statement is
      // planned once per connection. Written with the COMMIT: the round's second and last round trip.
      await end.commitWith({
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
          targetsChanged.map((p) => String(p.id)),
          targetsChanged.map((p) => String(p.dispute_status)),
          operations.map((d) => d.id),
          operations.map((d) => d.status),
          operations.map((d) => d.rejectionReason),
          ...eventColumns(events),
          entries.map((e) => e.overdraftLimit),
          targetsChanged.map((p) => p.status),
          targetsChanged.map((p) => p.amount_captured),
          targetsChanged.map((p) => p.amount_refunded),
          targetsChanged.map((p) => p.amount_disputed),
        ],
      });
      return { payments, operations };
    },
    SETTLE_TRANSACTION,
  );
}

/** The settle step of one locked operation on a payment, by its kind. */
function settleOperation(accounts: Map<string, AccountState>, op: LockedOperationRow, target: TargetPaymentRow, now: Date) {
  if (isDisputeKind(op.kind)) return settleDispute(accounts, { ...op, kind: op.kind }, target, now);
  if (isAuthorizationKind(op.kind)) return settleAuthorizationOperation(accounts, { ...op, kind: op.kind }, target, now);
  throw new Error(`operation ${op.id} has an unknown kind ${String(op.kind)}`);
}

const OLDEST_PENDING = `
  SELECT 'payment' AS kind, id, id AS payment_id, type, order_seq, created_at, request_id FROM (
    SELECT * FROM payments WHERE partition = $1 AND status = 'pending' ORDER BY order_seq LIMIT 1 FOR NO KEY UPDATE) p
  UNION ALL
  SELECT 'operation', id, payment_id, kind, order_seq, created_at, NULL FROM (
    SELECT * FROM payment_operations WHERE partition = $1 AND status = 'pending' ORDER BY order_seq LIMIT 1 FOR NO KEY UPDATE) d
  ORDER BY order_seq
  LIMIT 1`;

/**
 * Records the oldest pending operation of a partition as one that cannot be settled: a payment
 * fails with `internal_error`, an operation on a payment is rejected with it. No money moves and no
 * entry is written; the partition's later operations can then go on.
 */
export async function failOldestPending(pool: Pool, partition: number): Promise<SettleResult> {
  return withTransaction(pool, async (client) => {
    // `type` carries a payment's type, or an operation's kind.
    const { rows } = await client.query<{
      kind: "payment" | "operation";
      id: string;
      payment_id: string;
      type: string;
      order_seq: string;
      created_at: Date;
      request_id: string | null;
    }>(OLDEST_PENDING, [partition]);
    const row = rows[0];
    if (!row) return { payments: [], operations: [] };
    const now = new Date();
    const result: SettleResult =
      row.kind === "payment"
        ? { payments: [await failPaymentAsInternalError(client, { ...row, type: row.type as PaymentType }, partition, now)], operations: [] }
        : { payments: [], operations: [await rejectOperationAsInternalError(client, { ...row, kind: row.type as OperationKind }, partition, now)] };
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
  onIsolated: (operation: { id: string; kind: "payment" | "operation" }, error: unknown) => void,
): Promise<SettleResult> {
  const all: SettleResult = { payments: [], operations: [] };
  for (let i = 0; i < limit; i++) {
    let one: SettleResult;
    try {
      one = await settleBatch(pool, [partition], 1);
    } catch (error) {
      if (isTransientDbError(error)) throw error;
      one = await failOldestPending(pool, partition);
      const failed = one.payments[0] ?? one.operations[0];
      if (failed) onIsolated({ id: failed.id, kind: one.payments[0] ? "payment" : "operation" }, error);
      all.payments.push(...one.payments);
      all.operations.push(...one.operations);
      return all;
    }
    if (one.payments.length + one.operations.length === 0) return all;
    all.payments.push(...one.payments);
    all.operations.push(...one.operations);
  }
  return all;
}
