import fs from "node:fs";
import path from "node:path";
import type { CarefulRunResult } from "./careful-run";
import type { CpuProfileSummary } from "./cpu-profile";
import type { NaiveRunResult } from "./naive-run";
import { specLabel, type BenchOptions } from "./options";
import type { PgbenchResult } from "./pgbench";
import type { SpanProfile } from "./profile";
import type { SettleRunResult } from "./settle-run";
import { round, type Percentiles } from "./stats";
import { barChart, lineChart } from "./svg";

export interface Target {
  target: string;
  value: string;
  met: boolean | null;
}

export interface BenchResult {
  runId: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  /** `workers` is a list since worker curves exist (a number in older results). */
  options: Omit<BenchOptions, "plan" | "workers"> & { plan: string; workers: number[] | number };
  pgbench: PgbenchResult[];
  runs: { settle: SettleRunResult; naive?: NaiveRunResult; careful?: CarefulRunResult; ratios: Record<string, number | null> }[];
  targets: Target[];
  spanProfile?: SpanProfile;
  cpuProfiles?: CpuProfileSummary[];
  errors: string[];
}

const specName = (r: { spec: SettleRunResult["spec"] }) => specLabel(r.spec);
const SHARED_PEERS = "in a worker curve the naive and careful servers (which have no workers) run once per scenario, with its first worker count, and stand beside every count";
/** Notes on what the peers were offered, once each. */
const peerNotes = (r: BenchResult): string[] => {
  const notes = new Set(r.runs.flatMap((run) => [run.naive?.note, run.careful?.note].filter((n): n is string => !!n)));
  if (r.runs.some((run) => run.settle.spec.workers !== undefined && (run.naive || run.careful))) notes.add(SHARED_PEERS);
  return [...notes];
};
const ms = (p: Percentiles) => `${round(p.p50)} / ${round(p.p95)} / ${round(p.p99)} / ${round(p.max)}`;

/** Settle's CPU ms per settled payment (API + workers + their PostgreSQL backends + Redis); recomputed for results older than the field. */
export function settleCpu(s: SettleRunResult): SettleRunResult["profile"]["settleCpuMsPerPayment"] {
  if (s.profile.settleCpuMsPerPayment) return s.profile.settleCpuMsPerPayment;
  const sum = (pick: (p: string) => boolean) => round(s.profile.cpu.filter((c) => pick(c.process)).reduce((a, c) => a + c.msPerPayment, 0), 3);
  const parts = { api: sum((p) => p === "api"), workers: sum((p) => p.startsWith("worker-")), postgres: sum((p) => /^postgres \(settle-(api|worker)/.test(p)), redis: sum((p) => p.startsWith("redis-server")) };
  return { ...parts, total: round(parts.api + parts.workers + parts.postgres + parts.redis, 3) };
}

/** The unloaded span profile as table rows (span, percentiles, mean), for the HTML and Markdown reports. */
function spanRows(sp: SpanProfile, digits: number): (string | number)[][] {
  const row = (label: string, p: Percentiles) => [label, ms(p), round(p.mean, digits)];
  return [
    row("HTTP POST /api/v1/payments (whole accept, client side)", sp.accept.httpPost),
    row("HTTP GET /healthz (Express + middleware, no I/O)", sp.accept.httpHealthz),
    row("insertPayment: one INSERT … RETURNING, autocommit", sp.accept.insertPayment),
    row("BullMQ add (the partition's wake-up)", sp.accept.bullmqAdd),
    ["rest of the accept (POST − INSERT − add): HTTP, JSON, zod, routing, logging", "", sp.accept.httpAndValidationMeanMs],
    row("queue wait: job added → picked up", sp.hop.queueWait),
    row("job processing: picked up → finished", sp.hop.jobProcessing),
    row("created_at → processed_at", sp.hop.createdToProcessed),
  ];
}

export function ratiosFor(settle: SettleRunResult, naive: NaiveRunResult | undefined, careful: CarefulRunResult | undefined, pgbench: PgbenchResult[]): Record<string, number | null> {
  const tpcb = pgbench.find((p) => p.script === "tpcb-like");
  const xfer = pgbench.find((p) => p.script === "transfer");
  return {
    "settled/s ÷ pgbench tpcb-like tps": tpcb ? round(settle.settledPerS / tpcb.tps, 3) : null,
    "settled/s ÷ pgbench transfer tps": xfer ? round(settle.settledPerS / xfer.tps, 3) : null,
    "settled/s ÷ naive processed/s": naive && naive.processedPerS > 0 ? round(settle.settledPerS / naive.processedPerS, 2) : null,
    "settled/s ÷ careful processed/s": careful && careful.processedPerS > 0 ? round(settle.settledPerS / careful.processedPerS, 2) : null,
    "settled/s ÷ adjacent pgbench transfer tps": settle.adjacentTransferTps ? round(settle.settledPerS / settle.adjacentTransferTps, 3) : null,
  };
}

export interface SpecSummary {
  spec: string;
  scenario: string;
  rate: number | "max";
  /** Set in a worker curve only. */
  workers?: number;
  runs: number;
  settledPerS: number;
  acceptedPerS: number;
  acceptP99: number;
  settleP99: number;
  adjacentTransferTps: number | null;
  ratioAdjacent: number | null;
  naivePerS: number | null;
  ratioNaive: number | null;
  carefulPerS: number | null;
  ratioCareful: number | null;
  broken: boolean;
  naiveBrokenMax: number | null;
  carefulBrokenMax: number | null;
  /** Every repeat accepted every payment offered, with no failure, and settled all it accepted. */
  allOfferedSettled: boolean;
  offeredDetail: string;
  redisCommandsPerPayment: number | null;
  scriptCallsPerPayment: number | null;
  settleCpuMsPerPayment: number;
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  if (!s.length) return 0;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const medianOrNull = (v: (number | null | undefined)[]): number | null => {
  const xs = v.filter((x): x is number => typeof x === "number");
  return xs.length ? median(xs) : null;
};
const failureCount = (s: SettleRunResult) => Object.entries(s.load.failures).reduce((a, [, n]) => a + n, 0);

/** Medians over the repeats of each scenario@rate (and worker count, in a worker curve); one value each when --repeat is 1. */
export function summarise(runs: BenchResult["runs"]): SpecSummary[] {
  const by = new Map<string, BenchResult["runs"]>();
  for (const r of runs) by.set(specName(r.settle), [...(by.get(specName(r.settle)) ?? []), r]);
  return [...by].map(([spec, rs]) => {
    const first = rs[0]!.settle.spec;
    // Older results have no offered/accepted counts: the load's sent and accepted requests stand in.
    const offered = (s: SettleRunResult) => s.offered ?? s.load.sent;
    const accepted = (s: SettleRunResult) => s.accepted ?? Object.values(s.load.okByKind).reduce((a, n) => a + n, 0);
    const allOfferedSettled = rs.every((r) => accepted(r.settle) >= offered(r.settle) && failureCount(r.settle) === 0 && r.settle.settled >= accepted(r.settle) && !r.settle.broken);
    return {
      spec,
      scenario: first.scenario,
      rate: first.rate,
      workers: first.workers,
      runs: rs.length,
      settledPerS: round(median(rs.map((r) => r.settle.settledPerS))),
      acceptedPerS: round(median(rs.map((r) => r.settle.acceptedPerS))),
      acceptP99: round(median(rs.map((r) => r.settle.acceptLatency.p99))),
      settleP99: round(median(rs.map((r) => r.settle.settleLatency.p99))),
      adjacentTransferTps: medianOrNull(rs.map((r) => r.settle.adjacentTransferTps)),
      ratioAdjacent: medianOrNull(rs.map((r) => r.ratios["settled/s ÷ adjacent pgbench transfer tps"])),
      naivePerS: medianOrNull(rs.map((r) => r.naive?.processedPerS)),
      ratioNaive: medianOrNull(rs.map((r) => r.ratios["settled/s ÷ naive processed/s"])),
      carefulPerS: medianOrNull(rs.map((r) => r.careful?.processedPerS)),
      ratioCareful: medianOrNull(rs.map((r) => r.ratios["settled/s ÷ careful processed/s"])),
      broken: rs.some((r) => r.settle.broken),
      naiveBrokenMax: rs.some((r) => r.naive) ? Math.max(...rs.map((r) => r.naive?.brokenCount ?? 0)) : null,
      carefulBrokenMax: rs.some((r) => r.careful) ? Math.max(...rs.map((r) => r.careful?.brokenCount ?? 0)) : null,
      allOfferedSettled,
      offeredDetail: rs.map((r) => `offered ${offered(r.settle)}, accepted ${accepted(r.settle)}, settled ${r.settle.settled}, failed ${failureCount(r.settle)}`).join("; "),
      redisCommandsPerPayment: medianOrNull(rs.map((r) => r.settle.profile.redis?.redisCommandsPerPayment)),
      scriptCallsPerPayment: medianOrNull(rs.map((r) => r.settle.profile.redis?.scriptCallsPerPayment)),
      settleCpuMsPerPayment: round(median(rs.map((r) => settleCpu(r.settle).total)), 3),
    };
  });
}

/** Worker curves: for each scenario@rate run at several worker counts, settled/s per count and its ratio to the best. */
export function workerCurves(summaries: SpecSummary[]): { spec: string; points: { workers: number; settledPerS: number; ratioToBest: number; broken: boolean }[] }[] {
  const by = new Map<string, SpecSummary[]>();
  for (const s of summaries) if (s.workers !== undefined) by.set(`${s.scenario}@${s.rate}`, [...(by.get(`${s.scenario}@${s.rate}`) ?? []), s]);
  return [...by]
    .filter(([, ss]) => ss.length > 1)
    .map(([spec, ss]) => {
      const best = Math.max(...ss.map((s) => s.settledPerS));
      return { spec, points: ss.sort((a, b) => a.workers! - b.workers!).map((s) => ({ workers: s.workers!, settledPerS: s.settledPerS, ratioToBest: best ? round(s.settledPerS / best, 3) : 0, broken: s.broken })) };
    });
}

/** How the report names a scenario to a reader; the plan's names are for the command line. */
const SCENARIO_TITLES: Record<string, string> = {
  uniform: "Uniform load",
  "uniform-batch": "Batch intake",
  "hot-merchant": "Hot merchant",
  contended: "Contended accounts",
  mixed: "Mixed operations",
};
/** What each scenario sends, in a few words, for the opening paragraph. */
const SCENARIO_WHAT: Record<string, string> = {
  uniform: "transfers between random pairs of 10,000 accounts",
  "uniform-batch": "the same transfers sent to Settle in batch requests",
  "hot-merchant": "a fifth of all transfers paid to one merchant account",
  contended: "transfers among only 100 accounts",
  mixed: "transfers, deposits, withdrawals and disputes",
};
const scenarioTitle = (scenario: string): string => SCENARIO_TITLES[scenario] ?? scenario;
const num = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 2 });
const rateTitle = (rate: number | "max", clients: number): string => (rate === "max" ? `max throughput (${clients} clients)` : `${num(rate)} payments/s offered`);

/** The plan's entries as `scenario@rate` (worker counts and repeats folded), in plan order. */
function plannedSpecs(options: BenchResult["options"]): string[] {
  // A worker curve's labels contain commas ("uniform@max, 2 workers"), so its plan is joined with "; ".
  const entries = options.plan.split(options.plan.includes("; ") ? "; " : ",").map((e) => e.split(",")[0]!.trim());
  return [...new Set(entries.filter(Boolean))];
}

/** Plan entries finished (measured or failed) and planned: the report is rewritten after each. */
export function runProgress(r: Pick<BenchResult, "runs" | "options" | "errors">): { done: number; planned: number } {
  const planned = r.options.plan.split(r.options.plan.includes("; ") ? "; " : ",").filter((e) => e.trim()).length;
  const failed = r.errors.filter((e) => /^[\w-]+@(max|\d+(\.\d+)?)\b/.test(e)).length;
  return { done: Math.min(planned, r.runs.length + failed), planned };
}

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
    !planned.includes(spec) ? `scenario ${spec} not in the plan` : errors.some((e) => e.startsWith(`${spec}:`)) ? `scenario ${spec} failed (see Errors)` : `scenario ${spec} has not run yet`;
  const named = (scenario: string, rate: number | "max", what: string, c = clients) => `${scenarioTitle(scenario)}, ${rateTitle(rate, c)}: ${what}`;

  const vsTransfer = (scenario: string) => {
    const target = named(scenario, "max", "≥ 1.0× pgbench's transfer script (one transfer per transaction, measured just before)");
    const s = get(scenario, "max");
    if (!s) return notMeasured(target, missing(`${scenario}@max`));
    if (s.ratioAdjacent !== null) return targets.push({ target, value: `${s.settledPerS} settled/s ÷ ${s.adjacentTransferTps} tps = ${s.ratioAdjacent}× (${over(s)})`, met: s.ratioAdjacent >= 1 && !s.broken });
    if (!xfer) return notMeasured(target, result.options.pgbench ? "pgbench failed (see Errors)" : "pgbench was not run (--pgbench false)");
    const ratio = round(s.settledPerS / xfer.tps, 3);
    targets.push({ target, value: `${s.settledPerS} settled/s ÷ ${xfer.tps} tps (the run's first transfer measurement) = ${ratio}× (${over(s)})`, met: ratio >= 1 && !s.broken });
  };
  const vsPeer = (scenario: string, peer: "naive" | "careful", factor: number, onlyAtClients?: number) => {
    const endpoint = peer === "naive" ? "the naive endpoint" : "the careful synchronous endpoint";
    const target = named(scenario, "max", `≥ ${factor.toFixed(1)}× ${endpoint}`, onlyAtClients ?? clients);
    if (onlyAtClients !== undefined && clients !== onlyAtClients) return notMeasured(target, `needs ${onlyAtClients} clients (--concurrency ${onlyAtClients}); this run used ${clients}`);
    const s = get(scenario, "max");
    if (!s) return notMeasured(target, missing(`${scenario}@max`));
    const ratio = peer === "naive" ? s.ratioNaive : s.ratioCareful;
    if (ratio === null) return notMeasured(target, result.options[peer] ? `${endpoint} processed nothing (see its run below)` : `${endpoint} was not run (--${peer} false)`);
    const perS = peer === "naive" ? s.naivePerS : s.carefulPerS;
    const broke = peer === "naive" ? s.naiveBrokenMax : s.carefulBrokenMax;
    targets.push({ target, value: `${s.settledPerS} ÷ ${perS}/s = ${ratio}× (${over(s)}; ${peer} broke ${broke} invariants, Settle ${s.broken ? "BROKE one" : "none"})`, met: ratio >= factor && !s.broken });
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
    targets.push({ target: openTargets[1]!, value: `p99 ${u1000.acceptP99} ms (${over(u1000)}; accepted ${u1000.acceptedPerS}/s${unless})`, met: u1000.acceptP99 <= 50 && all });
    targets.push({ target: openTargets[2]!, value: `p99 ${u1000.settleP99} ms (${over(u1000)}; settled ${u1000.settledPerS}/s${unless})`, met: u1000.settleP99 <= 250 && all });
    if (u1000.redisCommandsPerPayment === null) notMeasured(openTargets[3]!, "Redis INFO commandstats was not available");
    else targets.push({ target: openTargets[3]!, value: `${u1000.redisCommandsPerPayment} commands (${u1000.scriptCallsPerPayment} top-level script calls) per settled payment (${over(u1000)})`, met: u1000.redisCommandsPerPayment <= 0.2 });
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
  if (withNaive.length) targets.push({ target: tenX, value: withNaive.map((s) => `${s.spec}: ${s.ratioNaive}× (naive broke up to ${s.naiveBrokenMax}; Settle ${s.broken ? "BROKE one" : "broke none"})`).join("; "), met: withNaive.every((s) => (s.ratioNaive ?? 0) >= 10 && !s.broken) });
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
        return { text: `${specName(r.settle)} ${proc}: ${early} → ${late} MiB (minute 2 → last minute), Redis keys after drain ${r.settle.redisKeys}`, ok: late <= early * 1.1 };
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

/** The summary table printed at the end of a run (also pasted into BENCHMARKS.md). */
export function textSummary(r: BenchResult): string {
  const lines: string[] = [];
  const row = (cells: (string | number)[], widths: number[]) => cells.map((c, i) => String(c).padEnd(widths[i]!)).join("  ").trimEnd();
  lines.push(`Settle bench ${r.runId} — ${r.machine.cpus} cores, ${r.machine.memGiB} GiB, ${r.machine.postgres}, Redis ${r.machine.redis}; load avg at start ${r.machine.loadStart}, end ${r.machine.loadEnd}`);
  lines.push(`workers ${r.options.workers}, clients ${r.options.concurrency}, ${r.options.durationS} s per run, partitions ${r.options.partitions}${r.runs.some((run) => run.settle.batchItems) ? `, ${r.options.batchItems} payments per batch request` : ""}`);
  lines.push("");
  for (const p of r.pgbench) lines.push(`pgbench ${p.script.padEnd(9)}  ${p.tps} tps at ${p.clients} clients (latency avg ${p.latencyAvgMs} ms, failed ${p.failed}${p.cpuMsPerTx ? `; CPU per tx: postgres ${p.cpuMsPerTx.postgres} ms + pgbench ${p.cpuMsPerTx.pgbench} ms` : ""})`);
  lines.push("");
  const w = [Math.max(18, ...r.runs.map((run) => specName(run.settle).length)), 10, 9, 13, 30, 30, 7, 8, 11, 10, 13];
  lines.push(row(["run", "accepted/s", "settled/s", "pgbench xfer", "accept ms p50/95/99/max", "settled ms p50/95/99/max", "broken", "naive/s", "naive broke", "careful/s", "careful broke"], w));
  for (const run of r.runs) {
    const s = run.settle;
    const peer = (p: NaiveRunResult | CarefulRunResult | undefined) => (p ? [p.processedPerS, `${p.brokenCount} of ${p.invariants.length}`] : ["-", "-"]);
    lines.push(row([specName(s), s.acceptedPerS, s.settledPerS, s.adjacentTransferTps ?? "-", ms(s.acceptLatency), ms(s.settleLatency), s.broken ? "BROKEN" : "no", ...peer(run.naive), ...peer(run.careful)], w));
  }
  lines.push(...peerNotes(r).map((n) => `note: ${n}`));
  lines.push("");
  for (const run of r.runs) {
    const c = settleCpu(run.settle);
    lines.push(`${specName(run.settle)} Settle CPU per payment: ${c.total} ms (API ${c.api}, workers ${c.workers}, their PostgreSQL backends ${c.postgres}, Redis ${c.redis})`);
  }
  lines.push("");
  for (const run of r.runs) {
    const rs = run.settle.profile.redis;
    if (rs) lines.push(`${specName(run.settle)} Redis per payment: ${rs.redisCommandsPerPayment} commands, ${rs.scriptCallsPerPayment} top-level script calls; top: ${rs.top.map((t) => `${t.command} ${t.perPayment}`).join(", ")}`);
  }
  lines.push("");
  for (const run of r.runs) {
    const ratios = Object.entries(run.ratios)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k} = ${v}`)
      .join("; ");
    lines.push(`${specName(run.settle)}: ${ratios}`);
  }
  const summaries = summarise(r.runs);
  if (r.runs.length > summaries.length) {
    lines.push("", "medians over repeats:");
    const w2 = [Math.max(18, ...summaries.map((s) => s.spec.length)), 5, 10, 9, 13, 13, 13, 9, 11, 10, 10, 10];
    lines.push(row(["run", "runs", "accepted/s", "settled/s", "xfer tps", "÷ xfer tps", "accept p99", "settle p99", "naive/s", "÷ naive", "careful/s", "÷ careful"], w2));
    for (const s of summaries) lines.push(row([s.spec, s.runs, s.acceptedPerS, s.settledPerS, s.adjacentTransferTps ?? "-", s.ratioAdjacent ?? "-", s.acceptP99, s.settleP99, s.naivePerS ?? "-", s.ratioNaive ?? "-", s.carefulPerS ?? "-", s.ratioCareful ?? "-"], w2));
  }
  for (const curve of workerCurves(summaries)) {
    lines.push("", `workers curve, ${curve.spec}${r.runs.length > summaries.length ? " (medians)" : ""}:`);
    lines.push(row(["workers", "settled/s", "÷ best"], [8, 10, 7]));
    for (const p of curve.points) lines.push(row([p.workers, p.settledPerS, p.ratioToBest], [8, 10, 7]));
  }
  lines.push("");
  for (const t of r.targets) lines.push(`[${targetStatus(t)}] ${t.target}: ${t.met === null ? t.value.replace(/^not measured in this run: /, "") : t.value}`);
  if (r.errors.length) lines.push("", ...r.errors.map((e) => `error: ${e}`));
  return lines.join("\n");
}

const COLORS = { settle: "#2563eb", settle2: "#60a5fa", naive: "#dc2626", careful: "#16a34a", tpcb: "#6b7280", xfer: "#111827", p99: "#ea580c" };

const PROCESS_COLORS = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be123c"];

export function memoryChart(s: SettleRunResult): string {
  return lineChart({
    title: `${specName(s)}: resident memory (RSS) per process`,
    xLabel: "seconds since the load started",
    yLabel: "MiB",
    series: Object.entries(s.memorySeries ?? {}).map(([name, v], i) => ({ name, color: PROCESS_COLORS[i % PROCESS_COLORS.length]!, points: v.map((y, x) => [x, y] as [number, number]) })),
  });
}

export function runCharts(s: SettleRunResult): { throughput: string; latency: string } {
  const t = s.series;
  return {
    throughput: lineChart({
      title: `${specName(s)}: throughput per second`,
      xLabel: "seconds since the load started",
      yLabel: "payments / s",
      series: [
        { name: "accepted (202)", color: COLORS.settle2, points: t.map((p) => [p.second, p.accepted]) },
        { name: "settled", color: COLORS.settle, points: t.map((p) => [p.second, p.settled]) },
      ],
    }),
    latency: lineChart({
      title: `${specName(s)}: latency percentiles per second (by arrival)`,
      xLabel: "seconds since the load started",
      yLabel: "ms",
      series: [
        { name: "accept p50", color: COLORS.settle2, points: t.filter((p) => p.accepted).map((p) => [p.second, p.acceptP50]) },
        { name: "accept p99", color: COLORS.settle, points: t.filter((p) => p.accepted).map((p) => [p.second, p.acceptP99]) },
        { name: "accept→settled p50", color: "#f59e0b", points: t.filter((p) => p.settleP50).map((p) => [p.second, p.settleP50]), dashed: true },
        { name: "accept→settled p99", color: COLORS.p99, points: t.filter((p) => p.settleP99).map((p) => [p.second, p.settleP99]), dashed: true },
      ],
    }),
  };
}

export function comparisonChart(r: BenchResult): string {
  const bars: { label: string; value: number; color: string; note?: string }[] = [];
  for (const p of r.pgbench) bars.push({ label: `pgbench ${p.script} (start of run)`, value: p.tps, color: p.script === "transfer" ? COLORS.xfer : COLORS.tpcb, note: "tps" });
  const summaries = summarise(r.runs);
  const repeated = r.runs.length > summaries.length;
  for (const s of summaries) {
    const m = repeated ? ` (median of ${s.runs})` : "";
    if (s.adjacentTransferTps !== null) bars.push({ label: `pgbench transfer before ${s.spec}`, value: s.adjacentTransferTps, color: COLORS.xfer, note: `tps${m}` });
    bars.push({ label: `Settle ${s.spec}`, value: s.settledPerS, color: COLORS.settle, note: `${s.broken ? "BROKEN " : ""}settled/s${m}` });
    if (s.naivePerS !== null) bars.push({ label: `naive ${s.spec}`, value: s.naivePerS, color: COLORS.naive, note: `/s, broke ${s.naiveBrokenMax} invariants${m}` });
    if (s.carefulPerS !== null) bars.push({ label: `careful sync ${s.spec}`, value: s.carefulPerS, color: COLORS.careful, note: `/s, broke ${s.carefulBrokenMax} invariants${m}` });
  }
  return barChart({ title: `Same machine, same run (${r.runId}): transactions or payments per second`, unit: "", bars, width: 860 });
}

const escHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function table(headers: string[], rows: (string | number)[][]): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${escHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escHtml(String(c))}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

const listing = (xs: string[]): string => (xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`);
const plural = (n: number, one: string, many = `${one}s`) => `${num(n)} ${n === 1 ? one : many}`;

/**
 * The report's opening, in plain words and from the run's own data, so a reader knows the outcome
 * before the tables: first what was measured and against what, then what it came to on this machine.
 */
export function openingParagraphs(r: BenchResult): [string, string] {
  const o = r.options;
  const m = r.machine;
  const summaries = summarise(r.runs);
  const workers = [o.workers].flat();
  const what: string[] = [];
  const { done, planned } = runProgress(r);
  if (done < planned) what.push(`This report is partial: ${done} of ${planned} planned runs have finished, and it is rewritten after each.`);

  // Each scenario once, with its rates in plan order.
  const byScenario = new Map<string, string[]>();
  for (const spec of plannedSpecs(o)) {
    const [scenario = spec, rate = "max"] = spec.split("@");
    byScenario.set(scenario, [...(byScenario.get(scenario) ?? []), rate === "max" ? `at max throughput (${o.concurrency} clients, each sending as fast as it is answered)` : `at ${num(Number(rate))} payments/s offered`]);
  }
  const scenarios = [...byScenario].map(([s, rates]) => `${scenarioTitle(s).toLowerCase()}${SCENARIO_WHAT[s] ? ` (${SCENARIO_WHAT[s]})` : ""} ${listing(rates)}`);
  const workerText = workers.length > 1 ? `${listing(workers.map(String))} worker processes in turn` : plural(workers[0] ?? 1, "worker process", "worker processes");
  what.push(`Run ${r.runId} measured Settle end to end (HTTP accept, PostgreSQL, queue, settlement) under ${listing(scenarios)}: ${o.durationS} s of load each, with ${workerText} and ${o.partitions} partitions.`);
  const pg = /PostgreSQL (\S+)/.exec(String(m.postgres ?? ""))?.[1];
  const machine = `${m.cpus} cores, ${m.memGiB} GiB${pg ? `, PostgreSQL ${pg}` : ""}${m.redis ? `, Redis ${m.redis}` : ""}`;
  const peers = [
    o.naive && "the naive synchronous endpoint (check the balance, insert, update, without locks: concurrent payments break its invariants)",
    o.careful && "the careful synchronous endpoint (one transaction per payment that locks both accounts)",
    o.pgbench && "pgbench's transfer script (one transfer per transaction: what PostgreSQL alone can do)",
  ].filter((p): p is string => !!p);
  const sync = o.naive || o.careful ? `; the endpoints got the same payments in the max-throughput scenarios${o.naiveDurationS !== o.durationS ? `, ${o.naiveDurationS} s each` : ""}` : "";
  what.push(
    peers.length
      ? `Beside it, in the same run on the same machine (${machine}), it measured ${listing(peers)}${sync}.`
      : `Nothing else was measured beside it in this run (--naive false, --careful false, --pgbench false); the machine: ${machine}.`,
  );

  const outcome: string[] = [];
  const closed = summaries.filter((s) => s.rate === "max");
  const headline = closed.find((s) => s.scenario === "uniform") ?? closed[0];
  const xfer = r.pgbench.find((p) => p.script === "transfer");
  const under = (s: SpecSummary) => `${scenarioTitle(s.scenario).toLowerCase()} at ${s.rate === "max" ? "max throughput" : `${num(s.rate)} payments/s offered`}${s.workers === undefined ? "" : ` with ${plural(s.workers, "worker")}`}`;
  if (headline) {
    const vs: string[] = [];
    if (headline.ratioNaive !== null) vs.push(`${headline.ratioNaive}× the naive endpoint (${num(headline.naivePerS ?? 0)}/s${headline.naiveBrokenMax ? `, which broke ${plural(headline.naiveBrokenMax, "invariant")}` : ""})`);
    if (headline.ratioCareful !== null) vs.push(`${headline.ratioCareful}× the careful endpoint (${num(headline.carefulPerS ?? 0)}/s)`);
    if (headline.ratioAdjacent !== null) vs.push(`${round(headline.ratioAdjacent, 2)}× pgbench's ${num(headline.adjacentTransferTps ?? 0)} transfers/s measured just before`);
    else if (xfer) vs.push(`${round(headline.settledPerS / xfer.tps, 2)}× pgbench's ${num(xfer.tps)} transfers/s`);
    outcome.push(`On this machine, Settle settled ${num(headline.settledPerS)} payments/s under ${under(headline)}${vs.length ? `: ${listing(vs)}` : ""}.`);
    const others = closed.filter((s) => s.scenario !== headline.scenario);
    const other = (s: SpecSummary) => `${scenarioTitle(s.scenario).toLowerCase()} ${num(s.settledPerS)}/s${s.ratioNaive !== null ? ` (${s.ratioNaive}× the naive endpoint)` : s.ratioCareful !== null ? ` (${s.ratioCareful}× the careful endpoint)` : ""}`;
    if (others.length) outcome.push(`At max throughput it also settled ${listing(others.map(other))}.`);
  }
  for (const s of summaries.filter((x) => x.rate !== "max")) {
    const result = s.allOfferedSettled ? "it accepted and settled everything offered" : `it accepted ${num(s.acceptedPerS)}/s and settled ${num(s.settledPerS)}/s, not everything offered`;
    outcome.push(`At ${num(Number(s.rate))} payments/s offered (${scenarioTitle(s.scenario).toLowerCase()}), ${result}; 99 % of payments were accepted within ${num(Math.round(s.acceptP99))} ms and settled within ${num(Math.round(s.settleP99))} ms of that.`);
  }
  for (const curve of workerCurves(summaries)) outcome.push(`By worker count (${curve.spec}): ${curve.points.map((p) => `${p.workers} → ${num(p.settledPerS)}/s`).join(", ")}.`);
  if (!summaries.length) outcome.push("No scenario has finished yet (see Errors if the run has ended).");
  else {
    const broken = summaries.filter((s) => s.broken).map((s) => s.spec);
    outcome.push(broken.length ? `Settle BROKE an invariant in ${listing(broken)}: those figures do not count.` : "Settle broke none of its invariants.");
  }
  const count = (met: boolean | null) => r.targets.filter((t) => t.met === met).length;
  if (r.targets.length) outcome.push(`Of its ${r.targets.length} targets, ${count(true)} ${count(true) === 1 ? "was" : "were"} met, ${count(false)} missed and ${count(null)} not measured in this run (the table below says why).`);
  const load = Number(String(m.loadStart ?? "").split(" ")[0]);
  if (Number.isFinite(load) && typeof m.cpus === "number" && load >= m.cpus / 2) outcome.push(`The machine was busy (load average ${load} on ${m.cpus} cores at the start): compare ratios within one run, not absolute figures across runs.`);
  return [what.join(" "), outcome.join(" ")];
}

/** "2026-11-29T18:08:00.061Z" as "2026-11-29 18:08:00 UTC". */
const when = (iso: string): string => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");

/** Where BENCHMARKS.md is, relative to a report written to `<outDir>/<runId>/` under the repository root. */
function defaultBenchmarksHref(r: BenchResult): string | undefined {
  const out = r.options.outDir ?? "bench/results";
  if (path.isAbsolute(out)) return undefined;
  const depth = path.normalize(out).split(path.sep).filter((p) => p && p !== ".").length + 1;
  return `${"../".repeat(depth)}BENCHMARKS.md`;
}

/** A self-contained HTML report: inline SVG charts and tables, no scripts, no external assets. */
export function htmlReport(r: BenchResult, options: { benchmarksHref?: string } = {}): string {
  const sections: string[] = [];
  const { done, planned } = runProgress(r);
  const href = options.benchmarksHref ?? defaultBenchmarksHref(r);
  const benchmarks = href ? `<a href="${escHtml(href)}">BENCHMARKS.md</a>` : "BENCHMARKS.md";
  sections.push(`<h1>Settle benchmark, run ${escHtml(r.runId)}</h1>
    ${openingParagraphs(r).map((p) => `<p class="lead">${escHtml(p)}</p>`).join("\n")}
    <p class="status"><progress max="${planned}" value="${done}"></progress> ${done >= planned ? `Complete: ${planned} of ${planned} planned runs finished` : `${done} of ${planned} planned runs finished so far`} (started ${escHtml(when(r.startedAt))}, ${done >= planned ? "finished" : "last written"} ${escHtml(when(r.finishedAt))}).</p>
    <p class="meta">What the scenarios, the peers and the targets are, how to run them, and the reference figures: ${benchmarks} at the repository root.<br>
    Command: <code>${escHtml(r.command)}</code><br>Machine: ${escHtml(Object.entries(r.machine).map(([k, v]) => `${k}: ${v}`).join(" · "))}</p>`);
  // Measured targets first: those are the run's verdict; the unmeasured ones say what would measure them.
  const targets = [...r.targets.filter((t) => t.met !== null), ...r.targets.filter((t) => t.met === null)];
  sections.push(`<h2>Targets</h2><p>Each target compares Settle with a peer measured in this run, or bounds a figure of this run; ${benchmarks} lists them with the reference run's figures.</p>
    <table class="targets"><thead><tr><th>result</th><th>target</th><th>measured in this run</th></tr></thead><tbody>${targets
      .map((t) => `<tr class="${t.met === null ? "unmeasured" : t.met ? "met" : "missed"}"><td>${targetStatus(t)}</td><td>${escHtml(t.target)}</td><td>${escHtml(t.value)}</td></tr>`)
      .join("")}</tbody></table>`);
  if (r.errors.length) sections.push(`<h2>Errors</h2><pre>${escHtml(r.errors.join("\n\n"))}</pre>`);
  sections.push(`<h2>Side by side</h2>${comparisonChart(r)}<pre class="summary">${escHtml(textSummary(r))}</pre>`);
  for (const curve of workerCurves(summarise(r.runs))) sections.push(`<h2>Workers curve, ${escHtml(curve.spec)}</h2>${table(["workers", "settled/s", "÷ best"], curve.points.map((p) => [p.workers, p.settledPerS, p.ratioToBest]))}`);
  for (const run of r.runs) {
    const s = run.settle;
    const charts = runCharts(s);
    sections.push(`<h2>${escHtml(specName(s))} ${s.broken ? '<span class="bad">BROKEN</span>' : ""}</h2>
      <div class="charts">${charts.throughput}${charts.latency}${s.memorySeries ? memoryChart(s) : ""}</div>
      ${table(["metric", "value"], [
        ["accepted/s", s.acceptedPerS],
        ["settled/s end to end (first accept → last settle)", s.settledPerS],
        ["settled/s while the load ran", s.settledPerSDuringLoad],
        ["drain after the load (s)", s.drainS],
        ["accept latency p50/p95/p99/max ms", ms(s.acceptLatency)],
        ["accept→settled p50/p95/p99/max ms", ms(s.settleLatency)],
        ["requests sent", s.load.sent],
        ...(s.batchItems ? [["payments per batch request", s.batchItems] as [string, number]] : []),
        ["payments offered / accepted", `${s.offered ?? "-"} / ${s.accepted ?? "-"}`],
        ["Settle CPU ms per payment (API + workers + their PostgreSQL backends + Redis)", settleCpu(s).total],
        ...Object.entries(s.outcomes).map(([k, v]) => [`outcome: ${k}`, v] as [string, number]),
        ...Object.entries(s.failures).map(([k, v]) => [`failure: ${k}`, v] as [string, number]),
        ...Object.entries(run.ratios).map(([k, v]) => [k, v ?? "-"] as [string, number | string]),
      ])}
      <h3>Invariants</h3>${table(["", "invariant", "detail"], s.invariants.map((i) => [i.ok ? "ok" : "BROKEN", i.name, i.detail]))}
      <h3>CPU per process (ms per settled payment)</h3>${table(["process", "CPU s", "ms / payment"], s.profile.cpu.map((c) => [c.process, c.cpuS, c.msPerPayment]))}
      ${s.profile.redis ? `<h3>Redis commands (load start → drain end): ${s.profile.redis.redisCommandsPerPayment} per payment, ${s.profile.redis.scriptCallsPerPayment} top-level script calls per payment</h3>${table(["command", "calls", "per payment"], s.profile.redis.top.map((t) => [t.command, t.calls, t.perPayment]))}` : ""}
      <p>PostgreSQL: ${s.profile.pg.commits} commits (${s.profile.pg.commitsPerPayment} per payment), ${s.profile.pg.tuplesInsertedPerPayment} rows inserted and ${s.profile.pg.tuplesUpdatedPerPayment} updated per payment, ${s.profile.pg.rollbacks} rollbacks.
      BullMQ (last ${s.profile.jobs.sampled} jobs kept): ${s.profile.jobs.payingJobs} settled something (${s.profile.jobs.paymentsPerPayingJob} payments each), ${s.profile.jobs.emptyJobs} found nothing left; queue wait ${ms(s.profile.jobs.queueWait)} ms; processing ${ms(s.profile.jobs.processing)} ms.</p>
      <h3>Memory (RSS MiB; ${s.redisKeys} Redis keys left under the run's prefix after the drain)</h3>${table(["process", "start", "end", "max"], s.memory.map((m) => [m.process, m.rssStartMiB, m.rssEndMiB, m.rssMaxMiB]))}
      ${run.careful ? `<h3>Careful synchronous server, same ${run.careful.note ? "intents" : "scenario"}</h3><p>${run.careful.note ? `${escHtml(run.careful.note)}. ` : ""}${run.careful.processedPerS} requests/s answered (${run.careful.completedPerS}/s completed); latency ${ms(run.careful.latency)} ms</p>${table(["", "invariant", "detail"], run.careful.invariants.map((i) => [i.ok ? "ok" : "BROKEN", i.name, i.detail]))}${table(["failure", "count"], Object.entries(run.careful.failures))}` : ""}
      ${run.naive ? `<h3>Naive server, same ${run.naive.note ? "intents" : "scenario"}</h3><p>${run.naive.note ? `${escHtml(run.naive.note)}. ` : ""}${run.naive.processedPerS} requests/s answered (${run.naive.completedPerS}/s completed); latency ${ms(run.naive.latency)} ms</p>${table(["", "invariant", "detail"], run.naive.invariants.map((i) => [i.ok ? "ok" : "BROKEN", i.name, i.detail]))}${table(["failure", "count"], Object.entries(run.naive.failures))}` : ""}`);
  }
  if (r.pgbench.length) {
    sections.push(`<h2>pgbench</h2>${lineChart({
      title: "pgbench tps per second",
      xLabel: "s",
      yLabel: "tps",
      series: r.pgbench.map((p) => ({ name: p.script, color: p.script === "transfer" ? COLORS.xfer : COLORS.tpcb, points: p.perSecond.map((q) => [q.second, q.tps] as [number, number]) })),
    })}${table(["script", "tps", "latency avg ms", "failed", "CPU ms/tx postgres", "CPU ms/tx pgbench", "command"], r.pgbench.map((p) => [p.script, p.tps, p.latencyAvgMs, p.failed, p.cpuMsPerTx?.postgres ?? "-", p.cpuMsPerTx?.pgbench ?? "-", p.command]))}`);
  }
  if (r.spanProfile) {
    const sp = r.spanProfile;
    sections.push(`<h2>Where a payment's milliseconds go (unloaded, ${sp.samples} samples)</h2>
      ${table(["span", "p50 / p95 / p99 / max ms", "mean ms"], spanRows(sp, 3))}
      ${sp.settle.map((b) => `<h3>settleBatch, ${b.batch} payment(s) per transaction (${b.reps} reps): ${round(b.totalMs.mean, 3)} ms mean, ${b.perPaymentMs} ms per payment, JS ${b.jsMeanMs} ms</h3>${table(["statement", "calls", "mean ms"], b.statements.map((s) => [s.sql, s.calls, s.meanMs]))}`).join("")}
      <h3>EXPLAIN ANALYZE of a 100-payment batch</h3>${sp.explain.map((e) => `<p><b>${escHtml(e.sql)}</b>: planning ${e.planningMs} ms, execution ${e.executionMs} ms</p><pre>${escHtml(e.plan)}</pre>`).join("")}`);
  }
  if (r.cpuProfiles?.length) {
    sections.push(`<h2>V8 CPU profiles (self time)</h2>${r.cpuProfiles
      .map((p) => `<h3>${escHtml(p.process)} (${p.totalMs} ms profiled)</h3><div class="two">${table(["package (self)", "ms", "% of busy"], p.byPackage.map((b) => [b.name, b.ms, b.share]))}${table(["package (native time charged to caller)", "ms", "% of busy"], p.byCaller.map((b) => [b.name, b.ms, b.share]))}${table(["function", "where", "ms", "%"], p.topFunctions.map((f) => [f.name, f.where, f.ms, f.share]))}</div>`)
      .join("")}`);
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>Settle bench ${escHtml(r.runId)}</title><style>
  body{font:14px system-ui,sans-serif;margin:24px;max-width:1340px;color:#111}
  p.lead{font-size:16px;line-height:1.5;max-width:75em}p.status,p.meta{color:#444}progress{width:160px;vertical-align:middle}
  table{border-collapse:collapse;margin:8px 0;max-width:100%}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}
  th{background:#f5f5f5}table.targets td:first-child{white-space:nowrap}tr.met td:first-child{color:#15803d}tr.missed td:first-child{color:#dc2626;font-weight:600}tr.unmeasured td{color:#666}
  /* Long lines (target values, stack traces, plans) wrap instead of widening the page; the scroll bar is a fallback. */
  pre{background:#f7f7f7;padding:8px;font-size:12px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
  pre.summary{font-size:11px}code{overflow-wrap:anywhere}.bad{color:#dc2626}
  .charts,.two{display:flex;flex-wrap:wrap;gap:12px}svg{border:1px solid #eee;max-width:100%;height:auto}</style></head><body>${sections.join("\n")}</body></html>`;
}

/** The run as Markdown tables (what BENCHMARKS.md quotes), written next to result.json. */
export function markdownSummary(r: BenchResult): string {
  const md = (headers: string[], rows: (string | number | null | undefined)[][]) =>
    [`| ${headers.join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.map((c) => String(c ?? "-").replace(/\|/g, "\\|")).join(" | ")} |`)].join("\n");
  const out: string[] = [];
  out.push(`Run \`${r.runId}\` — \`${r.command}\``, "");
  out.push(`Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGiB} GiB, Node ${r.machine.node}, ${r.machine.postgres}, Redis ${r.machine.redis}. Load average (1/5/15 min) at start ${r.machine.loadStart}, at end ${r.machine.loadEnd}.`, "");
  out.push("**pgbench, same server, same client count**", "");
  out.push(md(["script", "clients", "tps", "latency avg ms", "failed", "CPU ms per tx (postgres + pgbench)"], r.pgbench.map((p) => [p.script, p.clients, p.tps, p.latencyAvgMs, p.failed, p.cpuMsPerTx ? `${p.cpuMsPerTx.postgres} + ${p.cpuMsPerTx.pgbench}` : "-"])), "");
  out.push("**Every run** (latencies in ms: p50 / p95 / p99 / max)", "");
  out.push(
    md(
      ["run", "accepted/s", "settled/s", "pgbench transfer tps just before", "Settle ÷ that", "accept latency", "accept→settled latency", "Settle invariants", "naive /s", "Settle ÷ naive", "naive invariants broken", "careful sync /s", "Settle ÷ careful sync", "careful sync invariants broken"],
      r.runs.map((run) => {
        const s = run.settle;
        return [
          specName(s),
          s.acceptedPerS,
          s.settledPerS,
          s.adjacentTransferTps,
          run.ratios["settled/s ÷ adjacent pgbench transfer tps"],
          ms(s.acceptLatency),
          ms(s.settleLatency),
          s.broken ? `BROKEN: ${s.invariants.filter((i) => !i.ok).map((i) => i.name).join(", ")}` : `all ${s.invariants.length} hold`,
          run.naive?.processedPerS,
          run.ratios["settled/s ÷ naive processed/s"],
          run.naive ? `${run.naive.brokenCount} of ${run.naive.invariants.length}: ${run.naive.invariants.filter((i) => !i.ok).map((i) => i.detail).join("; ")}` : "-",
          run.careful?.processedPerS,
          run.ratios["settled/s ÷ careful processed/s"],
          run.careful ? `${run.careful.brokenCount} of ${run.careful.invariants.length}${run.careful.brokenCount ? `: ${run.careful.invariants.filter((i) => !i.ok).map((i) => i.detail).join("; ")}` : ""}` : "-",
        ];
      }),
    ),
    "",
  );
  const notes = peerNotes(r);
  if (notes.length) out.push(...notes.map((n) => `Note: ${n}.`), "");
  const summaries = summarise(r.runs);
  if (r.runs.length > summaries.length) {
    out.push("**Medians over the repeats**", "");
    out.push(md(["run", "runs", "accepted/s", "settled/s", "transfer tps", "Settle ÷ transfer", "accept p99", "settle p99", "naive /s", "Settle ÷ naive", "careful sync /s", "Settle ÷ careful sync"], summaries.map((s) => [s.spec, s.runs, s.acceptedPerS, s.settledPerS, s.adjacentTransferTps, s.ratioAdjacent, s.acceptP99, s.settleP99, s.naivePerS, s.ratioNaive, s.carefulPerS, s.ratioCareful])), "");
  }
  for (const curve of workerCurves(summaries)) {
    out.push(`**Workers curve, ${curve.spec}**${r.runs.length > summaries.length ? " (medians)" : ""}`, "");
    out.push(md(["workers", "settled/s", "÷ best"], curve.points.map((p) => [p.workers, p.settledPerS, p.ratioToBest])), "");
  }
  out.push("**Failures** (HTTP errors and payments settled as failed)", "");
  out.push(md(["run", "failures"], r.runs.map((run) => [specName(run.settle), Object.entries(run.settle.failures).map(([k, v]) => `${k}: ${v}`).join("; ") || "none"])), "");
  out.push("**Targets**", "");
  out.push(md(["", "target", "measured"], r.targets.map((t) => [t.met === false ? "**missed**" : targetStatus(t), t.target, t.value])), "");
  out.push("**Settle CPU per settled payment (ms)**: API + workers + their PostgreSQL backends + Redis", "");
  out.push(md(["run", "API", "workers", "PostgreSQL (API's and workers' backends)", "Redis", "Settle total"], r.runs.map((run) => {
    const c = settleCpu(run.settle);
    return [specName(run.settle), c.api, c.workers, c.postgres, c.redis, c.total];
  })), "");
  if (r.runs.some((run) => run.settle.profile.redis)) {
    out.push("**Redis commands per settled payment** (INFO commandstats, load start → drain end; commands run by scripts count too)", "");
    out.push(md(["run", "commands", "top-level script calls", "total_commands_processed", "top commands (per payment)"], r.runs.map((run) => {
      const rs = run.settle.profile.redis;
      return rs ? [specName(run.settle), rs.redisCommandsPerPayment, rs.scriptCallsPerPayment, rs.commandsProcessedPerPayment, rs.top.map((t) => `${t.command} ${t.perPayment}`).join(", ")] : [specName(run.settle), "-", "-", "-", "-"];
    })), "");
  }
  out.push("**CPU per settled payment (ms), by process**", "");
  const procs = [...new Set(r.runs.flatMap((run) => run.settle.profile.cpu.map((c) => c.process)))];
  out.push(md(["run", ...procs], r.runs.map((run) => [specName(run.settle), ...procs.map((p) => run.settle.profile.cpu.find((c) => c.process === p)?.msPerPayment)])), "");
  out.push(md(["run", "PG commits per payment", "rows inserted / updated per payment", "BullMQ jobs that settled something", "jobs that found nothing", "payments per settling job", "queue wait p50/p95/p99/max", "job processing p50/p95/p99/max", "Redis keys left"], r.runs.map((run) => {
    const p = run.settle.profile;
    return [specName(run.settle), p.pg.commitsPerPayment, `${p.pg.tuplesInsertedPerPayment} / ${p.pg.tuplesUpdatedPerPayment}`, p.jobs.payingJobs, p.jobs.emptyJobs, p.jobs.paymentsPerPayingJob, ms(p.jobs.queueWait), ms(p.jobs.processing), run.settle.redisKeys];
  })), "");
  if (r.spanProfile) {
    const sp = r.spanProfile;
    out.push(`**Unloaded spans** (${sp.samples} sequential samples; ms p50 / p95 / p99 / max, mean)`, "");
    out.push(md(["span", "p50 / p95 / p99 / max", "mean"], spanRows(sp, 2)), "");
    const stmts = [...new Set(sp.settle.flatMap((b) => b.statements.map((s) => s.sql)))];
    out.push("**settleBatch, statement by statement** (mean ms per transaction, client-side round trip)", "");
    out.push(md(["payments per transaction", ...stmts, "JS between statements", "total", "per payment"], sp.settle.map((b) => [b.batch, ...stmts.map((q) => b.statements.find((s) => s.sql === q)?.meanMs), b.jsMeanMs, round(b.totalMs.mean, 2), b.perPaymentMs])), "");
    out.push(md(["statement (100-payment batch)", "planning ms", "execution ms", "plan"], sp.explain.map((e) => [e.sql, e.planningMs, e.executionMs, e.plan.split("\n").slice(0, 3).map((l) => l.trim()).join(" ← ")])), "");
  }
  if (r.cpuProfiles?.length) {
    out.push("**V8 CPU profiles, steady state** (share of busy time; native time charged to the calling package)", "");
    out.push(md(["process", "top packages"], r.cpuProfiles.map((p) => [p.process, p.byCaller.slice(0, 8).map((b) => `${b.name} ${b.share}%`).join(", ")])), "");
  }
  if (r.errors.length) out.push("Errors:", "", ...r.errors.map((e) => `- ${e.split("\n")[0]}`), "");
  return out.join("\n");
}

/**
 * Writes the charts BENCHMARKS.md shows into `dir` (bench/charts): the comparison (only for a run
 * that has something to compare), throughput and latency per run, memory for runs of 5 minutes+.
 */
export function publishCharts(result: BenchResult, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  if (result.runs.length > 1 || result.pgbench.length) fs.writeFileSync(path.join(dir, "comparison.svg"), comparisonChart(result));
  for (const run of result.runs) {
    const name = `${run.settle.spec.scenario}-${run.settle.spec.rate}${run.settle.spec.workers === undefined ? "" : `-${run.settle.spec.workers}w`}`;
    const c = runCharts(run.settle);
    fs.writeFileSync(path.join(dir, `${name}-throughput.svg`), c.throughput);
    fs.writeFileSync(path.join(dir, `${name}-latency.svg`), c.latency);
    if ((run.settle.load.endedAt - run.settle.load.startedAt) / 1000 >= 300) fs.writeFileSync(path.join(dir, `${name}-memory.svg`), memoryChart(run.settle));
  }
}
