import type { Pool } from "pg";
import { withTransaction } from "../db/pool";
import { DomainError } from "../errors";
import { uuidv7 } from "../ids";
import { partitionFor } from "../partition";
import { disputeAllowed, disputeStatusAfter, type DisputeKind, type DisputeStatus } from "./apply";
import type { AcceptDeps } from "./accept";
import { PAYMENT_COLUMNS, toPaymentView, type PaymentView } from "./ledger-repository";

// Holds the payment row while deciding, so two requests on one payment are decided one by one.
const LOCK_PAYMENT = `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1 FOR NO KEY UPDATE`;

// The newest operation still queued for this payment decides what may follow it.
const LAST_PENDING_OPERATION = `
  SELECT kind FROM dispute_operations WHERE payment_id = $1 AND status = 'pending' ORDER BY order_seq DESC LIMIT 1`;

const INSERT_OPERATION = `
  INSERT INTO dispute_operations (id, partition, payment_id, kind) VALUES ($1, $2, $3, $4) RETURNING created_at`;

/** A dispute, resolve or chargeback as accepted: queued, applied later in the account's order. */
export interface DisputeOperationView {
  id: string;
  kind: DisputeKind;
  status: "pending";
  created_at: string;
}

const EXPECTED_STATE: Record<DisputeKind, string> = {
  dispute: "a completed transfer or deposit with dispute_status none",
  resolve: "a payment whose dispute_status is open",
  chargeback: "a payment whose dispute_status is open",
};

/**
 * Accepts a dispute, resolve or chargeback: checks the transition against the payment's dispute
 * status (including operations still queued), records the operation and wakes the
 * receiving account's partition. The worker checks again when it applies it.
 */
export async function requestDisputeOperation(
  deps: AcceptDeps,
  paymentId: string,
  kind: DisputeKind,
): Promise<{ payment: PaymentView; operation: DisputeOperationView }> {
  const accepted = await withTransaction(deps.pool, async (client) => {
    const { rows } = await client.query(LOCK_PAYMENT, [paymentId]);
    const row = rows[0];
    if (!row) throw new DomainError("not_found", "payment not found");
    const payment = toPaymentView(row);
    const { rows: pending } = await client.query(LAST_PENDING_OPERATION, [paymentId]);
    const effective: DisputeStatus = pending[0] ? disputeStatusAfter(pending[0].kind) : payment.dispute_status;
    if (!disputeAllowed(kind, payment, effective)) {
      throw new DomainError("invalid_state", `${kind} applies to ${EXPECTED_STATE[kind]}; this ${payment.type} is ${payment.status} with dispute_status ${effective}`);
    }
    const partition = partitionFor(payment.to_account!, deps.partitions);
    const id = uuidv7();
    const { rows: inserted } = await client.query(INSERT_OPERATION, [id, partition, paymentId, kind]);
    const operation: DisputeOperationView = { id, kind, status: "pending", created_at: (inserted[0].created_at as Date).toISOString() };
    return { payment, operation, partition };
  });
  await deps.waker.wake(accepted.partition);
  return { payment: accepted.payment, operation: accepted.operation };
}
