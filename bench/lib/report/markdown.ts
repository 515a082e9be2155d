// The Markdown tables written next to result.json (what BENCHMARKS.md quotes).
import { round } from "../stats";
import { ms, peerNotes, settleCpu, spanRows, specName, summarise, workerCurves, type BenchResult } from "./model";
import { targetStatus } from "./targets";

/** The run as Markdown tables (what BENCHMARKS.md quotes), written next to result.json. */
export function markdownSummary(r: BenchResult): string {
  const md = (headers: string[], rows: (string | number | null | undefined)[][]) =>
    [
      `| ${headers.join(" | ")} |`,
      `|${headers.map(() => "---").join("|")}|`,
      ...rows.map((row) => `| ${row.map((c) => String(c ?? "-").replace(/\|/g, "\\|")).join(" | ")} |`),
    ].join("\n");
  const out: string[] = [];
  out.push(`Run \`${r.runId}\` — \`${r.command}\``, "");
  out.push(
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGiB} GiB, Node ${r.machine.node}, ${r.machine.postgres}, Redis ${r.machine.redis}. Load average (1/5/15 min) at start ${r.machine.loadStart}, at end ${r.machine.loadEnd}.`,
    "",
  );
  out.push("**pgbench, same server, same client count**", "");
  out.push(
    md(
      ["script", "clients", "tps", "latency avg ms", "failed", "CPU ms per tx (postgres + pgbench)"],
      r.pgbench.map((p) => [p.script, p.clients, p.tps, p.latencyAvgMs, p.failed, p.cpuMsPerTx ? `${p.cpuMsPerTx.postgres} + ${p.cpuMsPerTx.pgbench}` : "-"]),
    ),
    "",
  );
  out.push("**Every run** (latencies in ms: p50 / p95 / p99 / max)", "");
  out.push(
    md(
      [
        "run",
        "accepted/s",
        "settled/s",
        "pgbench transfer tps just before",
        "Settle ÷ that",
        "accept latency",
        "accept→settled latency",
        "Settle invariants",
        "naive /s",
        "Settle ÷ naive",
        "naive invariants broken",
        "careful sync /s",
        "Settle ÷ careful sync",
        "careful sync invariants broken",
      ],
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
          s.broken
            ? `BROKEN: ${s.invariants
                .filter((i) => !i.ok)
                .map((i) => i.name)
                .join(", ")}`
            : `all ${s.invariants.length} hold`,
          run.naive?.processedPerS,
          run.ratios["settled/s ÷ naive processed/s"],
          run.naive
            ? `${run.naive.brokenCount} of ${run.naive.invariants.length}: ${run.naive.invariants
                .filter((i) => !i.ok)
                .map((i) => i.detail)
                .join("; ")}`
            : "-",
          run.careful?.processedPerS,
          run.ratios["settled/s ÷ careful processed/s"],
          run.careful
            ? `${run.careful.brokenCount} of ${run.careful.invariants.length}${
                run.careful.brokenCount
                  ? `: ${run.careful.invariants
                      .filter((i) => !i.ok)
                      .map((i) => i.detail)
                      .join("; ")}`
                  : ""
              }`
            : "-",
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
    out.push(
      md(
        [
          "run",
          "runs",
          "accepted/s",
          "settled/s",
          "transfer tps",
          "Settle ÷ transfer",
          "accept p99",
          "settle p99",
          "naive /s",
          "Settle ÷ naive",
          "careful sync /s",
          "Settle ÷ careful sync",
        ],
        summaries.map((s) => [
          s.spec,
          s.runs,
          s.acceptedPerS,
          s.settledPerS,
          s.adjacentTransferTps,
          s.ratioAdjacent,
          s.acceptP99,
          s.settleP99,
          s.naivePerS,
          s.ratioNaive,
          s.carefulPerS,
          s.ratioCareful,
        ]),
      ),
      "",
    );
  }
  for (const curve of workerCurves(summaries)) {
    out.push(`**Workers curve, ${curve.spec}**${r.runs.length > summaries.length ? " (medians)" : ""}`, "");
    out.push(
      md(
        ["workers", "settled/s", "÷ best"],
        curve.points.map((p) => [p.workers, p.settledPerS, p.ratioToBest]),
      ),
      "",
    );
  }
  out.push("**Failures** (HTTP errors and payments settled as failed)", "");
  out.push(
    md(
      ["run", "failures"],
      r.runs.map((run) => [
        specName(run.settle),
        Object.entries(run.settle.failures)
          .map(([k, v]) => `${k}: ${v}`)
          .join("; ") || "none",
      ]),
    ),
    "",
  );
  out.push("**Targets**", "");
  out.push(
    md(
      ["", "target", "measured"],
      r.targets.map((t) => [t.met === false ? "**missed**" : targetStatus(t), t.target, t.value]),
    ),
    "",
  );
  out.push("**Settle CPU per settled payment (ms)**: API + workers + their PostgreSQL backends + Redis", "");
  out.push(
    md(
      ["run", "API", "workers", "PostgreSQL (API's and workers' backends)", "Redis", "Settle total"],
      r.runs.map((run) => {
        const c = settleCpu(run.settle);
        return [specName(run.settle), c.api, c.workers, c.postgres, c.redis, c.total];
      }),
    ),
    "",
  );
  if (r.runs.some((run) => run.settle.profile.redis)) {
    out.push("**Redis commands per settled payment** (INFO commandstats, load start → drain end; commands run by scripts count too)", "");
    out.push(
      md(
        ["run", "commands", "top-level script calls", "total_commands_processed", "top commands (per payment)"],
        r.runs.map((run) => {
          const rs = run.settle.profile.redis;
          return rs
            ? [
                specName(run.settle),
                rs.redisCommandsPerPayment,
                rs.scriptCallsPerPayment,
                rs.commandsProcessedPerPayment,
                rs.top.map((t) => `${t.command} ${t.perPayment}`).join(", "),
              ]
            : [specName(run.settle), "-", "-", "-", "-"];
        }),
      ),
      "",
    );
  }
  out.push("**CPU per settled payment (ms), by process**", "");
  const procs = [...new Set(r.runs.flatMap((run) => run.settle.profile.cpu.map((c) => c.process)))];
  out.push(
    md(
      ["run", ...procs],
      r.runs.map((run) => [specName(run.settle), ...procs.map((p) => run.settle.profile.cpu.find((c) => c.process === p)?.msPerPayment)]),
    ),
    "",
  );
  out.push(
    md(
      [
        "run",
        "PG commits per payment",
        "rows inserted / updated per payment",
        "BullMQ jobs that settled something",
        "jobs that found nothing",
        "payments per settling job",
        "queue wait p50/p95/p99/max",
        "job processing p50/p95/p99/max",
        "Redis keys left",
      ],
      r.runs.map((run) => {
        const p = run.settle.profile;
        return [
          specName(run.settle),
          p.pg.commitsPerPayment,
          `${p.pg.tuplesInsertedPerPayment} / ${p.pg.tuplesUpdatedPerPayment}`,
          p.jobs.payingJobs,
          p.jobs.emptyJobs,
          p.jobs.paymentsPerPayingJob,
          ms(p.jobs.queueWait),
          ms(p.jobs.processing),
          run.settle.redisKeys,
        ];
      }),
    ),
    "",
  );
  if (r.spanProfile) {
    const sp = r.spanProfile;
    out.push(`**Unloaded spans** (${sp.samples} sequential samples; ms p50 / p95 / p99 / max, mean)`, "");
    out.push(md(["span", "p50 / p95 / p99 / max", "mean"], spanRows(sp, 2)), "");
    const stmts = [...new Set(sp.settle.flatMap((b) => b.statements.map((s) => s.sql)))];
    out.push("**settleBatch, statement by statement** (mean ms per transaction, client-side round trip)", "");
    out.push(
      md(
        ["payments per transaction", ...stmts, "JS between statements", "total", "per payment"],
        sp.settle.map((b) => [
          b.batch,
          ...stmts.map((q) => b.statements.find((s) => s.sql === q)?.meanMs),
          b.jsMeanMs,
          round(b.totalMs.mean, 2),
          b.perPaymentMs,
        ]),
      ),
      "",
    );
    out.push(
      md(
        ["statement (100-payment batch)", "planning ms", "execution ms", "plan"],
        sp.explain.map((e) => [
          e.sql,
          e.planningMs,
          e.executionMs,
          e.plan
            .split("\n")
            .slice(0, 3)
            .map((l) => l.trim())
            .join(" ← "),
        ]),
      ),
      "",
    );
  }
  if (r.cpuProfiles?.length) {
    out.push("**V8 CPU profiles, steady state** (share of busy time; native time charged to the calling package)", "");
    out.push(
      md(
        ["process", "top packages"],
        r.cpuProfiles.map((p) => [
          p.process,
          p.byCaller
            .slice(0, 8)
            .map((b) => `${b.name} ${b.share}%`)
            .join(", "),
        ]),
      ),
      "",
    );
  }
  if (r.errors.length) out.push("Errors:", "", ...r.errors.map((e) => `- ${e.split("\n")[0]}`), "");
  return out.join("\n");
}
