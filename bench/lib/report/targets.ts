// The run's targets, judged from its own measurements.
import { round } from "../stats";
import { median, plannedSpecs, rateTitle, scenarioTitle, specName, summarise, workerCurves, type BenchResult, type SpecSummary, type Target } from "./model";

/**
 * The targets, on medians over repeats when the plan was repeated (a noisy machine: one run of
 * each proves little). In a worker curve, a scenario's targets use its run with the most workers.
 * A target this run could not measure says why, so a reader knows what to run to measure it.
 */
export function evaluateTargets(result: Pick<BenchResult, "runs" | "pgbench" | "options"> & { errors?: string[] }): Target[] {
  const summaries = summarise(result.runs);
  const get = (scenario: string, rate: number | "max"): SpecSummary | undefined =>
    summaries.filter((s) => s.scenario === scenario && s.rate === rate).sort((a, b) => (b.workers ?? Infinity) - (a.workers ?? Infinity))[0];
  const over = (s: SpecSummary) => `${s.runs > 1 ? `median over ${s.runs} runs` : "one run"}${s.workers === undefined ? "" : `, ${s.workers} workers`}`;
  const clients = result.options.concurrency;
  const xfer = result.pgbench.find((p) => p.script === "transfer");
  const errors = result.errors ?? [];
  const planned = plannedSpecs(result.options);
  const targets: Target[] = [];
  const notMeasured = (target: string, why: string) => targets.push({ target, value: `not measured in this run: ${why}`, met: null });
  /** Why scenario@rate has no result: not planned, failed, or not reached yet (a report written mid-run). */
  const missing = (spec: string) =>
    !planned.includes(spec)
      ? `scenario ${spec} not in the plan`
      : errors.some((e) => e.startsWith(`${spec}:`))
        ? `scenario ${spec} failed (see Errors)`
        : `scenario ${spec} has not run yet`;
  const named = (scenario: string, rate: number | "max", what: string, c = clients) => `${scenarioTitle(scenario)}, ${rateTitle(rate, c)}: ${what}`;

  const vsTransfer = (scenario: string) => {
    const target = named(scenario, "max", "≥ 1.0× pgbench's transfer script (one transfer per transaction, measured just before)");
    const s = get(scenario, "max");
    if (!s) return notMeasured(target, missing(`${scenario}@max`));
    if (s.ratioAdjacent !== null)
      return targets.push({
        target,
        value: `${s.settledPerS} settled/s ÷ ${s.adjacentTransferTps} tps = ${s.ratioAdjacent}× (${over(s)})`,
        met: s.ratioAdjacent >= 1 && !s.broken,
      });
    if (!xfer) return notMeasured(target, result.options.pgbench ? "pgbench failed (see Errors)" : "pgbench was not run (--pgbench false)");
    const ratio = round(s.settledPerS / xfer.tps, 3);
    targets.push({
      target,
      value: `${s.settledPerS} settled/s ÷ ${xfer.tps} tps (the run's first transfer measurement) = ${ratio}× (${over(s)})`,
      met: ratio >= 1 && !s.broken,
    });
  };
  const vsPeer = (scenario: string, peer: "naive" | "careful", factor: number, onlyAtClients?: number) => {
    const endpoint = peer === "naive" ? "the naive endpoint" : "the careful synchronous endpoint";
    const target = named(scenario, "max", `≥ ${factor.toFixed(1)}× ${endpoint}`, onlyAtClients ?? clients);
    if (onlyAtClients !== undefined && clients !== onlyAtClients)
      return notMeasured(target, `needs ${onlyAtClients} clients (--concurrency ${onlyAtClients}); this run used ${clients}`);
    const s = get(scenario, "max");
    if (!s) return notMeasured(target, missing(`${scenario}@max`));
    const ratio = peer === "naive" ? s.ratioNaive : s.ratioCareful;
    if (ratio === null)
      return notMeasured(target, result.options[peer] ? `${endpoint} processed nothing (see its run below)` : `${endpoint} was not run (--${peer} false)`);
    const perS = peer === "naive" ? s.naivePerS : s.carefulPerS;
    const broke = peer === "naive" ? s.naiveBrokenMax : s.carefulBrokenMax;
    targets.push({
      target,
      value: `${s.settledPerS} ÷ ${perS}/s = ${ratio}× (${over(s)}; ${peer} broke ${broke} invariants, Settle ${s.broken ? "BROKE one" : "none"})`,
      met: ratio >= factor && !s.broken,
    });
  };

  vsTransfer("uniform");
  vsPeer("uniform", "naive", 1.0);
  vsPeer("uniform", "careful", 1.0);
  vsPeer("hot-merchant", "careful", 1.5);
  vsPeer("contended", "careful", 1.5);
  vsPeer("uniform", "naive", 1.5, 64);
  vsTransfer("uniform-batch");

  const u1000 = get("uniform", 1000);
  const openTargets = [
    "everything offered accepted and settled",
    "accept p99 ≤ 50 ms",
    "accepted-to-settled p99 ≤ 250 ms",
    "≤ 0.2 Redis commands per payment",
    "≤ 1.2 ms of Settle CPU per payment (API + workers + their PostgreSQL backends + Redis)",
  ].map((what) => named("uniform", 1000, what));
  if (u1000) {
    const all = u1000.allOfferedSettled;
    const unless = all ? "" : "; not everything offered was accepted and settled";
    targets.push({ target: openTargets[0]!, value: `${u1000.offeredDetail} (${over(u1000)})`, met: all });
    targets.push({
      target: openTargets[1]!,
      value: `p99 ${u1000.acceptP99} ms (${over(u1000)}; accepted ${u1000.acceptedPerS}/s${unless})`,
      met: u1000.acceptP99 <= 50 && all,
    });
    targets.push({
      target: openTargets[2]!,
      value: `p99 ${u1000.settleP99} ms (${over(u1000)}; settled ${u1000.settledPerS}/s${unless})`,
      met: u1000.settleP99 <= 250 && all,
    });
    if (u1000.redisCommandsPerPayment === null) notMeasured(openTargets[3]!, "Redis INFO commandstats was not available");
    else
      targets.push({
        target: openTargets[3]!,
        value: `${u1000.redisCommandsPerPayment} commands (${u1000.scriptCallsPerPayment} top-level script calls) per settled payment (${over(u1000)})`,
        met: u1000.redisCommandsPerPayment <= 0.2,
      });
    targets.push({ target: openTargets[4]!, value: `${u1000.settleCpuMsPerPayment} ms (${over(u1000)})`, met: u1000.settleCpuMsPerPayment <= 1.2 });
  } else for (const t of openTargets) notMeasured(t, missing("uniform@1000"));

  const hot = get("hot-merchant", "max");
  const u = get("uniform", "max");
  const hotTarget = named("hot-merchant", "max", "settled/s ≥ 0.9× uniform load's");
  if (hot && u) {
    const ratio = round(hot.settledPerS / u.settledPerS, 3);
    targets.push({ target: hotTarget, value: `${hot.settledPerS} ÷ ${u.settledPerS} = ${ratio}× (${over(hot)})`, met: ratio >= 0.9 && !hot.broken });
  } else notMeasured(hotTarget, [hot ? undefined : missing("hot-merchant@max"), u ? undefined : missing("uniform@max")].filter(Boolean).join("; "));

  const withNaive = summaries.filter((s) => s.ratioNaive !== null);
  const tenX = "Every max-throughput scenario: ≥ 10× the naive endpoint, with no broken invariant";
  if (withNaive.length)
    targets.push({
      target: tenX,
      value: withNaive
        .map((s) => `${s.spec}: ${s.ratioNaive}× (naive broke up to ${s.naiveBrokenMax}; Settle ${s.broken ? "BROKE one" : "broke none"})`)
        .join("; "),
      met: withNaive.every((s) => (s.ratioNaive ?? 0) >= 10 && !s.broken),
    });
  else notMeasured(tenX, result.options.naive ? "no max-throughput scenario finished" : "the naive endpoint was not run (--naive false)");

  const curves = workerCurves(summaries);
  const curveTarget = "More worker processes: settled/s at every worker count ≥ 0.9× the best count's";
  if (curves.length) {
    targets.push({
      target: curveTarget,
      value: curves.map((c) => `${c.spec}: ${c.points.map((p) => `${p.workers} → ${p.settledPerS}/s (${p.ratioToBest}×)`).join(", ")}`).join("; "),
      met: curves.every((c) => c.points.every((p) => p.ratioToBest >= 0.9 && !p.broken)),
    });
  } else notMeasured(curveTarget, `needs a scenario at several worker counts (--workers 1,2,4); this run used ${[result.options.workers].flat().join(", ")}`);

  // Flat: the median RSS of the last minute is within 10 % of the second minute's (the first is warm-up).
  const memTarget = "10-minute run: API and worker memory (RSS) flat";
  const long = result.runs.filter((r) => (r.settle.load.endedAt - r.settle.load.startedAt) / 1000 >= 600 && r.settle.memorySeries);
  if (long.length) {
    const checks = long.flatMap((r) =>
      Object.entries(r.settle.memorySeries).map(([proc, v]) => {
        const early = median(v.slice(60, 120));
        const late = median(v.slice(-60));
        return {
          text: `${specName(r.settle)} ${proc}: ${early} → ${late} MiB (minute 2 → last minute), Redis keys after drain ${r.settle.redisKeys}`,
          ok: late <= early * 1.1,
        };
      }),
    );
    targets.push({ target: memTarget, value: checks.map((c) => c.text).join("; "), met: checks.every((c) => c.ok) });
  } else {
    const longest = Math.max(0, ...result.runs.map((r) => (r.settle.load.endedAt - r.settle.load.startedAt) / 1000));
    notMeasured(memTarget, `needs a run of 10 minutes (--duration 600); the longest here was ${round(longest)} s`);
  }
  return targets;
}

/** A target's state in words (the reports never print a bare "n/a"). */
export const targetStatus = (t: Target): string => (t.met === null ? "not measured" : t.met ? "met" : "missed");
