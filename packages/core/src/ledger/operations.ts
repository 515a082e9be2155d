import type { PoolClient } from "pg";
import type { DisputeKind, DisputeStatus } from "./disputes";
import type { PaymentRow, PaymentStatus } from "./ledger-repository";

// Operations on an existing payment: dispute steps (disputes.ts) and an authorization's capture,
// void and expiry (authorizations.ts). Each is a `payment_operations` row queued in the partition of
// the account whose money it moves, and applied (or rejected) by a settle round in acceptance order
// with that account's other operations. This module holds what they share: the rows, the result and
// the accept-side statements.

export type AuthorizationKind = "capture" | "void" | "expire";
export type OperationKind = DisputeKind | AuthorizationKind;
export type RejectionReason = "invalid_state" | "internal_error" | "account_frozen";

/** A pending operation as the settle transaction locks it (pg gives bigint and numeric as strings). */
export interface LockedOperationRow {
  id: string;
  partition: number;
  kind: OperationKind;
  payment_id: string;
  order_seq: string;
  /** A capture's amount; null: all of it (and for every other kind). */
  amount: string | null;
}

/** The payment an operation (or a refund) targets, as the settle transaction locks it: its PAYMENT_COLUMNS. */
export type TargetPaymentRow = Omit<PaymentRow, "dispute_status"> & { dispute_status: DisputeStatus };

/** An operation as a settle round reports it. */
export interface SettledOperation {
  id: string;
  partition: number;
  paymentId: string;
  kind: OperationKind;
  orderSeq: bigint;
  status: "applied" | "rejected";
  rejectionReason: RejectionReason | null;
  /** The payment's statuses after it. */
  paymentStatus: PaymentStatus;
  disputeStatus: DisputeStatus;
}

/** How a settle round reports `op`: applied (no rejection reason) or rejected, with its payment's statuses as they now stand. */
export function settledOperation(
  op: { id: string; partition: number; kind: OperationKind; order_seq: string },
  payment: { id: string; status: PaymentStatus; dispute_status: DisputeStatus },
  rejectionReason: RejectionReason | null,
): SettledOperation {
  return {
    id: String(op.id),
    partition: Number(op.partition),
    paymentId: String(payment.id),
    kind: op.kind,
    orderSeq: BigInt(op.order_seq),
    status: rejectionReason === null ? "applied" : "rejected",
    rejectionReason,
    paymentStatus: payment.status,
    disputeStatus: payment.dispute_status,
  };
}

/** An operation as the API accepted it: queued, applied later in its account's order. */
export interface OperationView {
  id: string;
  kind: OperationKind;
  status: "pending";
  /** A capture's amount. */
  amount?: string;
  created_at: string;
}

/** Holds the payment row while deciding, so two requests on one payment are decided one by one. */
export const LOCK_PAYMENT_FOR_DECISION = (columns: string) => `SELECT ${columns} FROM payments WHERE id = $1 FOR NO KEY UPDATE`;

/** The kinds of the operations still queued for a payment, oldest first: they decide what may follow. */
export async function pendingOperationKinds(client: PoolClient, paymentId: string): Promise<OperationKind[]> {
  const { rows } = await client.query<{ kind: OperationKind }>(
    "SELECT kind FROM payment_operations WHERE payment_id = $1 AND status = 'pending' ORDER BY order_seq",
    [paymentId],
  );
  return rows.map((r) => r.kind);
}

/** Queues an operation within the caller's transaction; returns its view. */
export async function insertOperation(
  client: PoolClient,
  op: { id: string; partition: number; paymentId: string; kind: OperationKind; amount?: string | null },
): Promise<OperationView> {
  const { rows } = await client.query<{ created_at: Date; amount: string | null }>(
    "INSERT INTO payment_operations (id, partition, payment_id, kind, amount) VALUES ($1, $2, $3, $4, $5) RETURNING created_at, amount",
    [op.id, op.partition, op.paymentId, op.kind, op.amount ?? null],
  );
  const view: OperationView = { id: op.id, kind: op.kind, status: "pending", created_at: rows[0]!.created_at.toISOString() };
  if (op.kind === "capture" && op.amount) view.amount = op.amount;
  return view;
}

/**
 * Records a locked operation that cannot be applied at all as rejected with `internal_error`; no
 * money moves and the payment stays as it is.
 */
export async function rejectOperationAsInternalError(
  client: PoolClient,
  row: { id: string; payment_id: string; kind: OperationKind; order_seq: string },
  partition: number,
  now: Date,
): Promise<SettledOperation> {
  await client.query("UPDATE payment_operations SET status = 'rejected', rejection_reason = 'internal_error', processed_at = $2 WHERE id = $1", [row.id, now]);
  const { rows: target } = await client.query<{ status: PaymentStatus; dispute_status: DisputeStatus }>(
    "SELECT status, dispute_status FROM payments WHERE id = $1",
    [row.payment_id],
  );
  return settledOperation(
    { ...row, partition },
    { id: row.payment_id, status: target[0]?.status ?? "pending", dispute_status: target[0]?.dispute_status ?? "none" },
    "internal_error",
  );
}
