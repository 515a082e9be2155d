// The plain-text summary printed at the end of a run.
import type { CarefulRunResult } from "../careful-run";
import type { NaiveRunResult } from "../naive-run";
import type { SettleRunResult } from "../settle-run";
import { ms, peerNotes, settleCpu, specName, summarise, workerCurves, type BenchResult } from "./model";
import { targetStatus } from "./targets";

/** The summary table printed at the end of a run (also pasted into BENCHMARKS.md). */
export function textSummary(r: BenchResult): string {
  const lines: string[] = [];
  const row = (cells: (string | number)[], widths: number[]) =>
    cells
      .map((c, i) => String(c).padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  lines.push(
    `Settle bench ${r.runId} — ${r.machine.cpus} cores, ${r.machine.memGiB} GiB, ${r.machine.postgres}, Redis ${r.machine.redis}; load avg at start ${r.machine.loadStart}, end ${r.machine.loadEnd}`,
  );
  lines.push(
    `workers ${[r.options.workers].flat().join(",")}, clients ${r.options.concurrency}, ${r.options.durationS} s per run, partitions ${r.options.partitions}${r.runs.some((run) => run.settle.batchItems) ? `, ${r.options.batchItems} payments per batch request` : ""}`,
  );
  lines.push("");
  for (const p of r.pgbench)
    lines.push(
      `pgbench ${p.script.padEnd(9)}  ${p.tps} tps at ${p.clients} clients (latency avg ${p.latencyAvgMs} ms, failed ${p.failed}${p.cpuMsPerTx ? `; CPU per tx: postgres ${p.cpuMsPerTx.postgres} ms + pgbench ${p.cpuMsPerTx.pgbench} ms` : ""})`,
    );
  lines.push("");
  const w = [Math.max(18, ...r.runs.map((run) => specName(run.settle).length)), 10, 9, 13, 30, 30, 7, 8, 11, 10, 13];
  lines.push(
    row(
      [
        "run",
        "accepted/s",
        "settled/s",
        "pgbench xfer",
        "accept ms p50/95/99/max",
        "settled ms p50/95/99/max",
        "broken",
        "naive/s",
        "naive broke",
        "careful/s",
        "careful broke",
      ],
      w,
    ),
  );
  for (const run of r.runs) {
    const s = run.settle;
    const peer = (p: NaiveRunResult | CarefulRunResult | undefined) => (p ? [p.processedPerS, `${p.brokenCount} of ${p.invariants.length}`] : ["-", "-"]);
    lines.push(
      row(
        [
          specName(s),
          s.acceptedPerS,
          s.settledPerS,
          s.adjacentTransferTps ?? "-",
          ms(s.acceptLatency),
          ms(s.settleLatency),
          s.broken ? "BROKEN" : "no",
          ...peer(run.naive),
          ...peer(run.careful),
        ],
        w,
      ),
    );
  }
  lines.push(...peerNotes(r).map((n) => `note: ${n}`));
  lines.push("");
  for (const run of r.runs) {
    const c = settleCpu(run.settle);
    lines.push(
      `${specName(run.settle)} Settle CPU per payment: ${c.total} ms (API ${c.api}, workers ${c.workers}, their PostgreSQL backends ${c.postgres}, Redis ${c.redis}); ` +
        `PostgreSQL per payment: ${run.settle.profile.pg.commitsPerPayment} commits, ${run.settle.profile.pg.walBytesPerPayment ?? "-"} WAL bytes`,
    );
  }
  lines.push("");
  for (const run of r.runs) {
    const rs = run.settle.profile.redis;
    if (rs)
      lines.push(
        `${specName(run.settle)} Redis per payment: ${rs.redisCommandsPerPayment} commands, ${rs.scriptCallsPerPayment} top-level script calls; top: ${rs.top.map((t) => `${t.command} ${t.perPayment}`).join(", ")}`,
      );
  }
  for (const run of r.runs) {
    const wh = run.settle.webhooks;
    if (wh)
      lines.push(
        `${specName(run.settle)} webhooks: ${wh.delivered} of ${wh.events} events delivered (${wh.deliveries} deliveries), event→delivery ms ${ms(wh.lag)}, all delivered ${wh.caughtUpAfterDrainS} s after the drain; the receiver's own CPU ${cpuOf(run.settle, (p) => p === "webhook-receiver")} ms per payment (not Settle's; same cores)${
          run.settle.profile.cpu.some((c) => c.process.startsWith("webhook-worker-"))
            ? `; webhook-only workers ${cpuOf(run.settle, (p) => p.startsWith("webhook-worker-"))} ms per payment (beside the settle figures above)`
            : ""
        }`,
      );
  }
  lines.push("");
  for (const run of r.runs) {
    const ratios = Object.entries(run.ratios)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k} = ${v}`)
      .join("; ");
    if (ratios) lines.push(`${specName(run.settle)}: ${ratios}`);
    // mixed: what the settled operations were (payments by type and status, operations on payments).
    if (run.settle.features)
      lines.push(
        `${specName(run.settle)} settled operations: ${Object.entries(run.settle.outcomes)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ")}`,
      );
  }
  const summaries = summarise(r.runs);
  if (r.runs.length > summaries.length) {
    lines.push("", "medians over repeats:");
    const w2 = [Math.max(18, ...summaries.map((s) => s.spec.length)), 5, 10, 9, 13, 13, 13, 9, 11, 10, 10, 10];
    lines.push(
      row(["run", "runs", "accepted/s", "settled/s", "xfer tps", "÷ xfer tps", "accept p99", "settle p99", "naive/s", "÷ naive", "careful/s", "÷ careful"], w2),
    );
    for (const s of summaries)
      lines.push(
        row(
          [
            s.spec,
            s.runs,
            s.acceptedPerS,
            s.settledPerS,
            s.adjacentTransferTps ?? "-",
            s.ratioAdjacent ?? "-",
            s.acceptP99,
            s.settleP99,
            s.naivePerS ?? "-",
            s.ratioNaive ?? "-",
            s.carefulPerS ?? "-",
            s.ratioCareful ?? "-",
          ],
          w2,
        ),
      );
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

/** CPU ms per payment of the measured processes whose name passes `which`, or "-". */
function cpuOf(s: SettleRunResult, which: (process: string) => boolean): number | string {
  const shares = s.profile.cpu.filter((c) => which(c.process));
  return shares.length ? Math.round(shares.reduce((n, c) => n + c.msPerPayment, 0) * 1000) / 1000 : "-";
}
