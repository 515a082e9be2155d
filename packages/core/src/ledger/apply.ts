import { formatMoney, type Money } from "../money";
import { entryHash, type HashedEntryFields } from "./journal-hash";

export type AccountStatus = "active" | "frozen";
export type EntryType = "credit" | "debit" | "hold" | "release" | "chargeback";
export type PaymentType = "transfer" | "deposit" | "withdrawal";
/** Why a payment failed; `internal_error`: it could not be settled at all (docs/ARCHITECTURE.md "Failure handling"). */
export type FailureReason = "insufficient_funds" | "account_frozen" | "internal_error";

/** An account as the settle transaction holds it under its row lock. */
export interface AccountState {
  id: string;
  status: AccountStatus;
  available: Money;
  held: Money;
  entryCount: number;
  lastHash: string;
}

export interface JournalEntry extends HashedEntryFields {
  prevHash: string;
  hash: string;
}

export interface PaymentToSettle {
  id: string;
  type: PaymentType;
  fromAccount: string | null;
  toAccount: string | null;
  amount: Money;
}

export type SettleOutcome = { status: "completed"; failureReason: null } | { status: "failed"; failureReason: FailureReason };

/** Appends one entry to an account's chain, moving its balances as the entry type says. */
export function appendEntry(account: AccountState, paymentId: string, type: EntryType, amount: Money, createdAt: Date): JournalEntry {
  switch (type) {
    case "credit":
      account.available = account.available.plus(amount);
      break;
    case "debit":
      account.available = account.available.minus(amount);
      break;
    case "hold":
      account.available = account.available.minus(amount);
      account.held = account.held.plus(amount);
      break;
    case "release":
      account.held = account.held.minus(amount);
      account.available = account.available.plus(amount);
      break;
    case "chargeback":
      account.held = account.held.minus(amount);
      break;
  }
  const fields: HashedEntryFields = {
    accountId: account.id,
    seq: account.entryCount + 1,
    paymentId,
    type,
    amount: formatMoney(amount),
    balanceAfter: formatMoney(account.available.plus(account.held)),
    availableAfter: formatMoney(account.available),
    heldAfter: formatMoney(account.held),
    createdAt: createdAt.toISOString(),
  };
  const prevHash = account.lastHash;
  const hash = entryHash(prevHash, fields);
  account.entryCount = fields.seq;
  account.lastHash = hash;
  return { ...fields, prevHash, hash };
}

function requireAccount(accounts: Map<string, AccountState>, id: string | null): AccountState {
  const account = id === null ? undefined : accounts.get(id);
  if (!account) throw new Error(`account ${id} is not locked by this transaction`);
  return account;
}

/**
 * Settles one payment against locked account states: checks status and funds, moves money and
 * returns the journal entries. A refusal (insufficient funds, frozen account) is an outcome.
 */
export function applyPayment(
  accounts: Map<string, AccountState>,
  payment: PaymentToSettle,
  now: Date,
): { outcome: SettleOutcome; entries: JournalEntry[] } {
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
