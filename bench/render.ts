// `pnpm bench:render [bench/results/<run>/result.json] [--publish]`: re-renders a saved run's
// report.html and summary.md (and, with --publish, bench/charts/*.svg) without running anything.
import fs from "node:fs";
import path from "node:path";
import { parseCommandLine, USAGE_EXIT_CODE } from "@settle/core";
import { ROOT } from "./lib/children";
import { evaluateTargets, htmlReport, markdownSummary, publishCharts, type BenchResult } from "./lib/report";

const USAGE = `Usage: pnpm bench:render [<result.json>] [--publish]

Re-renders report.html and summary.md next to a saved run's result.json (default
bench/results/latest.json) without running anything.

Options:
  --publish   also write bench/charts/*.svg (the charts BENCHMARKS.md shows)
  -h, --help  this text`;

const args = parseCommandLine(process.argv.slice(2), { name: "bench:render", usage: USAGE, options: { publish: { type: "boolean" } }, allowPositionals: true });
if (args.positionals.length > 1) {
  process.stderr.write(`bench:render: one result.json at most, not ${args.positionals.join(" ")}\n\n${USAGE}\n`);
  process.exit(USAGE_EXIT_CODE);
}
const publish = args.values.publish === true;
const file = path.resolve(args.positionals[0] ?? path.join(ROOT, "bench/results/latest.json"));
const result = JSON.parse(fs.readFileSync(file, "utf8")) as BenchResult;
result.targets = evaluateTargets(result);
const dir = path.dirname(file);
// The saved run may have been moved: link BENCHMARKS.md from where this report is written.
fs.writeFileSync(
  path.join(dir, "report.html"),
  htmlReport(result, { benchmarksHref: path.relative(dir, path.join(ROOT, "BENCHMARKS.md")).split(path.sep).join("/") }),
);
fs.writeFileSync(path.join(dir, "summary.md"), markdownSummary(result));
if (publish) publishCharts(result, path.join(ROOT, "bench/charts"));
process.stdout.write(`rendered ${path.relative(ROOT, dir)}/report.html and summary.md${publish ? " and bench/charts/*.svg" : ""}\n`);
