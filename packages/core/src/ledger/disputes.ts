import { withTransaction } from "../db/pool";
import { DomainError } from "../errors";
import { uuidv7 } from "../ids";
import { formatMoney, moneyFromDb, ZERO, type Money } from "../money";
import { partitionFor } from "../partition";
import type { AcceptDeps } from "./accept";
import { appendEntry, requireAccount, type AccountState, type EntryType, type JournalEntry } from "./apply";
import { disputeAppliedEvent, type NewEvent } from "../events/events";
import { PAYMENT_COLUMNS, toPaymentView, type PaymentRow, type PaymentStatus, type PaymentView } from "./ledger-repository";
import {
  insertOperation,
  LOCK_PAYMENT_FOR_DECISION,
  settledOperation,
  pendingOperationKinds,
  type LockedOperationRow,
  type OperationKind,
  type OperationView,
  type SettledOperation,
  type TargetPaymentRow,
} from "./operations";
import { refundsTotal } from "./refunds";
import type { PaymentType } from "./payments";

// Everything about disputes, in the order an operation lives it: what a dispute, resolve or
// chargeback is and which may follow which (rules), how the API accepts one (accept side), and
// how a settle round applies it in its account's order (settle step). settle.ts only locks the
// rows, calls `settleDispute` per operation in acceptance order and writes the results. What dispute
// steps share with the other operations on a payment is in operations.ts.

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
    status: PaymentStatus;
    fromAccount: string | null;
    toAccount: string | null;
    /** What the dispute holds: for a dispute, the payment's settled amount less its completed refunds (`disputableAmount`); then `amount_disputed`. */
    amount: Money;
    disputeStatus: DisputeStatus;
  };
}

const DISPUTE_RESULT: Record<DisputeKind, DisputeStatus> = { dispute: "open", resolve: "resolved", chargeback: "charged_back" };

/**
 * Whether `kind` may follow `status` (docs/API.md "Disputes"): a dispute opens on a completed transfer
 * or deposit not disputed before; resolve and chargeback close an open dispute.
 */
export function disputeAllowed(kind: DisputeKind, payment: Pick<DisputeToApply["payment"], "type" | "status" | "amount">, status: DisputeStatus): boolean {
  if (kind === "dispute")
    return payment.status === "completed" && (payment.type === "transfer" || payment.type === "deposit") && status === "none" && payment.amount.greaterThan(0);
  return status === "open";
}

/** What a dispute of this payment holds: its settled amount (a captured authorization's `amount_captured`) less its completed refunds. */
export function disputableAmount(payment: { amount: string; amount_captured: string | null; amount_refunded: string }): Money {
  return moneyFromDb(payment.amount_captured ?? payment.amount).minus(moneyFromDb(payment.amount_refunded));
}

export const DISPUTE_KINDS: readonly DisputeKind[] = ["dispute", "resolve", "chargeback"];
export const isDisputeKind = (kind: OperationKind): kind is DisputeKind => (DISPUTE_KINDS as readonly string[]).includes(kind);

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

const LOCK_PAYMENT = LOCK_PAYMENT_FOR_DECISION(PAYMENT_COLUMNS);

/** A payment's dispute status once its queued dispute steps are applied: the newest decides. */
export function effectiveDisputeStatus(current: DisputeStatus, pending: readonly OperationKind[]): DisputeStatus {
  const last = pending.filter(isDisputeKind).at(-1);
  return last ? disputeStatusAfter(last) : current;
}

const EXPECTED_STATE: Record<DisputeKind, string> = {
  dispute: "a completed transfer or deposit with dispute_status none and something left after its refunds",
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
): Promise<{ payment: PaymentView; operation: OperationView }> {
  const accepted = await withTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<PaymentRow>(LOCK_PAYMENT, [paymentId]);
    const row = rows[0];
    if (!row) throw new DomainError("not_found", "payment not found");
    const payment = toPaymentView(row);
    const effective = effectiveDisputeStatus(payment.dispute_status, await pendingOperationKinds(client, paymentId));
    // Refunds still pending count as if they will complete: a dispute of what they return would hold nothing.
    const left = kind === "dispute" ? disputableAmount(row).minus(await refundsTotal(client, paymentId, "pending")) : ZERO;
    if (!disputeAllowed(kind, { ...payment, amount: left }, effective)) {
      throw new DomainError(
        "invalid_state",
        `${kind} applies to ${EXPECTED_STATE[kind]}; this ${payment.type} is ${payment.status} with dispute_status ${effective}`,
      );
    }
    const partition = partitionFor(payment.to_account!, deps.partitions);
    const operation = await insertOperation(client, { id: uuidv7(), partition, paymentId, kind });
    return { payment, operation, partition };
  });
  await deps.waker.wake(accepted.partition);
  return { payment: accepted.payment, operation: accepted.operation };
}

// ---- Settle step ----

/**
 * The settle step of one locked dispute operation: applied or rejected against its payment's
 * dispute status as this round has left it. Sets `target.dispute_status` to the result, so later
 * operations on the same payment in this round see it, and the round writes it. An applied
 * operation has its event, with the payment as the operation left it; a rejected one changes nothing.
 */
export function settleDispute(
  accounts: Map<string, AccountState>,
  op: LockedOperationRow & { kind: DisputeKind },
  target: TargetPaymentRow,
  now: Date,
): { settled: SettledOperation; entries: JournalEntry[]; event: NewEvent | null } {
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
        amount: op.kind === "dispute" || target.amount_disputed === null ? disputableAmount(target) : moneyFromDb(target.amount_disputed),
        disputeStatus: target.dispute_status,
      },
    },
    now,
  );
  if (result.outcome === "applied" && op.kind === "dispute") target.amount_disputed = formatMoney(disputableAmount(target));
  target.dispute_status = result.disputeStatus;
  return {
    settled: settledOperation(op, target, result.outcome === "rejected" ? "invalid_state" : null),
    entries: result.entries,
    event: result.outcome === "applied" ? disputeAppliedEvent(op.kind, toPaymentView(target)) : null,
  };
}
