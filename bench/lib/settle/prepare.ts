// Before a Settle run measures: funded accounts, then (open loop only) a warm-up.
import type { Pool } from "@settle/core";
import { seedFundedAccounts } from "../funding";
import type { HttpClient } from "../http-client";
import { runLoad } from "../load";
import { specLabel, type BenchOptions, type RunSpec } from "../options";
import { progressLine } from "../progress";
import type { Scenario } from "../scenarios";
import { round } from "../stats";
import { waitSettled } from "./drain";

/** Funded accounts written in SQL; for mixed, whether the API accepts disputes (on a completed deposit). */
export async function seed(
  pool: Pool,
  client: HttpClient,
  opts: BenchOptions,
  spec: RunSpec,
  scenario: Scenario,
): Promise<{ ids: string[]; disputes: boolean }> {
  const fundStart = Date.now();
  const { ids, depositIds } = await seedFundedAccounts(pool, scenario.accounts, scenario.funding, opts.partitions);
  const firstDeposit = depositIds[0];
  process.stderr.write(`  seeded ${ids.length} funded accounts in ${round((Date.now() - fundStart) / 1000)} s\n`);

  // Disputes exist when the API accepts one on a completed deposit (mixed only).
  let disputes = false;
  if (spec.scenario === "mixed" && firstDeposit) {
    const probe = await client.post(`/api/v1/payments/${firstDeposit}/dispute`, {}, { wantBody: true });
    disputes = probe.status === 202;
    if (disputes) await waitSettled(pool, opts.settleTimeoutS);
  }
  return { ids, disputes };
}

/**
 * Open loop measures latency from the clock: a server still compiling its first requests (cold
 * JIT, new connections) would put seconds of start-up into the percentiles of a deployment that
 * runs warm. So open-loop runs first offer deposits at the run's rate for --warmup seconds, settle
 * them, and only then measure. Closed-loop runs, compared with the peers (which get no warm-up),
 * start cold.
 */
export async function warmUp(pool: Pool, client: HttpClient, opts: BenchOptions, spec: RunSpec, ids: string[]): Promise<void> {
  if (spec.rate === "max" || opts.warmupS <= 0) return;
  let n = 0;
  await runLoad(client, () => ({ kind: "deposit", path: "/api/v1/deposits", body: { account_id: ids[n++ % ids.length], amount: "1.00" } }), {
    rate: spec.rate,
    durationS: opts.warmupS,
    concurrency: opts.concurrency,
    maxInFlight: opts.maxInFlight,
    maxRequests: opts.maxRequests,
    onProgress: (s) => progressLine(`warm-up ${specLabel(spec)}`, s, opts.warmupS, ""),
  });
  process.stderr.write("\n");
  await waitSettled(pool, opts.settleTimeoutS);
}
