// Before a Settle run measures: funded accounts, then (open loop only) a warm-up.
import type { Pool } from "@settle/core";
import type { HttpClient } from "@settle/core/testing";
import { seedFundedAccounts } from "../funding";
import { runLoad } from "../load";
import { specLabel, type BenchOptions, type RunSpec } from "../options";
import { progressLine } from "../progress";
import type { Features, Scenario } from "../scenarios";
import { round } from "../stats";
import { waitSettled } from "./drain";

/**
 * Funded accounts written in SQL; for mixed, what the API offers beyond payments (disputes: it
 * accepts one on a completed deposit; refunds, authorizations, overdraft limits: its OpenAPI
 * document has their routes) and the accounts with an overdraft limit.
 */
export async function seed(
  pool: Pool,
  client: HttpClient,
  opts: BenchOptions,
  spec: RunSpec,
  scenario: Scenario,
): Promise<{ ids: string[]; disputes: boolean; features: Features }> {
  const fundStart = Date.now();
  const { ids, depositIds } = await seedFundedAccounts(pool, scenario.accounts, scenario.funding, opts.partitions);
  const firstDeposit = depositIds[0];
  process.stderr.write(`  seeded ${ids.length} funded accounts in ${round((Date.now() - fundStart) / 1000)} s\n`);

  // Disputes exist when the API accepts one on a completed deposit (mixed only).
  let disputes = false;
  if (spec.scenario === "mixed" && firstDeposit) {
    const probe = await client.post(`/api/v1/payments/${firstDeposit}/dispute`, {}, { wantBody: true });
    disputes = probe.status === 202;
    if (disputes) {
      // Resolved again, so that the first account (one of the overdraft accounts) has its funding back before the load.
      await waitSettled(pool, opts.settleTimeoutS);
      await client.post(`/api/v1/payments/${firstDeposit}/resolve`, {});
      await waitSettled(pool, opts.settleTimeoutS);
    }
  }
  const features: Features = { disputes };
  if (spec.scenario === "mixed") {
    const reply = await client.get("/api/v1/openapi.json", { wantBody: true });
    const paths = reply.status === 200 ? ((JSON.parse(reply.body ?? "{}") as { paths?: Record<string, Record<string, unknown>> }).paths ?? {}) : {};
    features.refunds = "/api/v1/payments/{id}/refunds" in paths;
    features.authorizations = "/api/v1/payments/{id}/capture" in paths && "/api/v1/payments/{id}/void" in paths;
    features.overdrafts = "patch" in (paths["/api/v1/accounts/{id}"] ?? {});
    process.stderr.write(
      `  the API has: ${Object.entries(features)
        .map(([k, v]) => `${k} ${v ? "yes" : "no"}`)
        .join(", ")}\n`,
    );
    if (features.overdrafts && scenario.overdraft) await setOverdrafts(pool, client, opts, ids.slice(0, scenario.overdraft.accounts), scenario.overdraft);
  }
  return { ids, disputes, features };
}

/**
 * Gives `accounts` an overdraft limit (PATCH, role admin: the bench's API runs without keys) and
 * withdraws most of their funding, through the API, before the measured load; waits until settled.
 */
async function setOverdrafts(pool: Pool, client: HttpClient, opts: BenchOptions, accounts: string[], o: { limit: string; withdraw: string }): Promise<void> {
  const started = Date.now();
  const todo = [...accounts];
  const one = async () => {
    for (let id = todo.shift(); id; id = todo.shift()) {
      const patch = await client.request("PATCH", `/api/v1/accounts/${id}`, JSON.stringify({ overdraft_limit: o.limit }), { wantBody: true });
      if (patch.status !== 200) throw new Error(`PATCH /api/v1/accounts/${id}: ${patch.status} ${patch.body ?? ""}`);
      const w = await client.post("/api/v1/withdrawals", { account_id: id, amount: o.withdraw }, { wantBody: true });
      if (w.status !== 202) throw new Error(`POST /api/v1/withdrawals: ${w.status} ${w.body ?? ""}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, accounts.length) }, one));
  if (!(await waitSettled(pool, opts.settleTimeoutS))) throw new Error("the overdraft accounts' withdrawals did not settle in time");
  process.stderr.write(
    `  ${accounts.length} accounts with an overdraft limit of ${o.limit}, ${o.withdraw} of each withdrawn, in ${round((Date.now() - started) / 1000)} s\n`,
  );
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
