import { randomUUID } from "node:crypto";
import { appendEntry, GENESIS_HASH, partitionFor, uuidv7, ZERO, parseAmount, type AccountState, type Pool } from "@settle/core";

const CHUNK = 2000;

/**
 * Creates `count` accounts, each funded by one completed deposit, directly in SQL: the deposit
 * payment, its hash-chained journal entry (built with the ledger's own appendEntry) and the
 * account head are written together, so verifyLedger sees exactly what a settled deposit leaves.
 * Sending 10,000 deposits through the API would take a minute of every run on this machine.
 */
export async function seedFundedAccounts(pool: Pool, count: number, funding: string, partitions: number): Promise<{ ids: string[]; depositIds: string[] }> {
  const amount = parseAmount(funding);
  if (!amount) throw new Error(`bad funding amount ${funding}`);
  const ids = Array.from({ length: count }, () => randomUUID());
  const depositIds: string[] = [];
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    for (let start = 0; start < ids.length; start += CHUNK) {
      const chunk = ids.slice(start, start + CHUNK);
      const now = new Date();
      const states: AccountState[] = chunk.map((id) => ({
        id,
        status: "active",
        available: ZERO,
        held: ZERO,
        overdraftLimit: ZERO,
        entryCount: 0,
        lastHash: GENESIS_HASH,
      }));
      const payIds = chunk.map(() => uuidv7());
      depositIds.push(...payIds);
      const entries = states.map((s, i) => appendEntry(s, payIds[i]!, "credit", amount, now));
      await client.query(
        `INSERT INTO accounts (id, currency, available, held, entry_count, last_hash)
         SELECT id, 'USD', available, 0, 1, last_hash FROM unnest($1::uuid[], $2::numeric[], $3::text[]) AS v(id, available, last_hash)`,
        [chunk, states.map((s) => s.available.toString()), states.map((s) => s.lastHash)],
      );
      await client.query(
        `INSERT INTO payments (id, partition, type, status, to_account, amount, currency, description, created_at, processed_at)
         SELECT id, partition, 'deposit', 'completed', to_account, $4::numeric, 'USD', 'bench funding', $5, $5
           FROM unnest($1::uuid[], $2::int[], $3::uuid[]) AS v(id, partition, to_account)`,
        [payIds, chunk.map((id) => partitionFor(id, partitions)), chunk, funding, now.toISOString()],
      );
      await client.query(
        `INSERT INTO journal_entries (account_id, seq, payment_id, type, amount, balance_after, available_after, held_after, prev_hash, hash, created_at)
         SELECT account_id, 1, payment_id, 'credit', amount, amount, amount, 0, $4, hash, $5
           FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS v(account_id, payment_id, hash), (SELECT $6::numeric AS amount) a`,
        [chunk, payIds, entries.map((e) => e.hash), GENESIS_HASH, now.toISOString(), entries[0]!.amount],
      );
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  return { ids, depositIds };
}
