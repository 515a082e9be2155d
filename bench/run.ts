// `pnpm bench`: Settle end to end against the physical limit (pgbench), the naive design and a
// careful synchronous design, in one run on one machine. See BENCHMARKS.md for what it measures
// and why ratios are reported.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createPool, createRedis } from "@settle/core";
import { PrivateRedisCluster } from "@settle/core/testing";
import { runCareful, type CarefulRunResult } from "./lib/careful-run";
import { installCleanup, onInterrupt, ROOT, stopAll } from "./lib/children";
import { summariseCpuProfiles } from "./lib/cpu-profile";
import { databaseUrl, dropDatabase } from "./lib/database";
import { runNaive, type NaiveRunResult } from "./lib/naive-run";
import { HelpRequested, parseOptions, specLabel, UsageError } from "./lib/options";
import { PgbenchBaseline } from "./lib/pgbench";
import { runSpanProfile } from "./lib/profile";
import { scenarioCatalog } from "./lib/scenarios";
import { evaluateTargets, htmlReport, markdownSummary, publishCharts, ratiosFor, textSummary, type BenchResult } from "./lib/report";
import { deleteStaleBenchPrefixes, runSettle } from "./lib/settle-run";

async function machine(opts: { databaseUrl: string; redisUrl: string }): Promise<Record<string, string | number>> {
  const pool = createPool({ url: databaseUrl(opts.databaseUrl, "postgres"), max: 1, applicationName: "settle-bench" });
  const redis = createRedis(opts.redisUrl, "worker");
  try {
    const { rows } = await pool.query<{ v: string; sc: string; fsync: string; sb: string }>(
      "SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync, current_setting('shared_buffers') AS sb",
    );
    const info = await redis.info("server");
    return {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "?",
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      postgres: `PostgreSQL ${rows[0]!.v} (synchronous_commit=${rows[0]!.sc}, fsync=${rows[0]!.fsync}, shared_buffers=${rows[0]!.sb})`,
      redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "?",
      loadStart: os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" "),
    };
  } finally {
    await pool.end();
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  installCleanup();
  const outDir = path.resolve(ROOT, opts.outDir, opts.runId);
  const logs = path.join(outDir, "logs");
  const cpuProfDir = opts.cpuProf ? path.join(outDir, "cpuprof") : undefined;
  fs.mkdirSync(logs, { recursive: true });
  const startedAt = new Date().toISOString();
  if (opts.redisCluster && opts.profile) throw new UsageError("--redis-cluster runs with --profile false (the span profile uses REDIS_URL)");
  const redisCluster = opts.redisCluster ? await PrivateRedisCluster.start(3) : undefined;
  if (redisCluster) {
    opts.redis = { url: opts.redisUrl, clusterNodes: redisCluster.seeds };
    onInterrupt(() => redisCluster.destroy());
    process.stderr.write(`bench: Settle runs on a private Redis Cluster of ${redisCluster.ports.length} masters\n`);
  }
  const stale = await deleteStaleBenchPrefixes(opts.redisUrl);
  if (stale) process.stderr.write(`bench: deleted ${stale} Redis keys an interrupted earlier bench left behind\n`);
  process.stderr.write(
    `bench ${opts.runId}: ${opts.plan.map(specLabel).join("; ")}; ${opts.durationS} s each, ${opts.workers.join(",")} workers, ${opts.concurrency} clients → ${path.relative(ROOT, outDir)}\n`,
  );
  const result: BenchResult = {
    runId: opts.runId,
    command: `pnpm bench ${process.argv.slice(2).join(" ")}`.trim(),
    startedAt,
    finishedAt: startedAt,
    machine: await machine(opts),
    options: { ...opts, plan: opts.plan.map(specLabel).join(opts.workers.length > 1 ? "; " : ",") },
    pgbench: [],
    runs: [],
    targets: [],
    errors: [],
  };
  const save = () => {
    result.finishedAt = new Date().toISOString();
    result.machine.loadEnd = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
    result.targets = evaluateTargets(result);
    fs.writeFileSync(path.join(outDir, "result.json"), JSON.stringify(result, null, 2));
    fs.writeFileSync(path.join(outDir, "report.html"), htmlReport(result));
    fs.writeFileSync(path.join(outDir, "summary.md"), markdownSummary(result));
  };

  let baseline: PgbenchBaseline | undefined;
  if (opts.pgbench) {
    process.stderr.write("pgbench (the physical limit, same server, same client count)\n");
    try {
      baseline = await PgbenchBaseline.prepare(opts);
      result.pgbench.push(await baseline.run("tpcb-like", opts.durationS));
      result.pgbench.push(await baseline.run("transfer", opts.durationS));
      process.stderr.write(`\n  pgbench: ${result.pgbench.map((p) => `${p.script} ${p.tps} tps`).join(", ")}\n`);
    } catch (error) {
      result.errors.push(`pgbench: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  // In a worker curve the synchronous peers (which have no workers) run once per plan entry, with
  // its first worker count, and that measurement stands beside the entry's other counts.
  let peers: { naive?: NaiveRunResult; careful?: CarefulRunResult } = {};
  for (const [index, spec] of opts.plan.entries()) {
    process.stderr.write(`run ${index + 1}/${opts.plan.length}: ${specLabel(spec)}\n`);
    const firstOfEntry = spec.workers === undefined || spec.workers === opts.workers[0];
    if (firstOfEntry) peers = {};
    try {
      const adjacent = baseline && spec.rate === "max" ? await baseline.run("transfer", Math.min(opts.durationS, 10)).catch(() => undefined) : undefined;
      if (adjacent) process.stderr.write(`\n  pgbench transfer just before: ${adjacent.tps} tps\n`);
      const settle = await runSettle(opts, spec, index, { logs, cpuProf: cpuProfDir });
      settle.adjacentTransferTps = adjacent?.tps;
      process.stderr.write(
        `  settle: ${settle.acceptedPerS} accepted/s, ${settle.settledPerS} settled/s, accept p99 ${settle.acceptLatency.p99} ms, settled p99 ${Math.round(settle.settleLatency.p99)} ms, ${settle.broken ? "BROKEN" : "invariants hold"}\n`,
      );
      // The synchronous peers run closed loop only (at 1,000/s they would only queue), and only
      // the scenarios they can serve (mixed's refunds, captures and disputes they have not).
      if (firstOfEntry && spec.rate === "max" && !scenarioCatalog[spec.scenario].settleOnly) {
        if (opts.naive) {
          peers.naive = await runNaive(opts, spec, index, logs);
          process.stderr.write(`  naive: ${peers.naive.processedPerS}/s, broke ${peers.naive.brokenCount} of ${peers.naive.invariants.length} invariants\n`);
        }
        if (opts.careful) {
          peers.careful = await runCareful(opts, spec, index, logs);
          process.stderr.write(
            `  careful sync: ${peers.careful.processedPerS}/s, broke ${peers.careful.brokenCount} of ${peers.careful.invariants.length} invariants\n`,
          );
        }
      }
      const { naive, careful } = peers;
      result.runs.push({ settle, naive, careful, ratios: ratiosFor(settle, naive, careful, result.pgbench) });
    } catch (error) {
      result.errors.push(`${spec.scenario}@${spec.rate}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.stderr.write(`  failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    save();
  }
  if (opts.profile) {
    process.stderr.write("span profile (unloaded, one request at a time)\n");
    try {
      result.spanProfile = await runSpanProfile(opts, logs);
    } catch (error) {
      result.errors.push(`profile: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
  await baseline?.close().catch(() => undefined);
  if (cpuProfDir) result.cpuProfiles = summariseCpuProfiles(cpuProfDir);
  await redisCluster?.destroy();
  await dropDatabase(opts.databaseUrl, "settle_bench_naive").catch(() => undefined);
  await dropDatabase(opts.databaseUrl, "settle_bench_careful").catch(() => undefined);
  save();
  fs.copyFileSync(path.join(outDir, "result.json"), path.resolve(ROOT, opts.outDir, "latest.json"));
  fs.copyFileSync(path.join(outDir, "report.html"), path.resolve(ROOT, opts.outDir, "latest.html"));
  if (opts.publish) publishCharts(result, path.join(ROOT, "bench/charts"));
  process.stdout.write(
    `\n${textSummary(result)}\n\nreport: ${path.relative(ROOT, path.join(outDir, "report.html"))}\njson:   ${path.relative(ROOT, path.join(outDir, "result.json"))}\n`,
  );
  const broken = result.runs.some((r) => r.settle.broken);
  process.exitCode = result.errors.length || broken ? 1 : 0;
}

main()
  .catch((error) => {
    if (error instanceof HelpRequested) {
      process.stdout.write(`${error.message}\n`);
      process.exitCode = 0;
      return;
    }
    process.stderr.write(
      error instanceof UsageError ? `${error.message}\n` : `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 2;
  })
  .finally(() => stopAll());
