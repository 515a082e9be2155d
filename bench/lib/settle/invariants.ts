// The invariants of a Settle run: a broken one fails the bench.
import type { Pool } from "@settle/core";
import { acceptanceOrderViolations } from "@settle/core/testing";
import { checkSettleInvariants, type InvariantResult } from "../database";
import type { ObservedDebit } from "./operations";

/** The ledger's invariants, the per-account debit order as clients saw it, and the drain in time. */
export async function checkInvariants(pool: Pool, debits: ObservedDebit[], drain: { drained: boolean; settleTimeoutS: number }): Promise<InvariantResult[]> {
  const invariants = await checkSettleInvariants(pool);
  invariants.push(await checkObservedDebitOrder(pool, debits));
  if (!drain.drained) invariants.push({ name: "drained in time", ok: false, detail: `payments still pending after ${drain.settleTimeoutS} s` });
  return invariants;
}

/** Per account, debits in the order clients observed acceptance (acceptanceOrderViolations). */
async function checkObservedDebitOrder(pool: Pool, debits: ObservedDebit[]): Promise<InvariantResult> {
  const { checked, violations } = await acceptanceOrderViolations(
    pool,
    debits.map((d) => ({ id: d.id, sentAt: d.createdAt, acceptedAt: d.ackedAt })),
  );
  return {
    name: "per-account debit order (as clients observed acceptance)",
    ok: violations.length === 0,
    detail: `${violations.length} debits journaled before a debit of the same account that was accepted (202 received) before their request was made; ${checked} debits checked`,
  };
}
