import { createHash } from "node:crypto";

/** The `prev_hash` of every account's first journal entry. */
export const GENESIS_HASH = "0".repeat(64);

/** The fields of a journal entry that its hash covers, money as 2-fraction-digit strings. */
export interface HashedEntryFields {
  accountId: string;
  seq: number;
  paymentId: string;
  type: string;
  amount: string;
  balanceAfter: string;
  availableAfter: string;
  heldAfter: string;
  /** RFC 3339 UTC with milliseconds, as `Date.toISOString()` writes it. */
  createdAt: string;
}

/** The canonical encoding docs/API.md names: a JSON array of the fields in this fixed order. */
export function canonicalEntry(e: HashedEntryFields): string {
  return JSON.stringify([e.accountId, e.seq, e.paymentId, e.type, e.amount, e.balanceAfter, e.availableAfter, e.heldAfter, e.createdAt]);
}

/** hash = sha256(prev_hash || canonical encoding), hex. */
export function entryHash(prevHash: string, entry: HashedEntryFields): string {
  return createHash("sha256").update(prevHash).update(canonicalEntry(entry)).digest("hex");
}
