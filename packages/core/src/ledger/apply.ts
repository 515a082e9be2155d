import { formatMoney, type Money } from "../money";
import { entryHash, type HashedEntryFields } from "./journal-hash";

// What every kind of operation settles against: accounts held under their row locks, and the
// journal entries that move their money. The rules of each kind live in its own module
// (payments.ts, disputes.ts); they only append entries through `appendEntry`.

export type AccountStatus = "active" | "frozen";
export type EntryType = "credit" | "debit" | "hold" | "release" | "chargeback";

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

/** The locked state of account `id`; an account the transaction did not lock is a bug, thrown. */
export function requireAccount(accounts: Map<string, AccountState>, id: string | null): AccountState {
  const account = id === null ? undefined : accounts.get(id);
  if (!account) throw new Error(`account ${id} is not locked by this transaction`);
  return account;
}
