import type { PoolClient } from "pg";
import { paymentSettledEvent, writeEvents, type NewEvent } from "../events/events";
import { formatMoney, moneyFromDb, type Money } from "../money";
import { appendEntry, canPay, requireAccount, type AccountState, type JournalEntry } from "./apply";
import { PAYMENT_COLUMNS, toPaymentView, type PaymentRow } from "./ledger-repository";

// Payments on the settle side: their rules (status and funds) and the per-operation step that
// settle.ts runs for each locked pending payment. Their accept side is accept.ts, accept-batch.ts
// and accept-batcher.ts (refunds: refunds.ts). An authorization (capture = false) settles here as a
// hold; what follows it (capture, void, expiry) is authorizations.ts.

export type PaymentType = "transfer" | "deposit" | "withdrawal" | "refund";
/** Why a payment failed; `internal_error`: it could not be settled at all (docs/ARCHITECTURE.md "Failure handling"). */
export type FailureReason = "insufficient_funds" | "account_frozen" | "internal_error";

export interface PaymentToSettle {
  id: string;
  type: PaymentType;
  fromAccount: string | null;
  toAccount: string | null;
  amount: Money;
  /** False for an authorization: the amount is held on the payer, not moved. */
  capture: boolean;
}

export type SettleOutcome = { status: "completed" | "authorized"; failureReason: null } | { status: "failed"; failureReason: FailureReason };

/** A payment as a settle round reports it. */
export interface SettledPayment {
  id: string;
  partition: number;
  type: PaymentType;
  orderSeq: bigint;
  status: "completed" | "authorized" | "failed";
  failureReason: FailureReason | null;
  createdAt: Date;
  processedAt: Date;
  /** The X-Request-Id of the request that accepted it, when known. */
  requestId: string | null;
}

/**
 * Settles one payment against locked account states: checks status and funds (within the payer's
 * overdraft limit), moves money — or, for an authorization, holds it on the payer — and returns
 * the journal entries. A refusal (insufficient funds, frozen account) is an outcome.
 */
export function applyPayment(accounts: Map<string, AccountState>, payment: PaymentToSettle, now: Date): { outcome: SettleOutcome; entries: JournalEntry[] } {
  const source = payment.type === "deposit" ? null : requireAccount(accounts, payment.fromAccount);
  // A withdrawal, and the refund of a deposit, pay out to the outside world.
  const target = payment.toAccount === null ? null : requireAccount(accounts, payment.toAccount);
  if (source) {
    if (source.status === "frozen") return { outcome: { status: "failed", failureReason: "account_frozen" }, entries: [] };
    if (!canPay(source, payment.amount)) return { outcome: { status: "failed", failureReason: "insufficient_funds" }, entries: [] };
  }
  if (!payment.capture) {
    return { outcome: { status: "authorized", failureReason: null }, entries: [appendEntry(source!, payment.id, "authorize", payment.amount, now)] };
  }
  const entries: JournalEntry[] = [];
  if (source) entries.push(appendEntry(source, payment.id, "debit", payment.amount, now));
  if (target) entries.push(appendEntry(target, payment.id, "credit", payment.amount, now));
  return { outcome: { status: "completed", failureReason: null }, entries };
}

/** A pending payment as the settle transaction locks it: its PAYMENT_COLUMNS, and its place in its partition's order. */
export type LockedPaymentRow = PaymentRow & { partition: number; order_seq: string; request_id: string | null };

/**
 * The settle step of one locked payment: its outcome, entries and event, in the round's order. A
 * completed refund adds its amount to the refunded payment's `amount_refunded` in `targets` (the
 * payments operations of this round target, locked with it), which the round writes.
 */
export function settlePayment(
  accounts: Map<string, AccountState>,
  row: LockedPaymentRow,
  targets: Map<string, { amount_refunded: string }>,
  now: Date,
): { settled: SettledPayment; entries: JournalEntry[]; event: NewEvent } {
  const amount = moneyFromDb(row.amount);
  const result = applyPayment(
    accounts,
    { id: String(row.id), type: row.type, fromAccount: row.from_account, toAccount: row.to_account, amount, capture: row.capture },
    now,
  );
  if (row.refund_of !== null && result.outcome.status === "completed") {
    const refunded = targets.get(String(row.refund_of));
    if (!refunded) throw new Error(`refunded payment ${row.refund_of} is not locked by this round`);
    refunded.amount_refunded = formatMoney(moneyFromDb(refunded.amount_refunded).plus(amount));
  }
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
