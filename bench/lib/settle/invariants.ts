// The invariants of a Settle run: a broken one fails the bench.
import type { Pool } from "@settle/core";
import { checkSettleInvariants, type InvariantResult } from "../database";
import type { ObservedDebit } from "./operations";

/** The ledger's invariants, the per-account debit order as clients saw it, and the drain in time. */
export async function checkInvariants(pool: Pool, debits: ObservedDebit[], drain: { drained: boolean; settleTimeoutS: number }): Promise<InvariantResult[]> {
  const invariants = await checkSettleInvariants(pool);
  invariants.push(await checkObservedDebitOrder(pool, debits));
  if (!drain.drained) invariants.push({ name: "drained in time", ok: false, detail: `payments still pending after ${drain.settleTimeoutS} s` });
  return invariants;
}

/**
 * Per account, no debit may be journaled before a debit of the same account whose 202 the client
 * had received before it even created the later request. Checked on the debits' journal seq.
 */
async function checkObservedDebitOrder(pool: Pool, debits: ObservedDebit[]): Promise<InvariantResult> {
  const seqById = new Map<string, number>();
  for (let i = 0; i < debits.length; i += 10_000) {
    const { rows } = await pool.query<{ payment_id: string; seq: string }>(
      "SELECT payment_id, seq FROM journal_entries WHERE type = 'debit' AND payment_id = ANY($1::uuid[])",
      [debits.slice(i, i + 10_000).map((d) => d.id)],
    );
    for (const r of rows) seqById.set(String(r.payment_id), Number(r.seq));
  }
  const byAccount = new Map<number, { seq: number; createdAt: number; ackedAt: number }[]>();
  for (const d of debits) {
    const seq = seqById.get(d.id);
    // A payment settled as failed (insufficient funds) has no debit entry: nothing to order.
    if (seq !== undefined) byAccount.set(d.account, [...(byAccount.get(d.account) ?? []), { seq, createdAt: d.createdAt, ackedAt: d.ackedAt }]);
  }
  let violations = 0;
  let checked = 0;
  for (const list of byAccount.values()) {
    list.sort((a, b) => a.seq - b.seq);
    // Walking back from the last entry: the earliest 202 among the debits journaled later.
    let earliestAckLater = Infinity;
    for (let i = list.length - 1; i >= 0; i--) {
      const d = list[i]!;
      checked++;
      if (earliestAckLater < d.createdAt) violations++;
      earliestAckLater = Math.min(earliestAckLater, d.ackedAt);
    }
  }
  return {
    name: "per-account debit order (as clients observed acceptance)",
    ok: violations === 0,
    detail: `${violations} debits journaled before a debit of the same account that was accepted (202 received) before their request was made; ${checked} debits checked`,
  };
}
