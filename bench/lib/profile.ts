import path from "node:path";
import {
  createPool,
  createRedis,
  insertPayment,
  PartitionQueues,
  partitionFor,
  settleBatch,
  settleDeduplicationId,
  uuidv7,
  type Pool,
  type PoolClient,
} from "@settle/core";
import { HttpClient } from "@settle/core/testing";
import { freePort, onInterrupt, ROOT, startChild, stopChild, waitForHttp, type Child } from "./children";
import { recreateDatabase } from "./database";
import { seedFundedAccounts } from "./funding";
import type { BenchOptions } from "./options";
import { deletePrefix } from "./settle-run";
import { percentiles, round, type Percentiles } from "./stats";

// Where the milliseconds of one payment go, measured unloaded (one request at a time), with the
// system's own functions: the accept's INSERT and BullMQ add, the HTTP layer around them, the
// queue hop, and each statement of the settle transaction. Under load, queueing multiplies these;
// the CPU shares measured in each run say which process saturates first.

export interface SpanProfile {
  samples: number;
  accept: { httpPost: Percentiles; httpHealthz: Percentiles; insertPayment: Percentiles; bullmqAdd: Percentiles; httpAndValidationMeanMs: number };
  hop: { queueWait: Percentiles; jobProcessing: Percentiles; createdToProcessed: Percentiles };
  settle: {
    batch: number;
    reps: number;
    totalMs: Percentiles;
    perPaymentMs: number;
    jsMeanMs: number;
    statements: { sql: string; calls: number; meanMs: number }[];
  }[];
  explain: { sql: string; planningMs: number; executionMs: number; plan: string }[];
}

interface Timing {
  sql: string;
  ms: number;
}

/** A short, stable label of a statement: its first words and the tables it names. */
function label(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (/^(BEGIN|COMMIT|ROLLBACK)/i.test(flat)) return flat.toUpperCase();
  const tables = [...new Set([...flat.matchAll(/(?:FROM|INTO|UPDATE|JOIN)\s+([a-z_]+)/gi)].map((m) => m[1]!.toLowerCase()).filter((t) => t !== "unnest"))];
  const verb = /^WITH/i.test(flat) ? `WITH…${/INSERT/i.test(flat) ? "INSERT" : ""}${/UPDATE/i.test(flat) ? "+UPDATE" : ""}` : flat.split(" ")[0]!.toUpperCase();
  const lock = /FOR (NO KEY )?UPDATE/i.test(flat) ? " FOR UPDATE" : /FOR (KEY )?SHARE/i.test(flat) ? " FOR SHARE" : "";
  return `${verb} ${tables.join(", ")}${lock}`;
}

/** A statement as pg takes it: SQL text, or a config object (named prepared statements). */
type Statement = string | { text: string; values?: unknown[]; name?: string };
type QueryFn = (statement: Statement, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;
/** A node of an EXPLAIN (FORMAT JSON) plan: the fields summarisePlan reads. */
interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Total Time"?: number;
  "Actual Rows"?: number;
  Plans?: PlanNode[];
}
const textOf = (statement: Statement): string => (typeof statement === "string" ? statement : statement.text);

/**
 * A stand-in for the pool that times every statement (and, in explain mode, runs EXPLAIN ANALYZE
 * of it first inside a savepoint, so the real statement then runs on unchanged data).
 */
function instrumentedPool(pool: Pool, timings: Timing[], explain?: SpanProfile["explain"]): Pool {
  const wrap =
    (query: QueryFn, inTransaction: () => boolean): QueryFn =>
    async (statement, params) => {
      const text = textOf(statement);
      if (explain && inTransaction() && !/^\s*(BEGIN|COMMIT|ROLLBACK)/i.test(text)) {
        await query("SAVEPOINT bench_explain");
        const values = typeof statement === "string" ? params : statement.values;
        const { rows } = await query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
        await query("ROLLBACK TO SAVEPOINT bench_explain");
        const plan = (rows[0]?.["QUERY PLAN"] as { Plan: PlanNode; "Planning Time": number; "Execution Time": number }[])[0]!;
        explain.push({
          sql: label(text),
          planningMs: round(plan["Planning Time"], 3),
          executionMs: round(plan["Execution Time"], 3),
          plan: summarisePlan(plan.Plan),
        });
      }
      const t0 = performance.now();
      const result = await query(statement, params);
      timings.push({ sql: label(text), ms: performance.now() - t0 });
      return result;
    };
  const stub = {
    query: wrap(
      (t, p) => pool.query(t, p),
      () => false,
    ),
    connect: async (): Promise<PoolClient> => {
      const client = await pool.connect();
      const original = client.query.bind(client);
      let open = false;
      const raw: QueryFn = (t, p) => original(t, p);
      const timed = wrap(raw, () => open);
      (client as unknown as { query: QueryFn }).query = async (t, p) => {
        if (/^\s*BEGIN/i.test(textOf(t))) open = true;
        const r = await timed(t, p);
        if (/^\s*(COMMIT|ROLLBACK)/i.test(textOf(t))) open = false;
        return r;
      };
      const release = client.release.bind(client);
      client.release = (err?: boolean | Error) => {
        (client as unknown as { query: unknown }).query = original;
        client.release = release;
        return release(err);
      };
      return client;
    },
  };
  return stub as unknown as Pool;
}

function summarisePlan(node: PlanNode, depth = 0): string {
  const own = `${"  ".repeat(depth)}${String(node["Node Type"])}${node["Relation Name"] ? ` on ${String(node["Relation Name"])}` : ""}${node["Index Name"] ? ` using ${String(node["Index Name"])}` : ""} (${round(Number(node["Actual Total Time"] ?? 0), 3)} ms, rows ${String(node["Actual Rows"] ?? "?")})`;
  const children = (node.Plans ?? []).map((c) => summarisePlan(c, depth + 1));
  return [own, ...children].join("\n");
}

function statementSummary(timings: Timing[], reps: number): { sql: string; calls: number; meanMs: number }[] {
  const by = new Map<string, { total: number; calls: number }>();
  for (const t of timings) {
    const e = by.get(t.sql) ?? { total: 0, calls: 0 };
    e.total += t.ms;
    e.calls++;
    by.set(t.sql, e);
  }
  return [...by].map(([sql, e]) => ({ sql, calls: round(e.calls / reps, 2), meanMs: round(e.total / reps, 3) }));
}

/** Runs the span profile on a fresh database with its own API and one worker. */
export async function runSpanProfile(opts: BenchOptions, logs: string, samples = 300): Promise<SpanProfile> {
  const dbUrl = await recreateDatabase(opts.databaseUrl, "settle_bench", { migrate: true });
  const pool = createPool({ url: dbUrl, max: 2, applicationName: "settle-bench" });
  const prefix = `bench-${opts.runId}-profile`;
  const forgetPrefix = onInterrupt(() => deletePrefix(opts.redisUrl, prefix));
  const port = await freePort();
  const env = { DATABASE_URL: dbUrl, REDIS_URL: opts.redisUrl, QUEUE_PREFIX: prefix, PARTITIONS: String(opts.partitions), LOG_LEVEL: opts.logLevel };
  const children: Child[] = [];
  const redis = createRedis(opts.redisUrl, "producer");
  const queues = new PartitionQueues(redis, { prefix, partitions: opts.partitions });
  try {
    const api = startChild("api", {
      cwd: path.join(ROOT, "apps/api"),
      script: "src/main.ts",
      env: { ...env, PORT: String(port), HOST: "127.0.0.1" },
      logFile: path.join(logs, "profile-api.log"),
    });
    children.push(api);
    children.push(startChild("worker-1", { cwd: path.join(ROOT, "apps/worker"), script: "src/main.ts", env, logFile: path.join(logs, "profile-worker.log") }));
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, api);
    const { ids } = await seedFundedAccounts(pool, 1000, "100000.00", opts.partitions);
    const client = new HttpClient(`http://127.0.0.1:${port}`, 4);
    const pick = (i: number) => [ids[(i * 7) % ids.length]!, ids[(i * 7 + 1) % ids.length]!] as const;

    // Warm-up: JIT, connections, prepared plans.
    for (let i = 0; i < 50; i++) await client.post("/api/v1/payments", { from_account: pick(i)[0], to_account: pick(i)[1], amount: "1.00" });

    const post: number[] = [];
    const healthz: number[] = [];
    for (let i = 0; i < samples; i++) {
      let t0 = performance.now();
      await client.get("/healthz");
      healthz.push(performance.now() - t0);
      const [from, to] = pick(i + 50);
      t0 = performance.now();
      const r = await client.post("/api/v1/payments", { from_account: from, to_account: to, amount: "1.00" });
      post.push(performance.now() - t0);
      if (r.status !== 202) throw new Error(`profile: POST /payments answered ${r.status}`);
    }

    // The accept, split: the same two steps acceptPayment takes, timed one by one.
    const inserts: number[] = [];
    const adds: number[] = [];
    const accepted: string[] = [];
    for (let i = 0; i < samples; i++) {
      const [from, to] = pick(i + 1000);
      const partition = partitionFor(from, opts.partitions);
      let t0 = performance.now();
      await insertPayment(pool, { id: uuidv7(), partition, type: "transfer", fromAccount: from, toAccount: to, amount: "1.00", description: null });
      inserts.push(performance.now() - t0);
      t0 = performance.now();
      await queues.wake(partition);
      adds.push(performance.now() - t0);
      // The wake-up that will settle it: the one the partition's deduplication key names now.
      accepted.push(`${partition}:${(await queues.queue(partition).getDeduplicationJobId(settleDeduplicationId(partition))) ?? ""}`);
      // One at a time, like the HTTP samples: the hop is measured unloaded.
      await new Promise((r) => setTimeout(r, 5));
    }
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM payments WHERE status = 'pending'");
      if (Number(rows[0]!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const waits: number[] = [];
    const processing: number[] = [];
    for (const wakeUp of accepted) {
      const [partition, jobId] = wakeUp.split(":");
      const job = jobId ? await queues.queue(Number(partition)).getJob(jobId) : undefined;
      if (job?.processedOn && job.finishedOn) {
        waits.push(job.processedOn - job.timestamp);
        processing.push(job.finishedOn - job.processedOn);
      }
    }
    const { rows: hop } = await pool.query<{ ms: string }>(
      "SELECT extract(epoch FROM processed_at - created_at) * 1000 AS ms FROM payments WHERE id = ANY($1::uuid[]) AND processed_at IS NOT NULL",
      [accepted],
    );

    // Stop the worker: the settle transaction is now run here, on payments no job announces.
    await stopChild(children.pop()!);
    const settle: SpanProfile["settle"] = [];
    const explain: SpanProfile["explain"] = [];
    for (const [batch, reps] of [
      [1, 40],
      [10, 10],
      [100, 5],
    ] as const) {
      const timings: Timing[] = [];
      const totals: number[] = [];
      for (let rep = 0; rep < reps; rep++) {
        const partition = rep % opts.partitions;
        const candidates = ids.filter((id) => partitionFor(id, opts.partitions) === partition);
        for (let i = 0; i < batch; i++) {
          const from = candidates[i % candidates.length]!;
          const to = ids[(i * 13 + rep) % ids.length] === from ? ids[(i * 13 + rep + 1) % ids.length]! : ids[(i * 13 + rep) % ids.length]!;
          await insertPayment(pool, { id: uuidv7(), partition, type: "transfer", fromAccount: from, toAccount: to, amount: "1.00", description: null });
        }
        const before = timings.length;
        const t0 = performance.now();
        await settleBatch(instrumentedPool(pool, timings), [partition], batch);
        totals.push(performance.now() - t0);
        if (timings.length === before) throw new Error("profile: settleBatch ran no statement");
      }
      const total = percentiles([...totals]);
      const statements = statementSummary(timings, reps);
      const sqlMean = statements.reduce((a, s) => a + s.meanMs, 0);
      settle.push({ batch, reps, totalMs: total, perPaymentMs: round(total.mean / batch, 3), jsMeanMs: round(total.mean - sqlMean, 3), statements });
    }
    // EXPLAIN ANALYZE of every statement of one full batch, each in a savepoint rolled back.
    const partition = 0;
    const candidates = ids.filter((id) => partitionFor(id, opts.partitions) === partition);
    for (let i = 0; i < 100; i++) {
      const from = candidates[i % candidates.length]!;
      const to = ids.find((id) => id !== from)!;
      await insertPayment(pool, { id: uuidv7(), partition, type: "transfer", fromAccount: from, toAccount: to, amount: "1.00", description: null });
    }
    await settleBatch(instrumentedPool(pool, [], explain), [partition], 100);
    client.close();
    return {
      samples,
      accept: {
        httpPost: percentiles(post),
        httpHealthz: percentiles(healthz),
        insertPayment: percentiles([...inserts]),
        bullmqAdd: percentiles([...adds]),
        httpAndValidationMeanMs: round(percentiles([...post]).mean - percentiles([...inserts]).mean - percentiles([...adds]).mean, 3),
      },
      hop: { queueWait: percentiles(waits), jobProcessing: percentiles(processing), createdToProcessed: percentiles(hop.map((r) => Number(r.ms))) },
      settle,
      explain,
    };
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
    await queues.close().catch(() => undefined);
    redis.disconnect();
    await pool.end();
    await deletePrefix(opts.redisUrl, prefix).catch(() => 0);
    forgetPrefix();
  }
}
