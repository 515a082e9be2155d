import { formatMoney, type Money } from "../money";
import { entryHash, type HashedEntryFields } from "./journal-hash";

// What every kind of operation settles against: accounts held under their row locks, and the
// journal entries that move their money. The rules of each kind live in its own module
// (payments.ts, disputes.ts, authorizations.ts); they only append entries through `appendEntry`.

export type AccountStatus = "active" | "frozen";
/**
 * `hold`/`release`/`chargeback`: a dispute's; `authorize`: an authorization's hold (checked against
 * the overdraft floor like a debit); `capture`: a captured authorization leaves `held`.
 */
export type EntryType = "credit" | "debit" | "hold" | "release" | "chargeback" | "authorize" | "capture";

/** An account as the settle transaction holds it under its row lock. */
export interface AccountState {
  id: string;
  status: AccountStatus;
  available: Money;
  held: Money;
  /** `available` may go down to minus this through a payment (docs/API.md "Overdraft limits"). */
  overdraftLimit: Money;
  entryCount: number;
  lastHash: string;
}

export interface JournalEntry extends HashedEntryFields {
  prevHash: string;
  hash: string;
  /** The limit in force when written (not hashed): the journal's CHECK holds debits to it. */
  overdraftLimit: string;
}

/** Whether `account` may pay `amount` out of `available` (a debit or an authorization's hold) within its overdraft limit. */
export function canPay(account: AccountState, amount: Money): boolean {
  return account.available.minus(amount).greaterThanOrEqualTo(account.overdraftLimit.negated());
}

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
    case "authorize":
      account.available = account.available.minus(amount);
      account.held = account.held.plus(amount);
      break;
    case "release":
      account.held = account.held.minus(amount);
      account.available = account.available.plus(amount);
      break;
    case "chargeback":
    case "capture":
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
  return { ...fields, prevHash, hash, overdraftLimit: formatMoney(account.overdraftLimit) };
}

/** The locked state of account `id`; an account the transaction did not lock is a bug, thrown. */
export function requireAccount(accounts: Map<string, AccountState>, id: string | null): AccountState {
  const account = id === null ? undefined : accounts.get(id);
  if (!account) throw new Error(`account ${id} is not locked by this transaction`);
  return account;
}
