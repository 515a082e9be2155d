// A capacity model of Settle, fed with one bench run's measurements (result.json) and the bytes
// the bench database holds per payment: it first reproduces the run's settled/s from the CPU each
// payment cost, then extrapolates what 10× and 100× of a Black Friday peak would need
// (docs/SCALING.md). It models, it does not measure: every input is a figure of the run.
//   pnpm exec tsx --conditions=source bench/sim/capacity.ts [--result bench/results/<run>/result.json] [--peak 3000]
import fs from "node:fs";
import path from "node:path";
import { Pool } from "pg";
import { parseCommandLine } from "@settle/core";
import type { SettleRunResult } from "../lib/settle/types";

const USAGE = `Usage: pnpm exec tsx --conditions=source bench/sim/capacity.ts [--result <result.json>] [--peak <payments/s>] [--cores <n>]

Reads a bench run (default: the newest under bench/results) and the database it left
(settle_bench on --database-url), checks the model against the run's uniform@max, then prints
what --peak (default 3000/s, today's Black Friday), 10× and 100× of it need.`;

interface Inputs {
  measuredPerS: number;
  cores: number;
  /** CPU ms per payment, by process, from the run. */
  cpu: { api: number; workers: number; pgApi: number; pgWorkers: number; redis: number; driver: number };
  commitsPerPayment: number;
  walBytesPerPayment: number;
  redisCommandsPerPayment: number;
  /** Bytes per transfer at rest, tables and indexes (payment row, two journal entries, its event). */
  bytesPerPayment: { payments: number; journal: number; events: number };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function newestResult(): string {
  const dir = path.resolve(__dirname, "../results");
  const runs = fs.readdirSync(dir).filter((d) => /^\d{8}-\d{6}$/.test(d) && fs.existsSync(path.join(dir, d, "result.json")));
  if (runs.length === 0) throw new Error("no bench run under bench/results: run pnpm bench first");
  return path.join(dir, runs.sort().at(-1)!, "result.json");
}

async function bytesAtRest(databaseUrl: string): Promise<Inputs["bytesPerPayment"]> {
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    const { rows } = await pool.query<{ payments: string; entries: string; events: string; p: string; j: string; e: string }>(
      `SELECT (SELECT count(*) FROM payments) AS payments, (SELECT count(*) FROM journal_entries) AS entries, (SELECT count(*) FROM events) AS events,
              pg_total_relation_size('payments') AS p, pg_total_relation_size('journal_entries') AS j, pg_total_relation_size('events') AS e`,
    );
    const r = rows[0]!;
    return {
      payments: Number(r.p) / Number(r.payments),
      journal: (2 * Number(r.j)) / Number(r.entries),
      events: Number(r.events) ? Number(r.e) / Number(r.events) : 0,
    };
  } finally {
    await pool.end();
  }
}

function inputsOf(run: SettleRunResult, cores: number, bytes: Inputs["bytesPerPayment"]): Inputs {
  const ms = (pick: (p: string) => boolean) => sum(run.profile.cpu.filter((c) => pick(c.process)).map((c) => c.msPerPayment));
  return {
    measuredPerS: run.settledPerS,
    cores,
    cpu: {
      api: ms((p) => p === "api"),
      workers: ms((p) => p.startsWith("worker-")),
      pgApi: ms((p) => p.startsWith("postgres (settle-api")),
      pgWorkers: ms((p) => p === "postgres (settle-worker)"),
      redis: ms((p) => p.startsWith("redis-server")),
      driver: ms((p) => p === "bench driver"),
    },
    commitsPerPayment: run.profile.pg.commitsPerPayment,
    walBytesPerPayment: run.profile.pg.walBytesPerPayment ?? 0,
    redisCommandsPerPayment: run.profile.redis?.redisCommandsPerPayment ?? 0,
    bytesPerPayment: bytes,
  };
}

/** Settled/s when every core is busy: the cores divided by the CPU one payment costs, driver included. */
const saturated = (i: Inputs) => (i.cores * 1000) / sum(Object.values(i.cpu));

/**
 * One partition is settled by one worker, one round at a time: its ceiling is the serial path's
 * cost per payment, the worker's and its PostgreSQL backend's (a hot account is one partition).
 */
const perPartitionCeiling = (i: Inputs) => 1000 / (i.cpu.workers + i.cpu.pgWorkers);

function needs(i: Inputs, rate: number) {
  const cores = (ms: number) => (ms * rate) / 1000;
  const bytes = sum(Object.values(i.bytesPerPayment));
  return {
    rate,
    apiCores: cores(i.cpu.api),
    workerCores: cores(i.cpu.workers),
    postgresCores: cores(i.cpu.pgApi + i.cpu.pgWorkers),
    commitsPerS: i.commitsPerPayment * rate,
    walMBPerS: (i.walBytesPerPayment * rate) / 1e6,
    storageGBPerDay: (bytes * rate * 86_400) / 1e9,
    eventsGBRetained: (i.bytesPerPayment.events * rate * 86_400 * 30) / 1e9,
    redisCommandsPerS: i.redisCommandsPerPayment * rate,
    partitionsAtHalfCeiling: Math.ceil(rate / (perPartitionCeiling(i) / 2)),
  };
}

async function main(): Promise<void> {
  const { values } = parseCommandLine(process.argv.slice(2), {
    name: "sim/capacity",
    usage: USAGE,
    options: { result: { type: "string" }, peak: { type: "string" }, cores: { type: "string" }, "database-url": { type: "string" } },
  });
  const file = typeof values.result === "string" ? values.result : newestResult();
  const result = JSON.parse(fs.readFileSync(file, "utf8")) as { runs: { settle: SettleRunResult }[] };
  const run = result.runs.map((r) => r.settle).find((s) => s.spec.scenario === "uniform" && s.spec.rate === "max");
  if (!run) throw new Error(`${file} has no uniform@max run`);
  const option = (name: string, fallback: string) => (typeof values[name] === "string" ? values[name] : fallback);
  const bytes = await bytesAtRest(option("database-url", "postgres://postgres@127.0.0.1:5432/settle_bench"));
  const i = inputsOf(run, Number(option("cores", "2")), bytes);
  const peak = Number(option("peak", "3000"));

  const out: string[] = [];
  out.push(`inputs: ${path.relative(process.cwd(), file)}, uniform@max, ${i.cores} cores`);
  out.push(
    `  CPU ms per payment: API ${i.cpu.api}, workers ${fmt(i.cpu.workers, 3)}, PostgreSQL (API) ${fmt(i.cpu.pgApi, 3)}, PostgreSQL (workers) ${fmt(i.cpu.pgWorkers, 3)}, Redis ${i.cpu.redis}, load driver ${i.cpu.driver}`,
  );
  out.push(
    `  per payment: ${i.commitsPerPayment} commits, ${fmt(i.walBytesPerPayment)} WAL bytes, ${i.redisCommandsPerPayment} Redis commands; at rest ${fmt(i.bytesPerPayment.payments)} B payment + ${fmt(i.bytesPerPayment.journal)} B journal + ${fmt(i.bytesPerPayment.events)} B event`,
  );
  const model = saturated(i);
  out.push(
    `check: the model gives ${fmt(model)} settled/s on ${i.cores} saturated cores; the run measured ${fmt(i.measuredPerS)} (${fmt(i.measuredPerS / model, 2)}×)`,
  );
  out.push(`per-partition (= hot-account) ceiling: ${fmt(perPartitionCeiling(i))} settled/s (one worker's core and its backend, serially)`);
  out.push("");
  out.push(
    "rate/s | API cores | worker cores | PostgreSQL cores | commits/s | WAL MB/s | GB/day at rest | events GB (30 d) | Redis cmd/s | partitions (½ ceiling)",
  );
  for (const factor of [1, 10, 100]) {
    const n = needs(i, peak * factor);
    out.push(
      [
        fmt(n.rate),
        fmt(n.apiCores, 1),
        fmt(n.workerCores, 1),
        fmt(n.postgresCores, 1),
        fmt(n.commitsPerS),
        fmt(n.walMBPerS, 1),
        fmt(n.storageGBPerDay),
        fmt(n.eventsGBRetained),
        fmt(n.redisCommandsPerS),
        fmt(n.partitionsAtHalfCeiling),
      ].join(" | "),
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

main().catch((error) => {
  process.stderr.write(`sim/capacity: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
