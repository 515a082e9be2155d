import type { PoolClient } from "pg";
import { paymentSettledEvent, writeEvents, type NewEvent } from "../events/events";
import { moneyFromDb, type Money } from "../money";
import { appendEntry, requireAccount, type AccountState, type JournalEntry } from "./apply";
import { PAYMENT_COLUMNS, toPaymentView, type PaymentRow } from "./ledger-repository";

// Payments on the settle side: their rules (status and funds) and the per-operation step that
// settle.ts runs for each locked pending payment. Their accept side is accept.ts, accept-batch.ts
// and accept-batcher.ts.

export type PaymentType = "transfer" | "deposit" | "withdrawal";
/** Why a payment failed; `internal_error`: it could not be settled at all (docs/ARCHITECTURE.md "Failure handling"). */
export type FailureReason = "insufficient_funds" | "account_frozen" | "internal_error";

export interface PaymentToSettle {
  id: string;
  type: PaymentType;
  fromAccount: string | null;
  toAccount: string | null;
  amount: Money;
}

export type SettleOutcome = { status: "completed"; failureReason: null } | { status: "failed"; failureReason: FailureReason };

/** A payment as a settle round reports it. */
export interface SettledPayment {
  id: string;
  partition: number;
  type: PaymentType;
  orderSeq: bigint;
  status: "completed" | "failed";
  failureReason: FailureReason | null;
  createdAt: Date;
  processedAt: Date;
  /** The X-Request-Id of the request that accepted it, when known. */
  requestId: string | null;
}

/**
 * Settles one payment against locked account states: checks status and funds, moves money and
 * returns the journal entries. A refusal (insufficient funds, frozen account) is an outcome.
 */
export function applyPayment(accounts: Map<string, AccountState>, payment: PaymentToSettle, now: Date): { outcome: SettleOutcome; entries: JournalEntry[] } {
  const source = payment.type === "deposit" ? null : requireAccount(accounts, payment.fromAccount);
  const target = payment.type === "withdrawal" ? null : requireAccount(accounts, payment.toAccount);
  if (source) {
    if (source.status === "frozen") return { outcome: { status: "failed", failureReason: "account_frozen" }, entries: [] };
    if (source.available.lessThan(payment.amount)) return { outcome: { status: "failed", failureReason: "insufficient_funds" }, entries: [] };
  }
  const entries: JournalEntry[] = [];
  if (source) entries.push(appendEntry(source, payment.id, "debit", payment.amount, now));
  if (target) entries.push(appendEntry(target, payment.id, "credit", payment.amount, now));
  return { outcome: { status: "completed", failureReason: null }, entries };
}

/** A pending payment as the settle transaction locks it (pg gives bigint and numeric as strings). */
export interface LockedPaymentRow {
  id: string;
  partition: number;
  type: PaymentType;
  from_account: string | null;
  to_account: string | null;
  amount: string;
  order_seq: string;
  created_at: Date;
  request_id: string | null;
  currency: string;
  description: string | null;
  dispute_status: string;
}

/** The settle step of one locked payment: its outcome, entries and event, in the round's order. */
export function settlePayment(
  accounts: Map<string, AccountState>,
  row: LockedPaymentRow,
  now: Date,
): { settled: SettledPayment; entries: JournalEntry[]; event: NewEvent } {
  const result = applyPayment(
    accounts,
    { id: String(row.id), type: row.type, fromAccount: row.from_account, toAccount: row.to_account, amount: moneyFromDb(row.amount) },
    now,
  );
  return {
    settled: {
      id: String(row.id),
      partition: Number(row.partition),
      type: row.type,
      orderSeq: BigInt(row.order_seq),
      status: result.outcome.status,
      failureReason: result.outcome.failureReason,
      createdAt: row.created_at,
      processedAt: now,
      requestId: row.request_id ?? null,
    },
    entries: result.entries,
    event: paymentSettledEvent(toPaymentView({ ...row, status: result.outcome.status, failure_reason: result.outcome.failureReason, processed_at: now })),
  };
}

/** Records a locked payment that cannot be settled at all as failed with `internal_error` (and its event); no money moves. */
export async function failPaymentAsInternalError(
  client: PoolClient,
  row: { id: string; type: PaymentType; order_seq: string; created_at: Date; request_id: string | null },
  partition: number,
  now: Date,
): Promise<SettledPayment> {
  const { rows } = await client.query<PaymentRow>(
    `UPDATE payments SET status = 'failed', failure_reason = 'internal_error', processed_at = $2 WHERE id = $1 RETURNING ${PAYMENT_COLUMNS}`,
    [row.id, now],
  );
  await writeEvents(client, [paymentSettledEvent(toPaymentView(rows[0]!))]);
  return {
    id: String(row.id),
    partition,
    type: row.type,
    orderSeq: BigInt(row.order_seq),
    status: "failed",
    failureReason: "internal_error",
    createdAt: row.created_at,
    processedAt: now,
    requestId: row.request_id ?? null,
  };
}
