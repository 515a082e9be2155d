import type { Pool } from "pg";

// The database side of housekeeping: the queries the sweeper (apps/worker/src/sweeper.ts) runs on
// its schedule, neither of them on any request's or settle round's path.

/** Partitions holding work pending for longer than `olderThanSeconds`, with how much. */
export async function findStalePartitions(pool: Pool, olderThanSeconds: number): Promise<{ partition: number; count: number }[]> {
  const { rows } = await pool.query<{ partition: number; n: string }>(
    `SELECT partition, count(*) AS n FROM (
       SELECT partition, order_seq FROM payments
        WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1)
       UNION ALL
       SELECT partition, order_seq FROM payment_operations
        WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1)
     ) stale
     GROUP BY partition`,
    [olderThanSeconds],
  );
  return rows.map((r) => ({ partition: Number(r.partition), count: Number(r.n) }));
}

export interface PurgeResult {
  purged: number;
  /** False when the pass stopped at its time budget with expired keys left: run another soon. */
  done: boolean;
}

/**
 * Deletes idempotency keys older than `olderThanHours` (docs/API.md keeps them at least 24 hours),
 * oldest first along the created_at index, `batchSize` at a time, each batch a statement and a
 * transaction of its own: it locks only its own expired rows, for milliseconds, so the keys stored
 * meanwhile do not wait on it. Goes on until no expired key is left or `budgetMs` is spent
 * (bench/idempotency-purge.ts measures it).
 */
export async function purgeIdempotencyKeys(pool: Pool, olderThanHours: number, options: { batchSize?: number; budgetMs?: number } = {}): Promise<PurgeResult> {
  const batchSize = options.batchSize ?? 5_000;
  const deadline = Date.now() + (options.budgetMs ?? 1_000);
  let purged = 0;
  // Where the previous batch stopped: the next index scan starts there instead of walking again
  // over the entries just deleted (they stay in the index until vacuum).
  let from = "-infinity";
  for (;;) {
    const { rows } = await pool.query<{ n: number; last: string | null }>(
      `WITH gone AS (
         DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
           SELECT ctid FROM idempotency_keys
            WHERE created_at >= $2::timestamptz AND created_at < now() - make_interval(hours => $1::int)
            ORDER BY created_at LIMIT $3::int))
         RETURNING created_at)
       SELECT count(*)::int AS n, max(created_at)::text AS last FROM gone`,
      [olderThanHours, from, batchSize],
    );
    const { n, last } = rows[0]!;
    purged += n;
    if (n < batchSize || last === null) return { purged, done: true };
    if (Date.now() >= deadline) return { purged, done: false };
    from = last;
  }
}
