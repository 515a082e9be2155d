import type { CarefulRunResult } from "./careful-run";
import type { NaiveRunResult } from "./naive-run";
import { parseOptions } from "./options";
import type { PgbenchResult } from "./pgbench";
import { evaluateTargets, htmlReport, markdownSummary, openingParagraphs, ratiosFor, runProgress, textSummary, type BenchResult } from "./report";
import type { SettleRunResult } from "./settle-run";
import { EMPTY_PERCENTILES, type Percentiles } from "./stats";

const lat = (p50: number, p99: number): Percentiles => ({ count: 100, p50, p95: p99, p99, max: p99 * 2, mean: p50 });

function settleRun(
  spec: SettleRunResult["spec"],
  settledPerS: number,
  opts: { accepted?: number; offered?: number; adjacentTransferTps?: number } = {},
): SettleRunResult {
  const offered = opts.offered ?? settledPerS * 8;
  const accepted = opts.accepted ?? offered;
  return {
    system: "settle",
    spec,
    workers: 2,
    broken: false,
    disputes: false,
    adjacentTransferTps: opts.adjacentTransferTps,
    load: { startedAt: 0, endedAt: 8000, sent: offered, offered, okByKind: { transfer: accepted }, failures: {}, latency: lat(12, 50), latencyByKind: {} },
    offered,
    accepted,
    acceptedPerS: settledPerS,
    settled: accepted,
    settledPerS,
    settledPerSDuringLoad: settledPerS,
    drainS: 0.4,
    acceptLatency: lat(12, 50),
    settleLatency: lat(15, 60),
    outcomes: { completed: accepted },
    failures: {},
    invariants: [{ name: "conservation", ok: true, detail: "equal" }],
    series: [{ second: 0, accepted: settledPerS, settled: settledPerS, acceptP50: 12, acceptP99: 50, settleP50: 15, settleP99: 60 }],
    memory: [{ process: "api", rssStartMiB: 150, rssEndMiB: 160, rssMaxMiB: 170 }],
    memorySeries: { api: [150, 160] },
    redisKeys: 100,
    profile: {
      cpu: [{ process: "api", cpuS: 8, msPerPayment: 1 }],
      settleCpuMsPerPayment: { api: 1, workers: 0.5, postgres: 0.4, redis: 0.02, total: 1.92 },
      pg: { commits: 100, rollbacks: 0, commitsPerPayment: 0.1, tuplesInsertedPerPayment: 3, tuplesUpdatedPerPayment: 2 },
      jobs: { sampled: 10, payingJobs: 9, paymentsPerPayingJob: 50, emptyJobs: 1, queueWait: EMPTY_PERCENTILES, processing: EMPTY_PERCENTILES },
    },
  };
}

function peer<T extends NaiveRunResult | CarefulRunResult>(system: T["system"], spec: SettleRunResult["spec"], processedPerS: number, brokenCount: number): T {
  return {
    system,
    spec,
    broken: brokenCount > 0,
    processedPerS,
    completedPerS: processedPerS,
    latency: lat(10, 40),
    failures: {},
    invariants: Array.from({ length: 4 }, (_, i) => ({ name: `invariant ${i}`, ok: i >= brokenCount, detail: "" })),
    brokenCount,
  } as unknown as T;
}

/** A finished `pnpm bench:quick`-like run: uniform@max beside the naive and careful endpoints and pgbench, then uniform@500. */
function quickRun(): BenchResult {
  const opts = parseOptions(["--plan", "uniform@max,uniform@500", "--duration", "8", "--naive-duration", "5", "--profile", "false"], {});
  const pgbench: PgbenchResult[] = [
    { script: "transfer", clients: 16, durationS: 8, tps: 3506, latencyAvgMs: 4.5, failed: 0, perSecond: [], command: "pgbench -f transfer.sql" },
  ];
  const max = settleRun({ scenario: "uniform", rate: "max" }, 811, { adjacentTransferTps: 3506 });
  const naive = peer<NaiveRunResult>("naive", max.spec, 854, 2);
  const careful = peer<CarefulRunResult>("careful", max.spec, 693, 0);
  const open = settleRun({ scenario: "uniform", rate: 500 }, 499, { offered: 4000 });
  const result: BenchResult = {
    runId: "20261201-120000",
    command: "pnpm bench --plan uniform@max,uniform@500 --duration 8 --naive-duration 5 --profile false",
    startedAt: "2026-12-01T12:00:00.000Z",
    finishedAt: "2026-12-01T12:01:30.000Z",
    machine: {
      cpus: 2,
      cpuModel: "test cpu",
      memGiB: 24,
      node: "v20.19.0",
      postgres: "PostgreSQL 15.20 (synchronous_commit=on, fsync=on, shared_buffers=128MB)",
      redis: "7.0.15",
      loadStart: "0.40 0.30 0.20",
      loadEnd: "1.50 1.00 0.50",
    },
    options: { ...opts, plan: opts.plan.map((p) => `${p.scenario}@${p.rate}`).join(",") },
    pgbench,
    runs: [
      { settle: max, naive, careful, ratios: ratiosFor(max, naive, careful, pgbench) },
      { settle: open, ratios: ratiosFor(open, undefined, undefined, pgbench) },
    ],
    targets: [],
    errors: [],
  };
  result.targets = evaluateTargets(result);
  return result;
}

describe("the benchmark report", () => {
  it("opens with a paragraph made from the run's own figures: what, against what, and what it came to", () => {
    const [what, outcome] = openingParagraphs(quickRun());
    expect(what).toContain("in the same run on the same machine");
    expect(outcome).toMatch(/^On this machine, Settle settled 811 payments\/s/);
    const text = `${what} ${outcome}`;
    expect(text).toContain("Run 20261201-120000 measured Settle end to end");
    expect(text).toContain("uniform load (transfers between random pairs of 10,000 accounts) at max throughput (16 clients");
    expect(text).toContain("at 500 payments/s offered");
    expect(text).toContain("8 s of load each, with 2 worker processes and 32 partitions");
    expect(text).toMatch(/in the same run on the same machine \(2 cores, 24 GiB, PostgreSQL 15\.20, Redis 7\.0\.15\)/);
    expect(text).toContain("the naive synchronous endpoint");
    expect(text).toContain("pgbench's transfer script");
    expect(text).toContain("the endpoints got the same payments in the max-throughput scenarios, 5 s each");
    expect(text).toContain(
      "Settle settled 811 payments/s under uniform load at max throughput: 0.95× the naive endpoint (854/s, which broke 2 invariants), 1.17× the careful endpoint (693/s) and 0.23× pgbench's 3,506 transfers/s",
    );
    expect(text).toContain(
      "At 500 payments/s offered (uniform load), it accepted and settled everything offered; 99 % of payments were accepted within 50 ms and settled within 60 ms of that.",
    );
    expect(text).toContain("Settle broke none of its invariants.");
    expect(text).toMatch(/Of its \d+ targets, 1 was met, 3 missed and \d+ not measured in this run/);
    expect(text).not.toMatch(/issue|#\d/i);
    expect(text).not.toContain("partial");
  });

  it("says a report written mid-run is partial", () => {
    const r = quickRun();
    r.runs = r.runs.slice(0, 1);
    expect(runProgress(r)).toEqual({ done: 1, planned: 2 });
    expect(openingParagraphs(r)[0]).toMatch(/^This report is partial: 1 of 2 planned runs have finished/);
    expect(runProgress(quickRun())).toEqual({ done: 2, planned: 2 });
    // A scenario that failed counts as finished, and its targets say so.
    r.errors = ["uniform@500: the API did not start"];
    expect(runProgress(r)).toEqual({ done: 2, planned: 2 });
    const failed = quickRun();
    failed.runs = failed.runs.slice(1);
    failed.errors = ["uniform@max: the API did not start"];
    expect(evaluateTargets(failed)[0]?.value).toBe("not measured in this run: scenario uniform@max failed (see Errors)");
    expect(htmlReport({ ...failed, targets: evaluateTargets(failed) })).toContain("<h2>Errors</h2><pre>uniform@max: the API did not start</pre>");
  });

  it("names the targets by what they are and says in words why one was not measured", () => {
    const targets = quickRun().targets;
    const naive = targets.find((t) => t.target === "Uniform load, max throughput (16 clients): ≥ 1.0× the naive endpoint");
    expect(naive).toMatchObject({ met: false });
    expect(naive?.value).toContain("811 ÷ 854/s = 0.95×");
    const hot = targets.find((t) => t.target.startsWith("Hot merchant, max throughput (16 clients): ≥ 1.5× the careful"));
    expect(hot).toEqual(expect.objectContaining({ met: null, value: "not measured in this run: scenario hot-merchant@max not in the plan" }));
    expect(targets.find((t) => t.target.includes("64 clients"))?.value).toBe("not measured in this run: needs 64 clients (--concurrency 64); this run used 16");
    for (const t of targets.filter((x) => x.met === null)) expect(t.value).toMatch(/^not measured in this run: \S/);
  });

  it("prints no issue numbers or bare n/a anywhere, links BENCHMARKS.md and shows the run complete", () => {
    const r = quickRun();
    const html = htmlReport(r);
    for (const out of [html, textSummary(r), markdownSummary(r)]) {
      expect(out).not.toMatch(/\bissue/i);
      expect(out).not.toMatch(/\bn\/a\b/);
    }
    expect(html).toContain('<a href="../../../BENCHMARKS.md">BENCHMARKS.md</a>');
    expect(htmlReport(r, { benchmarksHref: "../BENCHMARKS.md" })).toContain('<a href="../BENCHMARKS.md">');
    expect(html).toContain('<progress max="2" value="2"></progress> Complete: 2 of 2 planned runs finished');
    // The opening paragraph comes before the targets table.
    expect(html.indexOf('class="lead"')).toBeLessThan(html.indexOf("<h2>Targets</h2>"));
    expect(html).toMatch(/pre\{[^}]*white-space:pre-wrap/);
  });
});
