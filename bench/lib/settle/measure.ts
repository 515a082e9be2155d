// The measurements of a Settle run: process CPU and RSS, PostgreSQL's counters and the payments
// of the load phase as the database recorded them, turned into the run's profile and series.
import fs from "node:fs";
import path from "node:path";
import { createRedis, PartitionQueues, type RedisTarget, type Pool } from "@settle/core";
import { procStats, treeStats, type Child } from "../children";
import type { LoadResult } from "../load";
import type { BenchOptions } from "../options";
import { percentiles, round } from "../stats";
import { operationsTable } from "./drain";
import { redisPids } from "./redis-keys";
import type { SettleProfile, SettleRunResult } from "./types";

type PgCounters = Record<string, unknown>;

export interface ProcessUsage {
  /** CPU seconds from the start of the measurement, per process (PostgreSQL backends by application, Redis, the driver). */
  cpu: { process: string; cpuS: number }[];
  /** RSS samples (MiB), one a second, per process. */
  rss: Map<string, number[]>;
  pgBefore: PgCounters;
  pgAfter: PgCounters;
}

export interface Measurement {
  /** The highest order_seq before the load: the run's payments (and operations on payments, which share the sequence) are those above it. */
  boundary: string;
  /** Stops the meters (before the heavy verification reads, which would count as the run's work). */
  finish(): Promise<ProcessUsage>;
}

// wal_bytes is the server's (pg_stat_wal): the bench is the only writer while it runs.
const PG_COUNTERS = `SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, (SELECT wal_bytes FROM pg_stat_wal) AS wal_bytes
                       FROM pg_stat_database WHERE datname = $1`;

/** Snapshots every meter just before the load, and samples RSS every second from then on. */
export async function startMeasuring(pool: Pool, dbName: string, redis: RedisTarget, all: Child[]): Promise<Measurement> {
  // Backends report their statistics at most once a second: let the seeding's rows reach
  // pg_stat_database before the snapshot, or they would count as the run's writes.
  await new Promise((r) => setTimeout(r, 1500));
  const { rows: b } = await pool.query<{ boundary: string }>(
    `SELECT greatest((SELECT coalesce(max(order_seq), 0) FROM payments), (SELECT coalesce(max(order_seq), 0) FROM ${await operationsTable(pool)})) AS boundary`,
  );
  const boundary = String(b[0]!.boundary);
  const statsBefore = await pool.query<PgCounters>(PG_COUNTERS, [dbName]);
  const rPids = await redisPids(redis);
  const redisCpu = () => rPids.reduce((a, pid) => a + (procStats(pid)?.cpuS ?? 0), 0);
  const cpuStart = new Map<string, number>();
  for (const c of all) cpuStart.set(c.name, treeStats(c.pid)?.cpuS ?? 0);
  const backendsStart = await backendCpu(pool, dbName);
  const redisStart = redisCpu();
  const driverStart = process.cpuUsage();
  const rss = new Map<string, number[]>(all.map((c) => [c.name, [treeStats(c.pid)?.rssMiB ?? 0]]));
  const rssTimer = setInterval(() => {
    for (const c of all) rss.get(c.name)!.push(treeStats(c.pid)?.rssMiB ?? 0);
  }, 1000);

  return {
    boundary,
    async finish() {
      const driverCpu = process.cpuUsage(driverStart);
      const cpu: { process: string; cpuS: number }[] = [];
      for (const c of all) cpu.push({ process: c.name, cpuS: (treeStats(c.pid)?.cpuS ?? 0) - (cpuStart.get(c.name) ?? 0) });
      const backendsEnd = await backendCpu(pool, dbName);
      const pgByApp = new Map<string, number>();
      for (const [pid, end] of backendsEnd) {
        const delta = end.cpuS - (backendsStart.get(pid)?.cpuS ?? 0);
        pgByApp.set(end.app, (pgByApp.get(end.app) ?? 0) + delta);
      }
      for (const [app, cpuS] of pgByApp) cpu.push({ process: `postgres (${app})`, cpuS });
      if (rPids.length) cpu.push({ process: "redis-server (shared with other users)", cpuS: redisCpu() - redisStart });
      cpu.push({ process: "bench driver", cpuS: (driverCpu.user + driverCpu.system) / 1e6 });
      clearInterval(rssTimer);
      for (const c of all) rss.get(c.name)!.push(treeStats(c.pid)?.rssMiB ?? 0);
      const statsAfter = await pool.query<PgCounters>(PG_COUNTERS, [dbName]);
      return { cpu, rss, pgBefore: statsBefore.rows[0]!, pgAfter: statsAfter.rows[0]! };
    },
  };
}

/** The steady-state window of each process's CPU profile: from the load's start to the drain's end. */
export function writeCpuProfileWindows(runDir: string, all: Child[], load: LoadResult): void {
  const windows = Object.fromEntries(all.map((c) => [c.name, { fromMs: load.startedAt - c.startedAt, toMs: Date.now() - c.startedAt }]));
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, "windows.json"), JSON.stringify(windows));
}

async function backendCpu(pool: Pool, dbName: string): Promise<Map<number, { app: string; cpuS: number }>> {
  const { rows } = await pool.query<{ pid: number; application_name: string }>("SELECT pid, application_name FROM pg_stat_activity WHERE datname = $1", [
    dbName,
  ]);
  const out = new Map<number, { app: string; cpuS: number }>();
  for (const r of rows) {
    const s = procStats(Number(r.pid));
    if (s) out.set(Number(r.pid), { app: String(r.application_name || "other"), cpuS: s.cpuS });
  }
  return out;
}

export interface SettledPayments {
  /** Payments by type, status and failure reason; operations on a payment ("capture applied", "void rejected (account_frozen)"). */
  outcomes: Record<string, number>;
  /** Accept-to-settled latency of every settled payment and applied or rejected operation on a payment (ms). */
  settleLatencies: number[];
  /** Per second from the load's start: payments settled in it, and the latencies of those created in it. */
  settledBySecond: number[];
  settleLatBySecond: number[][];
  /** When the last one settled (ms since the epoch; the load's start if none did). */
  lastProcessed: number;
  settled: number;
  settledDuringLoad: number;
}

/**
 * Outcomes and accept-to-settled latency of the payments of the load phase, from the database.
 * Operations on a payment (dispute steps, captures, voids) count as settled operations beside
 * the payments: each is accepted with a 202 and applied (or rejected) by a worker like a payment.
 */
export async function settledPayments(pool: Pool, boundary: string, load: LoadResult): Promise<SettledPayments> {
  const ops = await operationsTable(pool);
  const { rows: outcomeRows } = await pool.query<{ type: string; status: string; reason: string; n: string }>(
    `SELECT type, status, coalesce(failure_reason, '') AS reason, count(*) AS n FROM payments WHERE order_seq > $1 GROUP BY 1, 2, 3
     UNION ALL
     SELECT kind, status, coalesce(rejection_reason, ''), count(*) FROM ${ops} WHERE order_seq > $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    [boundary],
  );
  const outcomes: Record<string, number> = {};
  for (const r of outcomeRows) outcomes[`${r.type} ${r.status}${r.reason ? ` (${r.reason})` : ""}`] = Number(r.n);
  const { rows: lat } = await pool.query<{ created_ms: string; processed_ms: string }>(
    `SELECT extract(epoch FROM created_at) * 1000 AS created_ms, extract(epoch FROM processed_at) * 1000 AS processed_ms
       FROM payments WHERE order_seq > $1 AND processed_at IS NOT NULL
     UNION ALL
     SELECT extract(epoch FROM created_at) * 1000, extract(epoch FROM processed_at) * 1000 FROM ${ops} WHERE order_seq > $1 AND processed_at IS NOT NULL`,
    [boundary],
  );
  const settleLatencies: number[] = [];
  const settledBySecond: number[] = [];
  const settleLatBySecond: number[][] = [];
  let lastProcessed = load.startedAt;
  for (const r of lat) {
    const created = Number(r.created_ms);
    const processed = Number(r.processed_ms);
    settleLatencies.push(processed - created);
    lastProcessed = Math.max(lastProcessed, processed);
    const ps = Math.max(0, Math.floor((processed - load.startedAt) / 1000));
    settledBySecond[ps] = (settledBySecond[ps] ?? 0) + 1;
    const cs = Math.max(0, Math.floor((created - load.startedAt) / 1000));
    (settleLatBySecond[cs] ??= []).push(processed - created);
  }
  const settledDuringLoad = lat.filter((r) => Number(r.processed_ms) <= load.endedAt).length;
  return { outcomes, settleLatencies, settledBySecond, settleLatBySecond, lastProcessed, settled: lat.length, settledDuringLoad };
}

/** CPU, Redis, PostgreSQL and job figures per settled payment. */
export function settleProfile(usage: ProcessUsage, settled: number, redis: SettleProfile["redis"], jobs: SettleProfile["jobs"]): SettleProfile {
  const { cpu } = usage;
  const cpuMs = (pick: (process: string) => boolean) => (settled ? (cpu.filter((c) => pick(c.process)).reduce((a, c) => a + c.cpuS, 0) * 1000) / settled : 0);
  const settleCpu = {
    api: cpuMs((p) => p === "api"),
    workers: cpuMs((p) => p.startsWith("worker-")),
    postgres: cpuMs((p) => /^postgres \(settle-(api|worker)/.test(p)),
    redis: cpuMs((p) => p.startsWith("redis-server")),
  };
  const a = usage.pgAfter;
  const bf = usage.pgBefore;
  const commits = Number(a.xact_commit) - Number(bf.xact_commit);
  return {
    cpu: cpu.map((c) => ({ process: c.process, cpuS: round(c.cpuS, 2), msPerPayment: settled ? round((c.cpuS * 1000) / settled, 3) : 0 })),
    settleCpuMsPerPayment: {
      api: round(settleCpu.api, 3),
      workers: round(settleCpu.workers, 3),
      postgres: round(settleCpu.postgres, 3),
      redis: round(settleCpu.redis, 3),
      total: round(settleCpu.api + settleCpu.workers + settleCpu.postgres + settleCpu.redis, 3),
    },
    redis,
    pg: {
      commits,
      rollbacks: Number(a.xact_rollback) - Number(bf.xact_rollback),
      commitsPerPayment: settled ? round(commits / settled, 2) : 0,
      tuplesInsertedPerPayment: settled ? round((Number(a.tup_inserted) - Number(bf.tup_inserted)) / settled, 2) : 0,
      tuplesUpdatedPerPayment: settled ? round((Number(a.tup_updated) - Number(bf.tup_updated)) / settled, 2) : 0,
      walBytesPerPayment: settled ? Math.round((Number(a.wal_bytes) - Number(bf.wal_bytes)) / settled) : 0,
    },
    jobs,
  };
}

/** Per second of the run: accepted and settled payments and their latency percentiles. */
export function perSecondSeries(load: LoadResult, payments: SettledPayments): SettleRunResult["series"] {
  const acceptSeries = new Map(load.perSecond.map((p) => [p.second, p]));
  const seconds = Math.max(load.perSecond.length, payments.settledBySecond.length, payments.settleLatBySecond.length);
  return Array.from({ length: seconds }, (_, s) => {
    const a = acceptSeries.get(s);
    const sl = percentiles(payments.settleLatBySecond[s] ?? []);
    return {
      second: s,
      accepted: a?.count ?? 0,
      settled: payments.settledBySecond[s] ?? 0,
      acceptP50: round(a?.p50 ?? 0),
      acceptP99: round(a?.p99 ?? 0),
      settleP50: round(sl.p50),
      settleP99: round(sl.p99),
    };
  });
}

/** RSS per process: the per-second samples, and their start, end and maximum. */
export function memoryFigures(rss: Map<string, number[]>): Pick<SettleRunResult, "memory" | "memorySeries"> {
  return {
    memorySeries: Object.fromEntries([...rss].map(([name, v]) => [name, v.map((x) => round(x))])),
    memory: [...rss].map(([name, v]) => ({
      process: name,
      rssStartMiB: round(v[0] ?? 0),
      rssEndMiB: round(v[v.length - 1] ?? 0),
      rssMaxMiB: round(Math.max(...v)),
    })),
  };
}

/** Queue wait and processing time of the settle jobs BullMQ still keeps (its last completed ones). */
export async function jobStats(opts: BenchOptions, prefix: string): Promise<SettleProfile["jobs"]> {
  const redis = createRedis(opts.redis, "worker");
  const queues = new PartitionQueues(redis, { prefix, partitions: opts.partitions });
  try {
    const waits: number[] = [];
    const processing: number[] = [];
    let paying = 0;
    let empty = 0;
    let payments = 0;
    for (const q of queues.queues) {
      const jobs = await q.getJobs(["completed"], 0, 199);
      for (const job of jobs) {
        if (!job.processedOn || !job.finishedOn) continue;
        waits.push(job.processedOn - job.timestamp);
        processing.push(job.finishedOn - job.processedOn);
        const n = Number((job.returnvalue as { settled?: number } | undefined)?.settled ?? 0);
        if (n > 0) {
          paying++;
          payments += n;
        } else empty++;
      }
    }
    return {
      sampled: waits.length,
      payingJobs: paying,
      paymentsPerPayingJob: paying ? round(payments / paying, 2) : 0,
      emptyJobs: empty,
      queueWait: percentiles(waits),
      processing: percentiles(processing),
    };
  } finally {
    await queues.close().catch(() => undefined);
    redis.disconnect();
  }
}
