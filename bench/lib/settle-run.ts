import fs from "node:fs";
import path from "node:path";
import { createPool, createRedis, PartitionQueues, type Pool } from "@settle/core";
import { freePort, onInterrupt, procStats, ROOT, startChild, stopChild, waitForHttp, type Child } from "./children";
import { checkSettleInvariants, recreateDatabase, type InvariantResult } from "./database";
import { seedFundedAccounts } from "./funding";
import { HttpClient, type HttpReply } from "./http-client";
import { runLoad, type LoadResult, type Operation } from "./load";
import { specLabel, type BenchOptions, type RunSpec } from "./options";
import { progressLine } from "./progress";
import { redisCommandStats, redisSnapshot, redisStatsConnection, type RedisCommandStats } from "./redis-stats";
import { scenarioCatalog, type Intent } from "./scenarios";
import { EMPTY_PERCENTILES, percentiles, round, type Percentiles } from "./stats";

export interface CpuShare {
  process: string;
  cpuS: number;
  msPerPayment: number;
}

export interface SettleRunResult {
  system: "settle";
  spec: RunSpec;
  /** Worker processes of this run. */
  workers: number;
  /** Payments per request (uniform-batch); absent for single-payment scenarios. */
  batchItems?: number;
  broken: boolean;
  disputes: boolean;
  /** pgbench's transfer script, run just before this run (same clients), when measured. */
  adjacentTransferTps?: number;
  load: Omit<LoadResult, "perSecond">;
  /** Payments offered (open loop: scheduled by the clock, sent or not) and accepted (202). */
  offered: number;
  accepted: number;
  acceptedPerS: number;
  settled: number;
  settledPerS: number;
  /** Payments settled per second while the load ran (steady state, excluding the drain). */
  settledPerSDuringLoad: number;
  drainS: number;
  acceptLatency: Percentiles;
  settleLatency: Percentiles;
  outcomes: Record<string, number>;
  failures: Record<string, number>;
  invariants: InvariantResult[];
  series: { second: number; accepted: number; settled: number; acceptP50: number; acceptP99: number; settleP50: number; settleP99: number }[];
  memory: { process: string; rssStartMiB: number; rssEndMiB: number; rssMaxMiB: number }[];
  /** RSS (MiB) of each process, one sample per second from the load's start. */
  memorySeries: Record<string, number[]>;
  /** Keys under the run's queue prefix once drained (BullMQ keeps a bounded tail of finished jobs). */
  redisKeys: number;
  profile: SettleProfile;
}

export interface SettleProfile {
  cpu: CpuShare[];
  /** Settle's CPU ms per settled payment: API + workers + their PostgreSQL backends + Redis. */
  settleCpuMsPerPayment: { api: number; workers: number; postgres: number; redis: number; total: number };
  /** Redis commands in the window from the load's start to the drain's end. */
  redis?: RedisCommandStats;
  pg: { commits: number; rollbacks: number; commitsPerPayment: number; tuplesInsertedPerPayment: number; tuplesUpdatedPerPayment: number };
  jobs: { sampled: number; payingJobs: number; paymentsPerPayingJob: number; emptyJobs: number; queueWait: Percentiles; processing: Percentiles };
}

interface ProcessSet {
  api: Child;
  workers: Child[];
}

async function startSystem(opts: BenchOptions, workerCount: number, dbUrl: string, prefix: string, logDir: string, cpuProfDir: string | undefined): Promise<{ procs: ProcessSet; baseUrl: string }> {
  const port = await freePort();
  const common: Record<string, string> = {
    DATABASE_URL: dbUrl,
    REDIS_URL: opts.redisUrl,
    QUEUE_PREFIX: prefix,
    PARTITIONS: String(opts.partitions),
    LOG_LEVEL: opts.logLevel,
  };
  if (opts.batchSize) common.SETTLE_BATCH_SIZE = String(opts.batchSize);
  // One directory per process: V8 writes a profile per thread (tsx's loader hooks run on their own
  // thread), and only the main thread's (thread id 0 in the file name) is the process's work.
  const nodeOptions = (name: string) => (cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${path.join(cpuProfDir, name)}`] : []);
  const api = startChild("api", { cwd: path.join(ROOT, "apps/api"), script: "src/main.ts", env: { ...common, PORT: String(port), HOST: "127.0.0.1", RATE_LIMIT_PER_SECOND: "0" }, logFile: path.join(logDir, "api.log"), nodeOptions: nodeOptions("api") });
  // The per-client rate limit would cap the driver (one client): a benchmark measures capacity.
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${baseUrl}/healthz`, api);
  const workers = Array.from({ length: workerCount }, (_, i) =>
    startChild(`worker-${i + 1}`, { cwd: path.join(ROOT, "apps/worker"), script: "src/main.ts", env: common, logFile: path.join(logDir, `worker-${i + 1}.log`), nodeOptions: nodeOptions(`worker-${i + 1}`) }),
  );
  await waitForLeases(opts.redisUrl, opts.partitions, prefix, workers);
  return { procs: { api, workers }, baseUrl };
}

/**
 * Waits until every worker has registered and every partition is leased, so that the load does
 * not start while workers are still loading (their start-up would show as queue latency).
 */
async function waitForLeases(redisUrl: string, partitions: number, prefix: string, workers: Child[], timeoutMs = 60_000): Promise<void> {
  const redis = createRedis(redisUrl, "worker");
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      for (const w of workers) if (w.process.exitCode !== null) throw new Error(`${w.name} exited (${w.process.exitCode}); see ${w.logFile}`);
      const live = await redis.zcount(`${prefix}:workers`, Date.now(), "+inf");
      let leases = 0;
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:lease:*`, "COUNT", 1000);
        cursor = next;
        leases += keys.length;
      } while (cursor !== "0");
      if (live >= workers.length && leases >= partitions) return;
      if (Date.now() > deadline) throw new Error(`workers not ready after ${timeoutMs} ms (${live} registered, ${leases}/${partitions} partitions leased)`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    redis.disconnect();
  }
}

async function pendingCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query("SELECT count(*) AS n FROM payments WHERE status = 'pending'");
  return Number(rows[0]!.n);
}

/** Waits until nothing is pending; false after `timeoutS`. */
async function waitSettled(pool: Pool, timeoutS: number, onTick?: (pending: number) => void): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const pending = await pendingCount(pool);
    onTick?.(pending);
    if (pending === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function backendCpu(pool: Pool, dbName: string): Promise<Map<number, { app: string; cpuS: number }>> {
  const { rows } = await pool.query("SELECT pid, application_name FROM pg_stat_activity WHERE datname = $1", [dbName]);
  const out = new Map<number, { app: string; cpuS: number }>();
  for (const r of rows) {
    const s = procStats(Number(r.pid));
    if (s) out.set(Number(r.pid), { app: String(r.application_name || "other"), cpuS: s.cpuS });
  }
  return out;
}

async function redisPid(url: string): Promise<number | undefined> {
  const redis = createRedis(url, "worker");
  try {
    const info = await redis.info("server");
    const m = /process_id:(\d+)/.exec(info);
    return m ? Number(m[1]) : undefined;
  } finally {
    redis.disconnect();
  }
}

async function countPrefix(url: string, prefix: string): Promise<number> {
  const redis = createRedis(url, "worker");
  let n = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      n += keys.length;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return n;
}

/**
 * Deletes the queue keys an interrupted earlier bench left behind (pnpm may kill the driver on
 * Ctrl-C before it cleans up). Only this benchmark's own prefix format is matched; benches run
 * one at a time (they share their database names too).
 */
export async function deleteStaleBenchPrefixes(url: string): Promise<number> {
  const redis = createRedis(url, "worker");
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", "bench-2*", "COUNT", 1000);
      cursor = next;
      const ours = keys.filter((k) => /^bench-\d{8}-\d{6}-(\d+|profile):/.test(k));
      if (ours.length) deleted += await redis.unlink(...ours);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Deletes this run's queue keys (only keys under its own prefix; never a flush). */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const redis = createRedis(url, "worker");
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** One Settle run of a scenario: fresh database and queue prefix, API + N workers, load, drain, checks. */
export async function runSettle(opts: BenchOptions, spec: RunSpec, index: number, dirs: { logs: string; cpuProf?: string }): Promise<SettleRunResult> {
  const scenario = scenarioCatalog[spec.scenario];
  const workerCount = spec.workers ?? opts.workers[0]!;
  const batchItems = scenario.batch ? opts.batchItems : undefined;
  const dbName = "settle_bench";
  const prefix = `bench-${opts.runId}-${index}`;
  const runName = `${index}-${spec.scenario}-${spec.rate}${spec.workers === undefined ? "" : `-${spec.workers}w`}`;
  const dbUrl = await recreateDatabase(opts.databaseUrl, dbName, { migrate: true });
  const forgetPrefix = onInterrupt(() => deletePrefix(opts.redisUrl, prefix));
  const pool = createPool({ url: dbUrl, max: 2, applicationName: "settle-bench" });
  const { procs, baseUrl } = await startSystem(opts, workerCount, dbUrl, prefix, path.join(dirs.logs, runName), dirs.cpuProf ? path.join(dirs.cpuProf, runName) : undefined);
  const redisStats = redisStatsConnection(opts.redisUrl);
  const client = new HttpClient(baseUrl, Math.max(opts.concurrency, opts.maxInFlight, 64));
  try {
    const fundStart = Date.now();
    const { ids, depositIds } = await seedFundedAccounts(pool, scenario.accounts, scenario.funding, opts.partitions);
    const firstDeposit = depositIds[0];
    process.stderr.write(`  seeded ${ids.length} funded accounts in ${round((Date.now() - fundStart) / 1000)} s\n`);

    // Disputes exist when the API accepts one on a completed deposit (mixed only).
    let disputes = false;
    if (spec.scenario === "mixed" && firstDeposit) {
      const probe = await client.post(`/api/v1/payments/${firstDeposit}/dispute`, {}, { wantBody: true });
      disputes = probe.status === 202;
      if (disputes) await waitSettled(pool, opts.settleTimeoutS);
    }

    // Open loop measures latency from the clock: a server still compiling its first requests
    // (cold JIT, new connections) would put seconds of start-up into the percentiles of a
    // deployment that runs warm. So open-loop runs first offer deposits at the run's rate for
    // --warmup seconds, settle them, and only then measure. Closed-loop runs, compared with the
    // peers (which get no warm-up), start cold.
    if (spec.rate !== "max" && opts.warmupS > 0) {
      let n = 0;
      await runLoad(client, () => ({ kind: "deposit", path: "/api/v1/deposits", body: { account_id: ids[n++ % ids.length], amount: "1.00" } }), {
        rate: spec.rate,
        durationS: opts.warmupS,
        concurrency: opts.concurrency,
        maxInFlight: opts.maxInFlight,
        maxRequests: opts.maxRequests,
        onProgress: (s) => progressLine(`warm-up ${specLabel(spec)}`, s, opts.warmupS, ""),
      });
      process.stderr.write("\n");
      await waitSettled(pool, opts.settleTimeoutS);
    }

    // Backends report their statistics at most once a second: let the seeding's rows reach
    // pg_stat_database before the snapshot, or they would count as the run's writes.
    await new Promise((r) => setTimeout(r, 1500));
    const { rows: b } = await pool.query("SELECT coalesce(max(order_seq), 0) AS boundary FROM payments");
    const boundary = String(b[0]!.boundary);
    const statsBefore = await pool.query("SELECT xact_commit, xact_rollback, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = $1", [dbName]);
    const rPid = await redisPid(opts.redisUrl);
    const cpuStart = new Map<string, number>();
    const all: Child[] = [procs.api, ...procs.workers];
    for (const c of all) cpuStart.set(c.name, procStats(c.pid)?.cpuS ?? 0);
    const backendsStart = await backendCpu(pool, dbName);
    const redisStart = rPid ? procStats(rPid)?.cpuS ?? 0 : 0;
    const driverStart = process.cpuUsage();
    const rss = new Map<string, number[]>(all.map((c) => [c.name, [procStats(c.pid)?.rssMiB ?? 0]]));
    const rssTimer = setInterval(() => {
      for (const c of all) rss.get(c.name)!.push(procStats(c.pid)?.rssMiB ?? 0);
    }, 1000);

    // The operation stream: seeded, so the naive run of this scenario offers the same one.
    const intents = scenario.intents(opts.seed + index, { disputes });
    const transfers: { id: string; at: number }[] = [];
    const disputed: { id: string; at: number }[] = [];
    // Every debit the clients saw accepted: when its request was created and when its 202 came
    // back. Acceptance order is what a client can observe: a 202 received before another
    // request was even made. Requests in flight together have no order between them.
    const debits: { account: number; id: string; createdAt: number; ackedAt: number }[] = [];
    const noteDebit = (account: number, id: string, createdAt: number) => {
      debits.push({ account, id, createdAt, ackedAt: Date.now() });
      if (disputes && transfers.length < 20_000) transfers.push({ id, at: Date.now() });
    };
    const recordDebit = (account: number, createdAt: number) => (r: HttpReply) => {
      const id = r.status === 202 && r.body ? ID_IN_BODY.exec(r.body)?.[1] : undefined;
      if (id) noteDebit(account, id, createdAt);
    };
    // The body of POST /api/v1/payments, and of each item of a batch request.
    const transferBody = (intent: Extract<Intent, { type: "transfer" }>) => ({ from_account: ids[intent.from], to_account: ids[intent.to], amount: intent.amount });
    const batchOp = (): Operation => {
      const items = Array.from({ length: batchItems ?? 1 }, () => {
        const intent = intents();
        if (intent.type !== "transfer") throw new Error(`${spec.scenario}: batches carry transfers only`);
        return intent;
      });
      const createdAt = Date.now();
      return {
        kind: "transfer-batch",
        path: "/api/v1/payments/batch",
        body: { payments: items.map(transferBody) },
        items: items.length,
        wantBody: true,
        count: (r) => countBatchReply(r, items.length, (i, id) => noteDebit(items[i]!.from, id, createdAt)),
      };
    };
    const toOp = (intent: Intent): Operation => {
      switch (intent.type) {
        case "transfer":
          return { kind: "transfer", path: "/api/v1/payments", body: transferBody(intent), wantBody: true, onReply: recordDebit(intent.from, Date.now()) };
        case "deposit":
          return { kind: "deposit", path: "/api/v1/deposits", body: { account_id: ids[intent.account], amount: intent.amount } };
        case "withdrawal":
          return { kind: "withdrawal", path: "/api/v1/withdrawals", body: { account_id: ids[intent.account], amount: intent.amount }, wantBody: true, onReply: recordDebit(intent.account, Date.now()) };
        case "dispute":
        case "resolve":
        case "chargeback": {
          // Only payments accepted a while ago are likely settled; a 409 invalid_state is an expected answer.
          const source = intent.type === "dispute" ? transfers : disputed;
          const target = source[0] && Date.now() - source[0].at > 1000 ? source.shift()! : undefined;
          if (!target) return toOp({ type: "transfer", from: 0, to: 1, amount: "1.00" });
          return {
            kind: intent.type,
            path: `/api/v1/payments/${target.id}/${intent.type}`,
            body: {},
            expected: (s) => s === 202 || s === 409,
            onReply: (r) => {
              if (intent.type === "dispute" && r.status === 202) disputed.push({ id: target.id, at: Date.now() });
            },
          };
        }
      }
    };

    let pendingNow = 0;
    const poller = setInterval(() => {
      pendingCount(pool).then((n) => (pendingNow = n), () => undefined);
    }, 1000);
    const label = `settle ${specLabel(spec)}`;
    const redisBefore = await redisSnapshot(redisStats).catch(() => undefined);
    const load = await runLoad(client, batchItems ? batchOp : () => toOp(intents()), {
      // An open-loop rate counts payments: a batch request carries batchItems of them.
      rate: spec.rate === "max" || !batchItems ? spec.rate : spec.rate / batchItems,
      durationS: opts.durationS,
      concurrency: opts.concurrency,
      maxInFlight: opts.maxInFlight,
      maxRequests: opts.maxRequests,
      onProgress: (s) => progressLine(label, s, opts.durationS, `pending ${pendingNow}`),
    });
    clearInterval(poller);
    const drainStart = Date.now();
    const drained = await waitSettled(pool, opts.settleTimeoutS, (p) =>
      progressLine(label, { elapsedS: (Date.now() - load.startedAt) / 1000, sent: load.sent, ok: Object.values(load.okByKind).reduce((a, n) => a + n, 0), failed: 0, inFlight: 0, backlog: 0 }, opts.durationS, `draining: pending ${p}`),
    );
    const drainS = (Date.now() - drainStart) / 1000;
    const redisAfter = redisBefore ? await redisSnapshot(redisStats).catch(() => undefined) : undefined;
    process.stderr.write("\n");

    // The steady-state window of each process's CPU profile: from the load's start to the drain's end.
    if (dirs.cpuProf) {
      const windows = Object.fromEntries(all.map((c) => [c.name, { fromMs: load.startedAt - c.startedAt, toMs: Date.now() - c.startedAt }]));
      const runDir = path.join(dirs.cpuProf, runName);
      fs.mkdirSync(runDir, { recursive: true });
      fs.writeFileSync(path.join(runDir, "windows.json"), JSON.stringify(windows));
    }
    // CPU per process, measured before the (heavy) verification reads.
    const driverCpu = process.cpuUsage(driverStart);
    const cpu: { process: string; cpuS: number }[] = [];
    for (const c of all) cpu.push({ process: c.name, cpuS: (procStats(c.pid)?.cpuS ?? 0) - (cpuStart.get(c.name) ?? 0) });
    const backendsEnd = await backendCpu(pool, dbName);
    const pgByApp = new Map<string, number>();
    for (const [pid, end] of backendsEnd) {
      const delta = end.cpuS - (backendsStart.get(pid)?.cpuS ?? 0);
      pgByApp.set(end.app, (pgByApp.get(end.app) ?? 0) + delta);
    }
    for (const [app, cpuS] of pgByApp) cpu.push({ process: `postgres (${app})`, cpuS });
    if (rPid) cpu.push({ process: "redis-server (shared with other users)", cpuS: (procStats(rPid)?.cpuS ?? 0) - redisStart });
    cpu.push({ process: "bench driver", cpuS: (driverCpu.user + driverCpu.system) / 1e6 });
    clearInterval(rssTimer);
    for (const c of all) rss.get(c.name)!.push(procStats(c.pid)?.rssMiB ?? 0);
    const statsAfter = await pool.query("SELECT xact_commit, xact_rollback, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = $1", [dbName]);

    // Outcomes and accept-to-settled latency of the payments of the load phase, from the database.
    const { rows: outcomeRows } = await pool.query(
      `SELECT type, status, coalesce(failure_reason, '') AS reason, count(*) AS n FROM payments WHERE order_seq > $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      [boundary],
    );
    const outcomes: Record<string, number> = {};
    for (const r of outcomeRows) outcomes[`${r.type} ${r.status}${r.reason ? ` (${r.reason})` : ""}`] = Number(r.n);
    const { rows: lat } = await pool.query(
      `SELECT extract(epoch FROM created_at) * 1000 AS created_ms, extract(epoch FROM processed_at) * 1000 AS processed_ms
         FROM payments WHERE order_seq > $1 AND processed_at IS NOT NULL`,
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
    const settled = lat.length;
    const loadS = (load.endedAt - load.startedAt) / 1000;
    const settledDuringLoad = lat.filter((r) => Number(r.processed_ms) <= load.endedAt).length;
    const accepted = Object.values(load.okByKind).reduce((a, n) => a + n, 0);

    const cpuMs = (pick: (process: string) => boolean) => (settled ? (cpu.filter((c) => pick(c.process)).reduce((a, c) => a + c.cpuS, 0) * 1000) / settled : 0);
    const settleCpu = {
      api: cpuMs((p) => p === "api"),
      workers: cpuMs((p) => p.startsWith("worker-")),
      postgres: cpuMs((p) => /^postgres \(settle-(api|worker)/.test(p)),
      redis: cpuMs((p) => p.startsWith("redis-server")),
    };
    const profile: SettleProfile = {
      cpu: cpu.map((c) => ({ process: c.process, cpuS: round(c.cpuS, 2), msPerPayment: settled ? round((c.cpuS * 1000) / settled, 3) : 0 })),
      settleCpuMsPerPayment: {
        api: round(settleCpu.api, 3),
        workers: round(settleCpu.workers, 3),
        postgres: round(settleCpu.postgres, 3),
        redis: round(settleCpu.redis, 3),
        total: round(settleCpu.api + settleCpu.workers + settleCpu.postgres + settleCpu.redis, 3),
      },
      redis: redisBefore && redisAfter ? redisCommandStats(redisBefore, redisAfter, settled) : undefined,
      pg: (() => {
        const a = statsAfter.rows[0]!;
        const bf = statsBefore.rows[0]!;
        const commits = Number(a.xact_commit) - Number(bf.xact_commit);
        return {
          commits,
          rollbacks: Number(a.xact_rollback) - Number(bf.xact_rollback),
          commitsPerPayment: settled ? round(commits / settled, 2) : 0,
          tuplesInsertedPerPayment: settled ? round((Number(a.tup_inserted) - Number(bf.tup_inserted)) / settled, 2) : 0,
          tuplesUpdatedPerPayment: settled ? round((Number(a.tup_updated) - Number(bf.tup_updated)) / settled, 2) : 0,
        };
      })(),
      jobs: await jobStats(opts, prefix),
    };

    const redisKeys = await countPrefix(opts.redisUrl, prefix).catch(() => -1);
    const invariants = await checkSettleInvariants(pool);
    invariants.push(await checkObservedDebitOrder(pool, debits));
    if (!drained) invariants.push({ name: "drained in time", ok: false, detail: `payments still pending after ${opts.settleTimeoutS} s` });
    const acceptSeries = new Map(load.perSecond.map((p) => [p.second, p]));
    const seconds = Math.max(load.perSecond.length, settledBySecond.length, settleLatBySecond.length);
    const series = Array.from({ length: seconds }, (_, s) => {
      const a = acceptSeries.get(s);
      const sl = percentiles(settleLatBySecond[s] ?? []);
      return { second: s, accepted: a?.count ?? 0, settled: settledBySecond[s] ?? 0, acceptP50: round(a?.p50 ?? 0), acceptP99: round(a?.p99 ?? 0), settleP50: round(sl.p50), settleP99: round(sl.p99) };
    });
    const failures: Record<string, number> = { ...load.failures };
    for (const [k, n] of Object.entries(outcomes)) if (k.includes("failed")) failures[`settled as ${k}`] = n;
    const { perSecond: _ps, ...loadSummary } = load;
    return {
      system: "settle",
      spec,
      workers: workerCount,
      batchItems,
      broken: invariants.some((i) => !i.ok),
      disputes,
      load: loadSummary,
      offered: load.offered,
      accepted,
      acceptedPerS: round(accepted / loadS),
      settled,
      settledPerS: round(settled / Math.max(0.001, (lastProcessed - load.startedAt) / 1000)),
      settledPerSDuringLoad: round(settledDuringLoad / loadS),
      drainS: round(drainS),
      acceptLatency: load.latency,
      settleLatency: settleLatencies.length ? percentiles(settleLatencies) : EMPTY_PERCENTILES,
      outcomes,
      failures,
      invariants,
      series,
      redisKeys,
      memorySeries: Object.fromEntries([...rss].map(([name, v]) => [name, v.map((x) => round(x))])),
      memory: [...rss].map(([name, v]) => ({ process: name, rssStartMiB: round(v[0] ?? 0), rssEndMiB: round(v[v.length - 1] ?? 0), rssMaxMiB: round(Math.max(...v)) })),
      profile,
    };
  } finally {
    client.close();
    redisStats.disconnect();
    await Promise.all([procs.api, ...procs.workers].map((c) => stopChild(c)));
    await pool.end();
    await deletePrefix(opts.redisUrl, prefix).catch(() => 0);
    forgetPrefix();
  }
}

const ID_IN_BODY = /"id":"([0-9a-f-]{36})"/;

/**
 * A batch reply item by item, in request order: `{ results: [{ status: 202, payment: { id } } |
 * { status: 4xx, error: { code } }] }`. Each accepted item is reported to `accepted` with its id.
 */
function countBatchReply(reply: HttpReply, items: number, accepted: (index: number, id: string) => void): { ok: number; failures: Record<string, number> } {
  const failures: Record<string, number> = {};
  let results: { status?: number; payment?: { id?: string }; error?: { code?: string } }[];
  try {
    results = (JSON.parse(reply.body ?? "") as { results?: typeof results }).results ?? [];
  } catch {
    return { ok: 0, failures: { [`http ${reply.status}, unreadable batch reply`]: items } };
  }
  let ok = 0;
  for (const [i, r] of results.slice(0, items).entries()) {
    if (r.status === 202 && typeof r.payment?.id === "string") {
      ok++;
      accepted(i, r.payment.id);
    } else {
      const reason = `item http ${r.status ?? "?"}${r.error?.code ? ` ${r.error.code}` : ""}`;
      failures[reason] = (failures[reason] ?? 0) + 1;
    }
  }
  if (results.length < items) failures["item missing from the batch reply"] = items - results.length;
  return { ok, failures };
}

/**
 * Per account, no debit may be journaled before a debit of the same account whose 202 the client
 * had received before it even created the later request. Checked on the debits' journal seq.
 */
async function checkObservedDebitOrder(pool: Pool, debits: { account: number; id: string; createdAt: number; ackedAt: number }[]): Promise<InvariantResult> {
  const seqById = new Map<string, number>();
  for (let i = 0; i < debits.length; i += 10_000) {
    const { rows } = await pool.query("SELECT payment_id, seq FROM journal_entries WHERE type = 'debit' AND payment_id = ANY($1::uuid[])", [debits.slice(i, i + 10_000).map((d) => d.id)]);
    for (const r of rows) seqById.set(String(r.payment_id), Number(r.seq));
  }
  const byAccount = new Map<number, { seq: number; createdAt: number; ackedAt: number }[]>();
  for (const d of debits) {
    const seq = seqById.get(d.id);
    // A payment settled as failed (insufficient funds) has no debit entry: nothing to order.
    if (seq !== undefined) byAccount.set(d.account, [...(byAccount.get(d.account) ?? []), { seq, createdAt: d.createdAt, ackedAt: d.ackedAt }]);
  }
  let violations = 0;
  let checked = 0;
  for (const list of byAccount.values()) {
    list.sort((a, b) => a.seq - b.seq);
    // Walking back from the last entry: the earliest 202 among the debits journaled later.
    let earliestAckLater = Infinity;
    for (let i = list.length - 1; i >= 0; i--) {
      const d = list[i]!;
      checked++;
      if (earliestAckLater < d.createdAt) violations++;
      earliestAckLater = Math.min(earliestAckLater, d.ackedAt);
    }
  }
  return { name: "per-account debit order (as clients observed acceptance)", ok: violations === 0, detail: `${violations} debits journaled before a debit of the same account that was accepted (202 received) before their request was made; ${checked} debits checked` };
}

/** Queue wait and processing time of the settle jobs BullMQ still keeps (its last completed ones). */
async function jobStats(opts: BenchOptions, prefix: string): Promise<SettleProfile["jobs"]> {
  const redis = createRedis(opts.redisUrl, "worker");
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
    return { sampled: waits.length, payingJobs: paying, paymentsPerPayingJob: paying ? round(payments / paying, 2) : 0, emptyJobs: empty, queueWait: percentiles(waits), processing: percentiles(processing) };
  } finally {
    await queues.close().catch(() => undefined);
    redis.disconnect();
  }
}
