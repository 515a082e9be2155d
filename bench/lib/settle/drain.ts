// The drain of a Settle run: waiting until everything accepted has settled.
import type { Pool } from "@settle/core";
import type { LoadResult } from "../load";
import type { BenchOptions } from "../options";
import { progressLine } from "../progress";

/** The table of operations on a payment: payment_operations (dispute_operations before refunds and authorizations existed). */
export async function operationsTable(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ exists: boolean }>("SELECT to_regclass('payment_operations') IS NOT NULL AS exists");
  return rows[0]!.exists ? "payment_operations" : "dispute_operations";
}

const tables = new WeakMap<Pool, Promise<string>>();

/** Payments pending, and operations on a payment (dispute steps, captures, voids) still queued. */
export async function pendingCount(pool: Pool): Promise<number> {
  let table = tables.get(pool);
  if (!table) {
    table = operationsTable(pool);
    tables.set(pool, table);
    table.catch(() => tables.delete(pool));
  }
  const { rows } = await pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM payments WHERE status = 'pending') + (SELECT count(*) FROM ${await table} WHERE status = 'pending') AS n`,
  );
  return Number(rows[0]!.n);
}

/** Waits until nothing is pending; false after `timeoutS`. */
export async function waitSettled(pool: Pool, timeoutS: number, onTick?: (pending: number) => void): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const pending = await pendingCount(pool);
    onTick?.(pending);
    if (pending === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The drain after the load: how long until nothing was pending, and whether it came within --settle-timeout. */
export async function drain(pool: Pool, opts: BenchOptions, label: string, load: LoadResult): Promise<{ drained: boolean; drainS: number }> {
  const drainStart = Date.now();
  const drained = await waitSettled(pool, opts.settleTimeoutS, (p) =>
    progressLine(
      label,
      {
        elapsedS: (Date.now() - load.startedAt) / 1000,
        sent: load.sent,
        ok: Object.values(load.okByKind).reduce((a, n) => a + n, 0),
        failed: 0,
        inFlight: 0,
        backlog: 0,
      },
      opts.durationS,
      `draining: pending ${p}`,
    ),
  );
  return { drained, drainS: (Date.now() - drainStart) / 1000 };
}
