// The self-contained HTML report.
import path from "node:path";
import { round } from "../stats";
import { lineChart } from "../svg";
import { COLORS, comparisonChart, memoryChart, runCharts } from "./charts";
import { ms, runProgress, settleCpu, spanRows, specName, summarise, workerCurves, type BenchResult } from "./model";
import { openingParagraphs } from "./opening";
import { targetStatus } from "./targets";
import { textSummary } from "./text";

const escHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function table(headers: string[], rows: (string | number)[][]): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${escHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escHtml(String(c))}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

/** "2026-11-29T18:08:00.061Z" as "2026-11-29 18:08:00 UTC". */
const when = (iso: string): string => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");

/** Where BENCHMARKS.md is, relative to a report written to `<outDir>/<runId>/` under the repository root. */
function defaultBenchmarksHref(r: BenchResult): string | undefined {
  const out = r.options.outDir ?? "bench/results";
  if (path.isAbsolute(out)) return undefined;
  const depth =
    path
      .normalize(out)
      .split(path.sep)
      .filter((p) => p && p !== ".").length + 1;
  return `${"../".repeat(depth)}BENCHMARKS.md`;
}

/** A self-contained HTML report: inline SVG charts and tables, no scripts, no external assets. */
export function htmlReport(r: BenchResult, options: { benchmarksHref?: string } = {}): string {
  const sections: string[] = [];
  const { done, planned } = runProgress(r);
  const href = options.benchmarksHref ?? defaultBenchmarksHref(r);
  const benchmarks = href ? `<a href="${escHtml(href)}">BENCHMARKS.md</a>` : "BENCHMARKS.md";
  sections.push(`<h1>Settle benchmark, run ${escHtml(r.runId)}</h1>
    ${openingParagraphs(r)
      .map((p) => `<p class="lead">${escHtml(p)}</p>`)
      .join("\n")}
    <p class="status"><progress max="${planned}" value="${done}"></progress> ${done >= planned ? `Complete: ${planned} of ${planned} planned runs finished` : `${done} of ${planned} planned runs finished so far`} (started ${escHtml(when(r.startedAt))}, ${done >= planned ? "finished" : "last written"} ${escHtml(when(r.finishedAt))}).</p>
    <p class="meta">What the scenarios, the peers and the targets are, how to run them, and the reference figures: ${benchmarks} at the repository root.<br>
    Command: <code>${escHtml(r.command)}</code><br>Machine: ${escHtml(
      Object.entries(r.machine)
        .map(([k, v]) => `${k}: ${v}`)
        .join(" · "),
    )}</p>`);
  // Measured targets first: those are the run's verdict; the unmeasured ones say what would measure them.
  const targets = [...r.targets.filter((t) => t.met !== null), ...r.targets.filter((t) => t.met === null)];
  sections.push(`<h2>Targets</h2><p>Each target compares Settle with a peer measured in this run, or bounds a figure of this run; ${benchmarks} lists them with the reference run's figures.</p>
    <table class="targets"><thead><tr><th>result</th><th>target</th><th>measured in this run</th></tr></thead><tbody>${targets
      .map(
        (t) =>
          `<tr class="${t.met === null ? "unmeasured" : t.met ? "met" : "missed"}"><td>${targetStatus(t)}</td><td>${escHtml(t.target)}</td><td>${escHtml(t.value)}</td></tr>`,
      )
      .join("")}</tbody></table>`);
  if (r.errors.length) sections.push(`<h2>Errors</h2><pre>${escHtml(r.errors.join("\n\n"))}</pre>`);
  sections.push(`<h2>Side by side</h2>${comparisonChart(r)}<pre class="summary">${escHtml(textSummary(r))}</pre>`);
  for (const curve of workerCurves(summarise(r.runs)))
    sections.push(
      `<h2>Workers curve, ${escHtml(curve.spec)}</h2>${table(
        ["workers", "settled/s", "÷ best"],
        curve.points.map((p) => [p.workers, p.settledPerS, p.ratioToBest]),
      )}`,
    );
  for (const run of r.runs) {
    const s = run.settle;
    const charts = runCharts(s);
    sections.push(`<h2>${escHtml(specName(s))} ${s.broken ? '<span class="bad">BROKEN</span>' : ""}</h2>
      <div class="charts">${charts.throughput}${charts.latency}${s.memorySeries ? memoryChart(s) : ""}</div>
      ${table(
        ["metric", "value"],
        [
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
          ...(s.webhooks
            ? ([
                ["webhook events delivered / written (deliveries)", `${s.webhooks.delivered} / ${s.webhooks.events} (${s.webhooks.deliveries})`],
                ["event→delivery p50/p95/p99/max ms", ms(s.webhooks.lag)],
                ["all delivered, s after the drain", s.webhooks.caughtUpAfterDrainS],
              ] as [string, string | number][])
            : []),
          ...Object.entries(s.outcomes).map(([k, v]) => [`outcome: ${k}`, v] as [string, number]),
          ...Object.entries(s.failures).map(([k, v]) => [`failure: ${k}`, v] as [string, number]),
          ...Object.entries(run.ratios).map(([k, v]) => [k, v ?? "-"] as [string, number | string]),
        ],
      )}
      <h3>Invariants</h3>${table(
        ["", "invariant", "detail"],
        s.invariants.map((i) => [i.ok ? "ok" : "BROKEN", i.name, i.detail]),
      )}
      <h3>CPU per process (ms per settled payment)</h3>${table(
        ["process", "CPU s", "ms / payment"],
        s.profile.cpu.map((c) => [c.process, c.cpuS, c.msPerPayment]),
      )}
      ${
        s.profile.redis
          ? `<h3>Redis commands (load start → drain end): ${s.profile.redis.redisCommandsPerPayment} per payment, ${s.profile.redis.scriptCallsPerPayment} top-level script calls per payment</h3>${table(
              ["command", "calls", "per payment"],
              s.profile.redis.top.map((t) => [t.command, t.calls, t.perPayment]),
            )}`
          : ""
      }
      <p>PostgreSQL: ${s.profile.pg.commits} commits (${s.profile.pg.commitsPerPayment} per payment), ${s.profile.pg.tuplesInsertedPerPayment} rows inserted and ${s.profile.pg.tuplesUpdatedPerPayment} updated per payment, ${s.profile.pg.walBytesPerPayment ?? "-"} WAL bytes per payment, ${s.profile.pg.rollbacks} rollbacks.
      BullMQ (last ${s.profile.jobs.sampled} jobs kept): ${s.profile.jobs.payingJobs} settled something (${s.profile.jobs.paymentsPerPayingJob} payments each), ${s.profile.jobs.emptyJobs} found nothing left; queue wait ${ms(s.profile.jobs.queueWait)} ms; processing ${ms(s.profile.jobs.processing)} ms.</p>
      <h3>Memory (RSS MiB; ${s.redisKeys} Redis keys left under the run's prefix after the drain)</h3>${table(
        ["process", "start", "end", "max"],
        s.memory.map((m) => [m.process, m.rssStartMiB, m.rssEndMiB, m.rssMaxMiB]),
      )}
      ${
        run.careful
          ? `<h3>Careful synchronous server, same ${run.careful.note ? "intents" : "scenario"}</h3><p>${run.careful.note ? `${escHtml(run.careful.note)}. ` : ""}${run.careful.processedPerS} requests/s answered (${run.careful.completedPerS}/s completed); latency ${ms(run.careful.latency)} ms</p>${table(
              ["", "invariant", "detail"],
              run.careful.invariants.map((i) => [i.ok ? "ok" : "BROKEN", i.name, i.detail]),
            )}${table(["failure", "count"], Object.entries(run.careful.failures))}`
          : ""
      }
      ${
        run.naive
          ? `<h3>Naive server, same ${run.naive.note ? "intents" : "scenario"}</h3><p>${run.naive.note ? `${escHtml(run.naive.note)}. ` : ""}${run.naive.processedPerS} requests/s answered (${run.naive.completedPerS}/s completed); latency ${ms(run.naive.latency)} ms</p>${table(
              ["", "invariant", "detail"],
              run.naive.invariants.map((i) => [i.ok ? "ok" : "BROKEN", i.name, i.detail]),
            )}${table(["failure", "count"], Object.entries(run.naive.failures))}`
          : ""
      }`);
  }
  if (r.pgbench.length) {
    sections.push(
      `<h2>pgbench</h2>${lineChart({
        title: "pgbench tps per second",
        xLabel: "s",
        yLabel: "tps",
        series: r.pgbench.map((p) => ({
          name: p.script,
          color: p.script === "transfer" ? COLORS.xfer : COLORS.tpcb,
          points: p.perSecond.map((q) => [q.second, q.tps] as [number, number]),
        })),
      })}${table(
        ["script", "tps", "latency avg ms", "failed", "CPU ms/tx postgres", "CPU ms/tx pgbench", "command"],
        r.pgbench.map((p) => [p.script, p.tps, p.latencyAvgMs, p.failed, p.cpuMsPerTx?.postgres ?? "-", p.cpuMsPerTx?.pgbench ?? "-", p.command]),
      )}`,
    );
  }
  if (r.spanProfile) {
    const sp = r.spanProfile;
    sections.push(`<h2>Where a payment's milliseconds go (unloaded, ${sp.samples} samples)</h2>
      ${table(["span", "p50 / p95 / p99 / max ms", "mean ms"], spanRows(sp, 3))}
      ${sp.settle
        .map(
          (b) =>
            `<h3>settleBatch, ${b.batch} payment(s) per transaction (${b.reps} reps): ${round(b.totalMs.mean, 3)} ms mean, ${b.perPaymentMs} ms per payment, JS ${b.jsMeanMs} ms</h3>${table(
              ["statement", "calls", "mean ms"],
              b.statements.map((s) => [s.sql, s.calls, s.meanMs]),
            )}`,
        )
        .join("")}
      <h3>EXPLAIN ANALYZE of a 100-payment batch</h3>${sp.explain.map((e) => `<p><b>${escHtml(e.sql)}</b>: planning ${e.planningMs} ms, execution ${e.executionMs} ms</p><pre>${escHtml(e.plan)}</pre>`).join("")}`);
  }
  if (r.cpuProfiles?.length) {
    sections.push(
      `<h2>V8 CPU profiles (self time)</h2>${r.cpuProfiles
        .map(
          (p) =>
            `<h3>${escHtml(p.process)} (${p.totalMs} ms profiled)</h3><div class="two">${table(
              ["package (self)", "ms", "% of busy"],
              p.byPackage.map((b) => [b.name, b.ms, b.share]),
            )}${table(
              ["package (native time charged to caller)", "ms", "% of busy"],
              p.byCaller.map((b) => [b.name, b.ms, b.share]),
            )}${table(
              ["function", "where", "ms", "%"],
              p.topFunctions.map((f) => [f.name, f.where, f.ms, f.share]),
            )}</div>`,
        )
        .join("")}`,
    );
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
