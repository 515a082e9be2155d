import type { Pool } from "../db/pool";

/** A payment a client saw accepted: when its request was sent and when its 202 came back (one clock). */
export interface ObservedAcceptance {
  id: string;
  sentAt: number;
  acceptedAt: number;
}

const CHUNK = 10_000;

/**
 * Per account, payments are debited in the order clients could observe: a payment whose 202 was
 * received before another request was even sent must be journaled before that one's debit. (Two
 * requests in flight together have no order to keep: the one that commits first may settle first
 * whatever its sequence number.) A payment without a debit (failed, or a deposit) has nothing to
 * order. Returns the debits checked and each violation, described.
 */
export async function acceptanceOrderViolations(pool: Pool, observed: ObservedAcceptance[]): Promise<{ checked: number; violations: string[] }> {
  const debit = new Map<string, { account: string; seq: bigint }>();
  for (let i = 0; i < observed.length; i += CHUNK) {
    const { rows } = await pool.query<{ payment_id: string; account_id: string; seq: string }>(
      "SELECT payment_id, account_id, seq FROM journal_entries WHERE type = 'debit' AND payment_id = ANY($1::uuid[])",
      [observed.slice(i, i + CHUNK).map((a) => a.id)],
    );
    for (const r of rows) debit.set(r.payment_id, { account: r.account_id, seq: BigInt(r.seq) });
  }
  const byAccount = new Map<string, (ObservedAcceptance & { seq: bigint })[]>();
  for (const a of observed) {
    const d = debit.get(a.id);
    if (!d) continue;
    const list = byAccount.get(d.account) ?? [];
    list.push({ ...a, seq: d.seq });
    byAccount.set(d.account, list);
  }
  let checked = 0;
  const violations: string[] = [];
  for (const [account, list] of byAccount) {
    list.sort((x, y) => (x.seq < y.seq ? 1 : -1)); // latest applied first
    let laterApplied: (ObservedAcceptance & { seq: bigint }) | undefined; // accepted earliest among those applied after the current one
    for (const current of list) {
      checked++;
      if (laterApplied && laterApplied.acceptedAt < current.sentAt) {
        violations.push(
          `account ${account}: ${laterApplied.id} (202 before ${current.id} was sent) debited at seq ${laterApplied.seq}, after seq ${current.seq}`,
        );
      }
      if (!laterApplied || current.acceptedAt < laterApplied.acceptedAt) laterApplied = current;
    }
  }
  return { checked, violations };
}
