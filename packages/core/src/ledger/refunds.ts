import type { Pool, PoolClient } from "pg";
import { DomainError } from "../errors";
import { runIdempotentInTransaction, type IdempotencyKey, type IdempotentResult } from "../idempotency";
import { uuidv7 } from "../ids";
import { formatMoney, moneyFromDb, parseAmount, type Money } from "../money";
import { partitionFor } from "../partition";
import type { AcceptDeps } from "./accept";
import { effectiveDisputeStatus, isDisputeKind, type DisputeStatus } from "./disputes";
import { insertPayment, PAYMENT_COLUMNS, type PaymentRow, type PaymentView } from "./ledger-repository";
import { LOCK_PAYMENT_FOR_DECISION, pendingOperationKinds } from "./operations";

// Refunds (docs/API.md "Refunds"): a refund is a payment of its own (type `refund`, `refund_of`
// the original), from the original's receiver back to its payer, settled like a transfer in the
// receiver's partition (payments.ts; on completion it adds to the original's `amount_refunded`).
// This module is its accept side: the rules, and the total decided under the original's row lock.

const LOCK_PAYMENT = LOCK_PAYMENT_FOR_DECISION(PAYMENT_COLUMNS);

/** The total of a payment's refunds that are pending, or pending and completed (0 when there are none). */
export async function refundsTotal(db: Pool | PoolClient, paymentId: string, which: "pending" | "pending_and_completed"): Promise<Money> {
  const statuses = which === "pending" ? ["pending"] : ["pending", "completed"];
  const { rows } = await db.query<{ total: string }>(
    "SELECT coalesce(sum(amount), 0)::text AS total FROM payments WHERE refund_of = $1 AND status = ANY($2::text[])",
    [paymentId, statuses],
  );
  return moneyFromDb(rows[0]!.total);
}

/** What a refund may take back at most: a captured authorization's `amount_captured`, else its amount. */
const refundable = (row: PaymentRow): Money => moneyFromDb(row.amount_captured ?? row.amount);

/**
 * Accepts a refund of `paymentId`: under the original payment's row lock, checks that it may be
 * refunded and that this refund keeps all of its refunds (pending and completed) within its amount,
 * then records the refund as a pending payment and wakes its partition. Two refunds of one payment
 * are decided one after the other, so together they can never exceed it.
 */
export async function requestRefund(
  deps: AcceptDeps,
  paymentId: string,
  request: { amount?: string; reason?: string | null },
  context: { requestId?: string; idempotency?: IdempotencyKey } = {},
): Promise<IdempotentResult<PaymentView>> {
  let partition = -1;
  const decide = async (client: PoolClient): Promise<PaymentView> => {
    const { rows } = await client.query<PaymentRow>(LOCK_PAYMENT, [paymentId]);
    const original = rows[0];
    if (!original) throw new DomainError("not_found", "payment not found");
    const pendingKinds = await pendingOperationKinds(client, paymentId);
    const disputeStatus = effectiveDisputeStatus(original.dispute_status as DisputeStatus, pendingKinds);
    if (
      original.status !== "completed" ||
      (original.type !== "transfer" && original.type !== "deposit") ||
      !(disputeStatus === "none" || disputeStatus === "resolved") ||
      pendingKinds.some(isDisputeKind)
    ) {
      throw new DomainError(
        "invalid_state",
        `a refund applies to a completed transfer or deposit whose dispute_status is none or resolved, with no dispute step queued; this ${original.type} is ${original.status} with dispute_status ${disputeStatus}${pendingKinds.some(isDisputeKind) ? " and a dispute step queued" : ""}`,
      );
    }
    const limit = refundable(original);
    const used = await refundsTotal(client, paymentId, "pending_and_completed");
    const left = limit.minus(used);
    const amount = request.amount === undefined ? left : parseAmount(request.amount)!;
    if (left.lessThanOrEqualTo(0) || amount.greaterThan(left)) {
      throw new DomainError(
        "refund_exceeds_payment",
        `refunds of this payment (pending and completed) total ${formatMoney(used)} of ${formatMoney(limit)}: at most ${formatMoney(left)} is left to refund`,
        request.amount === undefined ? [] : [{ path: "amount", message: `must be at most ${formatMoney(left)}` }],
      );
    }
    const from = original.to_account!;
    partition = partitionFor(from, deps.partitions);
    return insertPayment(client, {
      id: uuidv7(),
      partition,
      type: "refund",
      fromAccount: from,
      toAccount: original.type === "transfer" ? original.from_account : null,
      amount: formatMoney(amount),
      description: request.reason ?? null,
      requestId: context.requestId ?? null,
      refundOf: paymentId,
    });
  };
  const response = await runIdempotentInTransaction(deps.pool, context.idempotency, decide);
  if (!response.replayed) await deps.waker.wake(partition);
  return response;
}
