import type { PoolClient } from "pg";
import { withTransaction } from "../db/pool";
import { DomainError } from "../errors";
import { uuidv7 } from "../ids";
import { moneyFromDb, type Money } from "../money";
import { partitionFor } from "../partition";
import type { AcceptDeps } from "./accept";
import { appendEntry, requireAccount, type AccountState, type EntryType, type JournalEntry } from "./apply";
import { disputeAppliedEvent, type NewEvent } from "../events/events";
import { PAYMENT_COLUMNS, toPaymentView, type PaymentRow, type PaymentView } from "./ledger-repository";
import type { PaymentType } from "./payments";

// Everything about disputes, in the order an operation lives it: what a dispute, resolve or
// chargeback is and which may follow which (rules), how the API accepts one (accept side), and
// how a settle round applies it in its account's order (settle step). settle.ts only locks the
// rows, calls `settleDispute` per operation in acceptance order and writes the results.

// ---- The concept and its rules ----

export type DisputeKind = "dispute" | "resolve" | "chargeback";
export type DisputeStatus = "none" | "open" | "resolved" | "charged_back";

/** A dispute operation with the payment it targets, as the settle transaction holds them locked. */
export interface DisputeToApply {
  id: string;
  kind: DisputeKind;
  payment: {
    id: string;
    type: PaymentType;
    status: "pending" | "completed" | "failed";
    fromAccount: string | null;
    toAccount: string | null;
    amount: Money;
    disputeStatus: DisputeStatus;
  };
}

const DISPUTE_RESULT: Record<DisputeKind, DisputeStatus> = { dispute: "open", resolve: "resolved", chargeback: "charged_back" };

/**
 * Whether `kind` may follow `status` (docs/API.md "Disputes"): a dispute opens on a completed transfer
 * or deposit not disputed before; resolve and chargeback close an open dispute.
 */
export function disputeAllowed(kind: DisputeKind, payment: Pick<DisputeToApply["payment"], "type" | "status">, status: DisputeStatus): boolean {
  if (kind === "dispute") return payment.status === "completed" && payment.type !== "withdrawal" && status === "none";
  return status === "open";
}

/** The dispute status a payment reaches after `kind` is applied. */
export function disputeStatusAfter(kind: DisputeKind): DisputeStatus {
  return DISPUTE_RESULT[kind];
}

/**
 * Applies a dispute operation to locked account states: hold, release, or chargeback (which
 * returns a transfer's money to the payer and freezes the receiving account). An operation that
 * no longer fits the payment's dispute status is rejected, not applied.
 */
export function applyDispute(
  accounts: Map<string, AccountState>,
  op: DisputeToApply,
  now: Date,
): { outcome: "applied" | "rejected"; disputeStatus: DisputeStatus; entries: JournalEntry[] } {
  const { payment } = op;
  if (!disputeAllowed(op.kind, payment, payment.disputeStatus)) return { outcome: "rejected", disputeStatus: payment.disputeStatus, entries: [] };
  const receiver = requireAccount(accounts, payment.toAccount);
  const entries: JournalEntry[] = [];
  switch (op.kind) {
    case "dispute":
      entries.push(appendEntry(receiver, payment.id, "hold", payment.amount, now));
      break;
    case "resolve":
      entries.push(appendEntry(receiver, payment.id, "release", payment.amount, now));
      break;
    case "chargeback":
      entries.push(appendEntry(receiver, payment.id, "chargeback", payment.amount, now));
      if (payment.type === "transfer") entries.push(appendEntry(requireAccount(accounts, payment.fromAccount), payment.id, "credit", payment.amount, now));
      receiver.status = "frozen";
      break;
  }
  return { outcome: "applied", disputeStatus: DISPUTE_RESULT[op.kind], entries };
}

/**
 * The journal entries a payment's dispute steps have written once it has reached `disputeStatus`,
 * as `applyDispute` writes them: a hold, then a release, or a chargeback (and the payer's credit
 * back, for a transfer). `verifyLedger` checks each payment's journal against them.
 */
export function disputeEntries(payment: {
  type: PaymentType;
  fromAccount: string | null;
  toAccount: string | null;
  disputeStatus: DisputeStatus;
}): { type: EntryType; account: string | null }[] {
  const entries: { type: EntryType; account: string | null }[] = [];
  if (payment.disputeStatus !== "none") entries.push({ type: "hold", account: payment.toAccount });
  if (payment.disputeStatus === "resolved") entries.push({ type: "release", account: payment.toAccount });
  if (payment.disputeStatus === "charged_back") {
    entries.push({ type: "chargeback", account: payment.toAccount });
    if (payment.type === "transfer") entries.push({ type: "credit", account: payment.fromAccount });
  }
  return entries;
}

// ---- Accept side ----

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
    const { rows } = await client.query<PaymentRow>(LOCK_PAYMENT, [paymentId]);
    const row = rows[0];
    if (!row) throw new DomainError("not_found", "payment not found");
    const payment = toPaymentView(row);
    const { rows: pending } = await client.query<{ kind: DisputeKind }>(LAST_PENDING_OPERATION, [paymentId]);
    const effective: DisputeStatus = pending[0] ? disputeStatusAfter(pending[0].kind) : payment.dispute_status;
    if (!disputeAllowed(kind, payment, effective)) {
      throw new DomainError(
        "invalid_state",
        `${kind} applies to ${EXPECTED_STATE[kind]}; this ${payment.type} is ${payment.status} with dispute_status ${effective}`,
      );
    }
    const partition = partitionFor(payment.to_account!, deps.partitions);
    const id = uuidv7();
    const { rows: inserted } = await client.query<{ created_at: Date }>(INSERT_OPERATION, [id, partition, paymentId, kind]);
    const operation: DisputeOperationView = { id, kind, status: "pending", created_at: inserted[0]!.created_at.toISOString() };
    return { payment, operation, partition };
  });
  await deps.waker.wake(accepted.partition);
  return { payment: accepted.payment, operation: accepted.operation };
}

// ---- Settle step ----

/** A dispute operation as a settle round reports it. */
export interface SettledDispute {
  id: string;
  partition: number;
  paymentId: string;
  kind: DisputeKind;
  orderSeq: bigint;
  status: "applied" | "rejected";
  disputeStatus: DisputeStatus;
}

/** A pending dispute operation as the settle transaction locks it (pg gives bigint as a string). */
export interface LockedDisputeRow {
  id: string;
  partition: number;
  kind: DisputeKind;
  payment_id: string;
  order_seq: string;
}

/** The payment a dispute operation targets, as the settle transaction locks it: its PAYMENT_COLUMNS. */
export type DisputedPaymentRow = Omit<PaymentRow, "dispute_status"> & { dispute_status: DisputeStatus };

/**
 * The settle step of one locked dispute operation: applied or rejected against its payment's
 * dispute status as this round has left it. Sets `target.dispute_status` to the result, so later
 * operations on the same payment in this round see it, and the round writes it. An applied
 * operation has its event, with the payment as the operation left it; a rejected one changes nothing.
 */
export function settleDispute(
  accounts: Map<string, AccountState>,
  op: LockedDisputeRow,
  target: DisputedPaymentRow,
  now: Date,
): { settled: SettledDispute; entries: JournalEntry[]; event: NewEvent | null } {
  const result = applyDispute(
    accounts,
    {
      id: String(op.id),
      kind: op.kind,
      payment: {
        id: String(target.id),
        type: target.type,
        status: target.status,
        fromAccount: target.from_account,
        toAccount: target.to_account,
        amount: moneyFromDb(target.amount),
        disputeStatus: target.dispute_status,
      },
    },
    now,
  );
  target.dispute_status = result.disputeStatus;
  return {
    settled: {
      id: String(op.id),
      partition: Number(op.partition),
      paymentId: String(target.id),
      kind: op.kind,
      orderSeq: BigInt(op.order_seq),
      status: result.outcome,
      disputeStatus: result.disputeStatus,
    },
    entries: result.entries,
    event: result.outcome === "applied" ? disputeAppliedEvent(op.kind, toPaymentView(target)) : null,
  };
}

/** A rejected operation's `rejection_reason`: it no longer fit its payment's dispute status. */
export function rejectionReason(settled: SettledDispute): "invalid_state" | null {
  return settled.status === "rejected" ? "invalid_state" : null;
}

/**
 * Records a locked dispute operation that cannot be applied at all as rejected with
 * `internal_error`; no money moves and the payment's dispute status stays as it is.
 */
export async function rejectDisputeAsInternalError(
  client: PoolClient,
  row: { id: string; payment_id: string; kind: DisputeKind; order_seq: string },
  partition: number,
  now: Date,
): Promise<SettledDispute> {
  await client.query("UPDATE dispute_operations SET status = 'rejected', rejection_reason = 'internal_error', processed_at = $2 WHERE id = $1", [row.id, now]);
  const { rows: target } = await client.query<{ dispute_status: DisputeStatus }>("SELECT dispute_status FROM payments WHERE id = $1", [row.payment_id]);
  return {
    id: String(row.id),
    partition,
    paymentId: String(row.payment_id),
    kind: row.kind,
    orderSeq: BigInt(row.order_seq),
    status: "rejected",
    disputeStatus: target[0]?.dispute_status ?? "none",
  };
}
