// What every output of the report shares: the result's shape, the summaries over repeats and
// worker counts, and the names and number formats the outputs print.
import type { CarefulRunResult } from "../careful-run";
import type { CpuProfileSummary } from "../cpu-profile";
import type { NaiveRunResult } from "../naive-run";
import { specLabel, type BenchOptions } from "../options";
import type { PgbenchResult } from "../pgbench";
import type { SpanProfile } from "../profile";
import type { SettleRunResult } from "../settle-run";
import { round, type Percentiles } from "../stats";

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

export const specName = (r: { spec: SettleRunResult["spec"] }) => specLabel(r.spec);
const SHARED_PEERS =
  "in a worker curve the naive and careful servers (which have no workers) run once per scenario, with its first worker count, and stand beside every count";
/** Notes on what the peers were offered, once each. */
export const peerNotes = (r: BenchResult): string[] => {
  const notes = new Set(r.runs.flatMap((run) => [run.settle.note, run.naive?.note, run.careful?.note].filter((n): n is string => !!n)));
  if (r.runs.some((run) => run.settle.spec.workers !== undefined && (run.naive || run.careful))) notes.add(SHARED_PEERS);
  return [...notes];
};
export const ms = (p: Percentiles) => `${round(p.p50)} / ${round(p.p95)} / ${round(p.p99)} / ${round(p.max)}`;

/** Settle's CPU ms per settled payment (API + workers + their PostgreSQL backends + Redis); recomputed for results older than the field. */
export function settleCpu(s: SettleRunResult): SettleRunResult["profile"]["settleCpuMsPerPayment"] {
  if (s.profile.settleCpuMsPerPayment) return s.profile.settleCpuMsPerPayment;
  const sum = (pick: (p: string) => boolean) =>
    round(
      s.profile.cpu.filter((c) => pick(c.process)).reduce((a, c) => a + c.msPerPayment, 0),
      3,
    );
  const parts = {
    api: sum((p) => p === "api"),
    workers: sum((p) => p.startsWith("worker-")),
    postgres: sum((p) => /^postgres \(settle-(api|worker)/.test(p)),
    redis: sum((p) => p.startsWith("redis-server")),
  };
  return { ...parts, total: round(parts.api + parts.workers + parts.postgres + parts.redis, 3) };
}

/** The unloaded span profile as table rows (span, percentiles, mean), for the HTML and Markdown reports. */
export function spanRows(sp: SpanProfile, digits: number): (string | number)[][] {
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

export function ratiosFor(
  settle: SettleRunResult,
  naive: NaiveRunResult | undefined,
  careful: CarefulRunResult | undefined,
  pgbench: PgbenchResult[],
): Record<string, number | null> {
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

export const median = (v: number[]): number => {
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
    const allOfferedSettled = rs.every(
      (r) => accepted(r.settle) >= offered(r.settle) && failureCount(r.settle) === 0 && r.settle.settled >= accepted(r.settle) && !r.settle.broken,
    );
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
      offeredDetail: rs
        .map((r) => `offered ${offered(r.settle)}, accepted ${accepted(r.settle)}, settled ${r.settle.settled}, failed ${failureCount(r.settle)}`)
        .join("; "),
      redisCommandsPerPayment: medianOrNull(rs.map((r) => r.settle.profile.redis?.redisCommandsPerPayment)),
      scriptCallsPerPayment: medianOrNull(rs.map((r) => r.settle.profile.redis?.scriptCallsPerPayment)),
      settleCpuMsPerPayment: round(median(rs.map((r) => settleCpu(r.settle).total)), 3),
    };
  });
}

/** Worker curves: for each scenario@rate run at several worker counts, settled/s per count and its ratio to the best. */
export function workerCurves(
  summaries: SpecSummary[],
): { spec: string; points: { workers: number; settledPerS: number; ratioToBest: number; broken: boolean }[] }[] {
  const by = new Map<string, SpecSummary[]>();
  for (const s of summaries) if (s.workers !== undefined) by.set(`${s.scenario}@${s.rate}`, [...(by.get(`${s.scenario}@${s.rate}`) ?? []), s]);
  return [...by]
    .filter(([, ss]) => ss.length > 1)
    .map(([spec, ss]) => {
      const best = Math.max(...ss.map((s) => s.settledPerS));
      return {
        spec,
        points: ss
          .sort((a, b) => a.workers! - b.workers!)
          .map((s) => ({ workers: s.workers!, settledPerS: s.settledPerS, ratioToBest: best ? round(s.settledPerS / best, 3) : 0, broken: s.broken })),
      };
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
export const SCENARIO_WHAT: Record<string, string> = {
  uniform: "transfers between random pairs of 10,000 accounts",
  "uniform-batch": "the same transfers sent to Settle in batch requests",
  "hot-merchant": "a fifth of all transfers paid to one merchant account",
  contended: "transfers among only 100 accounts",
  mixed:
    "transfers, deposits, withdrawals, authorizations later captured or voided, refunds and disputes, on accounts some with an overdraft limit; Settle alone, every operation counted as settled",
};
export const scenarioTitle = (scenario: string): string => SCENARIO_TITLES[scenario] ?? scenario;
export const num = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 2 });
export const rateTitle = (rate: number | "max", clients: number): string =>
  rate === "max" ? `max throughput (${clients} clients)` : `${num(rate)} payments/s offered`;

/** The plan's entries as `scenario@rate` (worker counts and repeats folded), in plan order. */
export function plannedSpecs(options: BenchResult["options"]): string[] {
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
