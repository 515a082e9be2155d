import type { Pool } from "pg";

/**
 * Records PARTITIONS on first start and refuses a process configured differently: payments
 * are routed by it, so two values in one deployment would break per-account order.
 */
export async function ensurePartitionCount(pool: Pool, partitions: number): Promise<void> {
  const { rows } = await pool.query<{ value: string }>(
    `WITH ins AS (INSERT INTO settle_settings (key, value) VALUES ('partitions', $1) ON CONFLICT (key) DO NOTHING RETURNING value)
     SELECT value FROM ins UNION ALL SELECT value FROM settle_settings WHERE key = 'partitions'`,
    [String(partitions)],
  );
  const recorded = rows[0]?.value;
  if (recorded !== undefined && recorded !== String(partitions)) {
    throw new Error(`PARTITIONS=${partitions} but this deployment was created with PARTITIONS=${recorded}; it is fixed for the life of a deployment`);
  }
}
