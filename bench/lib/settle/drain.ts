// The drain of a Settle run: waiting until everything accepted has settled.
import type { Pool } from "@settle/core";
import type { LoadResult } from "../load";
import type { BenchOptions } from "../options";
import { progressLine } from "../progress";

export async function pendingCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM payments WHERE status = 'pending'");
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
