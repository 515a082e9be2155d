// The bench's report, one module per output: plain text (text.ts), Markdown (markdown.ts), HTML
// (html.ts, with its opening prose in opening.ts) and SVG charts (charts.ts), over the shared
// summaries (model.ts) and targets (targets.ts).
export { comparisonChart, memoryChart, publishCharts, runCharts } from "./charts";
export { htmlReport } from "./html";
export { markdownSummary } from "./markdown";
export { ratiosFor, runProgress, settleCpu, summarise, workerCurves, type BenchResult, type SpecSummary, type Target } from "./model";
export { openingParagraphs } from "./opening";
export { evaluateTargets, targetStatus } from "./targets";
export { textSummary } from "./text";
