// `pnpm bench:render [bench/results/<run>/result.json] [--publish]`: re-renders a saved run's
// report.html and summary.md (and, with --publish, bench/charts/*.svg) without running anything.
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "./lib/children";
import { comparisonChart, evaluateTargets, htmlReport, markdownSummary, memoryChart, runCharts, type BenchResult } from "./lib/report";

const args = process.argv.slice(2);
const file = path.resolve(args.find((a) => !a.startsWith("--")) ?? path.join(ROOT, "bench/results/latest.json"));
const result = JSON.parse(fs.readFileSync(file, "utf8")) as BenchResult;
result.targets = evaluateTargets(result);
const dir = path.dirname(file);
fs.writeFileSync(path.join(dir, "report.html"), htmlReport(result));
fs.writeFileSync(path.join(dir, "summary.md"), markdownSummary(result));
if (args.includes("--publish")) {
  const charts = path.join(ROOT, "bench/charts");
  fs.mkdirSync(charts, { recursive: true });
  if (result.runs.length > 1 || result.pgbench.length) fs.writeFileSync(path.join(charts, "comparison.svg"), comparisonChart(result));
  for (const run of result.runs) {
    const name = `${run.settle.spec.scenario}-${run.settle.spec.rate}`;
    const c = runCharts(run.settle);
    fs.writeFileSync(path.join(charts, `${name}-throughput.svg`), c.throughput);
    fs.writeFileSync(path.join(charts, `${name}-latency.svg`), c.latency);
    if ((run.settle.load.endedAt - run.settle.load.startedAt) / 1000 >= 300) fs.writeFileSync(path.join(charts, `${name}-memory.svg`), memoryChart(run.settle));
  }
}
process.stdout.write(`rendered ${path.relative(ROOT, dir)}/report.html and summary.md${args.includes("--publish") ? " and bench/charts/*.svg" : ""}\n`);
