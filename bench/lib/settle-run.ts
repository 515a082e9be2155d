// One Settle run of a scenario, step by step (each step in bench/lib/settle/): start the system,
// seed, warm up, measure the load, drain, collect the measurements, check the invariants.
import path from "node:path";
import { createPool } from "@settle/core";
import { HttpClient } from "@settle/core/testing";
import { onInterrupt, stopChild } from "./children";
import { recreateDatabase } from "./database";
import { specLabel, type BenchOptions, type RunSpec } from "./options";
import { redisCommandStats, redisSnapshot, redisStatsConnection } from "./redis-stats";
import { scenarioCatalog } from "./scenarios";
import { drain, operationsTable } from "./settle/drain";
import { checkInvariants } from "./settle/invariants";
import { applyLoad } from "./settle/load-phase";
import { jobStats, memoryFigures, perSecondSeries, settledPayments, settleProfile, startMeasuring, writeCpuProfileWindows } from "./settle/measure";
import { settleOperations } from "./settle/operations";
import { seed, warmUp } from "./settle/prepare";
import { countPrefix, deletePrefix } from "./settle/redis-keys";
import { startSystem } from "./settle/system";
import { PaymentTracker } from "./settle/tracker";
import { BenchWebhookReceiver } from "./settle/webhooks";
import type { SettleRunResult } from "./settle/types";
import { EMPTY_PERCENTILES, percentiles, round } from "./stats";

export { deletePrefix, deleteStaleBenchPrefixes } from "./settle/redis-keys";
export type { CpuShare, SettleProfile, SettleRunResult } from "./settle/types";

/** One Settle run of a scenario: fresh database and queue prefix, API + N workers, load, drain, checks. */
export async function runSettle(opts: BenchOptions, spec: RunSpec, index: number, dirs: { logs: string; cpuProf?: string }): Promise<SettleRunResult> {
  const scenario = scenarioCatalog[spec.scenario];
  const workerCount = spec.workers ?? opts.workers[0]!;
  const batchItems = scenario.batch ? opts.batchItems : undefined;
  const dbName = "settle_bench";
  const prefix = `bench-${opts.runId}-${index}`;
  const runName = `${index}-${spec.scenario}-${spec.rate}${spec.workers === undefined ? "" : `-${spec.workers}w`}`;
  const dbUrl = await recreateDatabase(opts.databaseUrl, dbName, { migrate: true });
  const forgetPrefix = onInterrupt(() => deletePrefix(opts.redis, prefix));
  const pool = createPool({ url: dbUrl, max: 2, applicationName: "settle-bench" });
  const receiver = opts.webhooks ? await BenchWebhookReceiver.start(path.join(dirs.logs, runName)) : undefined;
  const { procs, baseUrl } = await startSystem(
    opts,
    workerCount,
    dbUrl,
    prefix,
    path.join(dirs.logs, runName),
    dirs.cpuProf ? path.join(dirs.cpuProf, runName) : undefined,
  );
  const all = [procs.api, ...procs.workers, ...procs.webhookWorkers];
  // Measured and shown beside Settle's processes, never counted as Settle's CPU.
  const measured = receiver ? [...all, receiver.child] : all;
  const redisStats = redisStatsConnection(opts.redis);
  const client = new HttpClient(baseUrl, Math.max(opts.concurrency, opts.maxInFlight, 64));
  try {
    await receiver?.subscribe(baseUrl);
    const { ids, disputes, features } = await seed(pool, client, opts, spec, scenario);
    await warmUp(pool, client, opts, spec, ids);

    const measurement = await startMeasuring(pool, dbName, opts.redis, measured);
    // The operation stream: seeded, so the naive run of this scenario offers the same one. mixed
    // tracks the payments its later operations (refunds, captures, voids, dispute steps) act on.
    const tracker = spec.scenario === "mixed" ? new PaymentTracker(pool, await operationsTable(pool)) : undefined;
    const operations = settleOperations(scenario.intents(opts.seed + index, features), { scenario: spec.scenario, ids, batchItems, tracker });
    const label = `settle ${specLabel(spec)}`;
    const redisBefore = await redisSnapshot(redisStats).catch(() => undefined);
    tracker?.start();
    const load = await applyLoad(pool, client, operations.next, opts, spec, label, batchItems).finally(() => tracker?.stop());
    const { drained, drainS } = await drain(pool, opts, label, load);
    const redisAfter = redisBefore ? await redisSnapshot(redisStats).catch(() => undefined) : undefined;
    process.stderr.write("\n");
    // After the measured window: catching up on deliveries is reported, not counted as settling.
    const webhooks = await receiver?.figures(pool, opts.settleTimeoutS);

    if (dirs.cpuProf) writeCpuProfileWindows(path.join(dirs.cpuProf, runName), all, load);
    const usage = await measurement.finish();
    const payments = await settledPayments(pool, measurement.boundary, load);
    const { settled } = payments;
    const profile = settleProfile(
      usage,
      settled,
      redisBefore && redisAfter ? redisCommandStats(redisBefore, redisAfter, settled) : undefined,
      await jobStats(opts, prefix),
    );
    const redisKeys = await countPrefix(opts.redis, prefix).catch(() => -1);
    const invariants = await checkInvariants(pool, operations.debits, { drained, settleTimeoutS: opts.settleTimeoutS });

    const loadS = (load.endedAt - load.startedAt) / 1000;
    const accepted = Object.values(load.okByKind).reduce((a, n) => a + n, 0);
    const failures: Record<string, number> = { ...load.failures };
    for (const [k, n] of Object.entries(payments.outcomes)) if (k.includes("failed") || k.includes("rejected")) failures[`settled as ${k}`] = n;
    const { perSecond: _ps, ...loadSummary } = load;
    return {
      system: "settle",
      spec,
      workers: workerCount,
      batchItems,
      broken: invariants.some((i) => !i.ok),
      disputes,
      ...(spec.scenario === "mixed" ? { features: Object.keys(features).filter((k) => features[k as keyof typeof features]) } : {}),
      ...(scenario.settleOnly ? { note: scenario.settleOnly } : {}),
      load: loadSummary,
      offered: load.offered,
      accepted,
      acceptedPerS: round(accepted / loadS),
      settled,
      settledPerS: round(settled / Math.max(0.001, (payments.lastProcessed - load.startedAt) / 1000)),
      settledPerSDuringLoad: round(payments.settledDuringLoad / loadS),
      drainS: round(drainS),
      acceptLatency: load.latency,
      settleLatency: payments.settleLatencies.length ? percentiles(payments.settleLatencies) : EMPTY_PERCENTILES,
      outcomes: payments.outcomes,
      failures,
      invariants,
      series: perSecondSeries(load, payments),
      redisKeys,
      ...memoryFigures(usage.rss),
      profile,
      ...(webhooks ? { webhooks } : {}),
    };
  } finally {
    client.close();
    redisStats.disconnect();
    await Promise.all(all.map((c) => stopChild(c)));
    await pool.end();
    await receiver?.close();
    await deletePrefix(opts.redis, prefix).catch(() => 0);
    forgetPrefix();
  }
}
