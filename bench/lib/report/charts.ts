// The SVG charts: per run (throughput, latency, memory), the side-by-side comparison, and the
// copies BENCHMARKS.md shows.
import fs from "node:fs";
import path from "node:path";
import type { SettleRunResult } from "../settle-run";
import { barChart, lineChart } from "../svg";
import { specName, summarise, type BenchResult } from "./model";

export const COLORS = { settle: "#2563eb", settle2: "#60a5fa", naive: "#dc2626", careful: "#16a34a", tpcb: "#6b7280", xfer: "#111827", p99: "#ea580c" };

const PROCESS_COLORS = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be123c"];

export function memoryChart(s: SettleRunResult): string {
  return lineChart({
    title: `${specName(s)}: resident memory (RSS) per process`,
    xLabel: "seconds since the load started",
    yLabel: "MiB",
    series: Object.entries(s.memorySeries ?? {}).map(([name, v], i) => ({
      name,
      color: PROCESS_COLORS[i % PROCESS_COLORS.length]!,
      points: v.map((y, x) => [x, y] as [number, number]),
    })),
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
  for (const p of r.pgbench)
    bars.push({ label: `pgbench ${p.script} (start of run)`, value: p.tps, color: p.script === "transfer" ? COLORS.xfer : COLORS.tpcb, note: "tps" });
  const summaries = summarise(r.runs);
  const repeated = r.runs.length > summaries.length;
  for (const s of summaries) {
    const m = repeated ? ` (median of ${s.runs})` : "";
    if (s.adjacentTransferTps !== null)
      bars.push({ label: `pgbench transfer before ${s.spec}`, value: s.adjacentTransferTps, color: COLORS.xfer, note: `tps${m}` });
    bars.push({ label: `Settle ${s.spec}`, value: s.settledPerS, color: COLORS.settle, note: `${s.broken ? "BROKEN " : ""}settled/s${m}` });
    if (s.naivePerS !== null)
      bars.push({ label: `naive ${s.spec}`, value: s.naivePerS, color: COLORS.naive, note: `/s, broke ${s.naiveBrokenMax} invariants${m}` });
    if (s.carefulPerS !== null)
      bars.push({ label: `careful sync ${s.spec}`, value: s.carefulPerS, color: COLORS.careful, note: `/s, broke ${s.carefulBrokenMax} invariants${m}` });
  }
  return barChart({ title: `Same machine, same run (${r.runId}): transactions or payments per second`, unit: "", bars, width: 860 });
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
