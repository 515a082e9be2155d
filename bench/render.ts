// `pnpm bench:render [bench/results/<run>/result.json] [--publish]`: re-renders a saved run's
// report.html and summary.md (and, with --publish, bench/charts/*.svg) without running anything.
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "./lib/children";
import { evaluateTargets, htmlReport, markdownSummary, publishCharts, type BenchResult } from "./lib/report";

const args = process.argv.slice(2);
const file = path.resolve(args.find((a) => !a.startsWith("--")) ?? path.join(ROOT, "bench/results/latest.json"));
const result = JSON.parse(fs.readFileSync(file, "utf8")) as BenchResult;
result.targets = evaluateTargets(result);
const dir = path.dirname(file);
fs.writeFileSync(path.join(dir, "report.html"), htmlReport(result));
fs.writeFileSync(path.join(dir, "summary.md"), markdownSummary(result));
if (args.includes("--publish")) publishCharts(result, path.join(ROOT, "bench/charts"));
process.stdout.write(`rendered ${path.relative(ROOT, dir)}/report.html and summary.md${args.includes("--publish") ? " and bench/charts/*.svg" : ""}\n`);
