import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createPool } from "@settle/core";
import { findPostgresPrograms, POSTGRES_SEARCH } from "@settle/core/testing";
import { procStats, ROOT } from "./children";
import { dropDatabase, recreateDatabase } from "./database";
import type { BenchOptions } from "./options";
import { round } from "./stats";

export interface PgbenchResult {
  script: "tpcb-like" | "transfer";
  clients: number;
  durationS: number;
  tps: number;
  latencyAvgMs: number;
  failed: number;
  perSecond: { second: number; tps: number; latencyMs: number }[];
  /** CPU ms per transaction of pgbench and its PostgreSQL backends, over the middle of the run. */
  cpuMsPerTx?: { pgbench: number; postgres: number };
  command: string;
}

let pgbenchPath: string | undefined;
/** PGBENCH, else pgbench where PostgreSQL's programs are; throws, naming what to install, if there is none. */
function pgbench(): string {
  pgbenchPath ??= process.env.PGBENCH || findPostgresPrograms(["pgbench"])?.pgbench;
  if (!pgbenchPath) {
    throw new Error(
      `pgbench not found (looked in ${POSTGRES_SEARCH}): install PostgreSQL's server package, which has it (e.g. apt-get install postgresql), set PGBENCH=/path/to/pgbench, or run with --pgbench false`,
    );
  }
  return pgbenchPath;
}

function connArgs(url: string): string[] {
  const u = new URL(url);
  return ["-h", u.hostname, "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres")];
}

interface CpuSample {
  atS: number;
  pgbench: number;
  postgres: number;
}

function run(
  args: string[],
  onStderrLine?: (line: string) => void,
  onSpawn?: (pid: number) => void,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(pgbench(), args, { stdio: ["ignore", "pipe", "pipe"] });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      if (onStderrLine) for (const line of text.split("\n")) if (line.trim()) onStderrLine(line);
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Samples CPU of pgbench and the database's backends twice, 2 s in and 1 s before the end. */
function cpuSampler(url: string, dbName: string, durationS: number): { onSpawn: (pid: number) => void; samples: CpuSample[]; stop: () => void } {
  const samples: CpuSample[] = [];
  const timers: NodeJS.Timeout[] = [];
  const pool = createPool({ url, max: 1, applicationName: "settle-bench-sampler" });
  const sample = async (pid: number, atS: number) => {
    const { rows } = await pool.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgbench'", [dbName]);
    const postgres = rows.reduce((a, r) => a + (procStats(Number(r.pid))?.cpuS ?? 0), 0);
    samples.push({ atS, pgbench: procStats(pid)?.cpuS ?? 0, postgres });
  };
  return {
    samples,
    onSpawn: (pid) => {
      const from = Math.min(2, durationS / 4);
      const to = Math.max(from + 1, durationS - 1);
      timers.push(setTimeout(() => void sample(pid, from).catch(() => undefined), from * 1000));
      timers.push(setTimeout(() => void sample(pid, to).catch(() => undefined), to * 1000));
    },
    stop: () => {
      for (const t of timers) clearTimeout(t);
      void pool.end();
    },
  };
}

function cpuPerTx(samples: CpuSample[], perSecond: PgbenchResult["perSecond"]): PgbenchResult["cpuMsPerTx"] {
  const [a, b] = samples;
  if (!a || !b) return undefined;
  const tx = perSecond.filter((p) => p.second > a.atS && p.second <= b.atS).reduce((sum, p) => sum + p.tps, 0);
  if (!tx) return undefined;
  return { pgbench: round(((b.pgbench - a.pgbench) * 1000) / tx, 3), postgres: round(((b.postgres - a.postgres) * 1000) / tx, 3) };
}

function parse(script: PgbenchResult["script"], clients: number, durationS: number, out: { stdout: string; stderr: string }, command: string): PgbenchResult {
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out.stdout);
  if (!tps) throw new Error(`pgbench ${script}: no tps in its output\n${out.stdout}\n${out.stderr}`);
  const lat = /latency average = ([\d.]+) ms/.exec(out.stdout);
  const failed = /number of failed transactions: (\d+)/.exec(out.stdout);
  const perSecond = [...out.stderr.matchAll(/progress: ([\d.]+) s, ([\d.]+) tps, lat ([\d.]+) ms/g)].map((m) => ({
    second: Math.round(Number(m[1])),
    tps: Number(m[2]),
    latencyMs: Number(m[3]),
  }));
  return {
    script,
    clients,
    durationS,
    tps: round(Number(tps[1])),
    latencyAvgMs: round(Number(lat?.[1] ?? 0), 2),
    failed: Number(failed?.[1] ?? 0),
    perSecond,
    command,
  };
}

/**
 * The physical limit, measured just before Settle on the same server: pgbench's built-in
 * TPC-B-like script, then the transfer script, at the bench's client count.
 */
const DB = "settle_bench_pgbench";

function tick(label: string) {
  return (line: string) => {
    if (!line.startsWith("progress:")) return;
    if (process.stderr.isTTY) process.stderr.write(`\r  pgbench ${label}: ${line}`.padEnd(100));
    else if (/progress: \d*[05]\.0 s/.test(line)) process.stderr.write(`  pgbench ${label}: ${line}\n`);
  };
}

/**
 * The physical limit on the same server, at the bench's client count: pgbench's built-in
 * TPC-B-like script and the transfer script, in a scratch database kept for the whole bench so
 * that the transfer script can also run right before each Settle run (this machine's load moves
 * a lot within minutes; the ratio to the adjacent measurement is the fairer one).
 */
export class PgbenchBaseline {
  private constructor(
    private readonly opts: BenchOptions,
    private readonly url: string,
  ) {}

  static async prepare(opts: BenchOptions): Promise<PgbenchBaseline> {
    pgbench(); // before the scratch database is made: a missing pgbench is the whole error
    const url = await recreateDatabase(opts.databaseUrl, DB, { migrate: false });
    // Scale = clients, so TPC-B's branch rows do not become the bottleneck (pgbench's own advice).
    const scale = String(Math.max(1, opts.concurrency));
    process.stderr.write(`  pgbench: initialising TPC-B tables (scale ${scale}) and the transfer tables\n`);
    const init = await run(["-i", "-q", "-s", scale, ...connArgs(url), DB]);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    const pool = createPool({ url, max: 1, applicationName: "settle-bench" });
    try {
      await pool.query(fs.readFileSync(path.join(ROOT, "bench/pgbench/transfer-init.sql"), "utf8"));
      // Outside the init script: VACUUM cannot run in the implicit transaction of a multi-statement query.
      await pool.query("VACUUM ANALYZE xfer_accounts, xfer_payments");
    } finally {
      await pool.end();
    }
    return new PgbenchBaseline(opts, url);
  }

  async run(script: PgbenchResult["script"], durationS: number): Promise<PgbenchResult> {
    const clients = this.opts.concurrency;
    const args = [
      "-n",
      ...(script === "transfer" ? ["-f", path.join(ROOT, "bench/pgbench/transfer.sql")] : []),
      "-c",
      String(clients),
      "-j",
      String(Math.min(clients, 2)),
      "-T",
      String(durationS),
      "-P",
      "1",
      ...connArgs(this.url),
      DB,
    ];
    const cpu = cpuSampler(this.url, DB, durationS);
    const out = await run(args, tick(script), cpu.onSpawn);
    cpu.stop();
    if (out.code !== 0) throw new Error(`pgbench ${script} failed: ${out.stderr}`);
    const result = parse(script, clients, durationS, out, `pgbench ${args.join(" ").replace(ROOT + "/", "")}`);
    return { ...result, cpuMsPerTx: cpuPerTx(cpu.samples, result.perSecond) };
  }

  async close(): Promise<void> {
    await dropDatabase(this.opts.databaseUrl, DB);
  }
}
