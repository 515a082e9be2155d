import type { RedisTarget } from "@settle/core";
import { z } from "zod";
import { SCENARIOS, type ScenarioName } from "./scenarios";

export interface RunSpec {
  scenario: ScenarioName;
  rate: number | "max";
  /** Worker processes of this run; set only when --workers is a list (the plan crossed with it). */
  workers?: number;
}

/** "uniform@max", or "uniform@max, 4 workers" in a worker curve. */
export const specLabel = (spec: RunSpec): string =>
  `${spec.scenario}@${spec.rate}${spec.workers === undefined ? "" : `, ${spec.workers} worker${spec.workers === 1 ? "" : "s"}`}`;

const DEFAULT_PLAN = "uniform@max,uniform@1000,hot-merchant@max,contended@max,mixed@max";

const Options = z.object({
  plan: z.string().default(DEFAULT_PLAN),
  scenario: z.string().optional(),
  rate: z.string().optional(),
  duration: z.coerce.number().min(1).max(3600).default(10),
  repeat: z.coerce.number().int().min(1).max(10).default(1),
  workers: z
    .string()
    .regex(/^\d+(,\d+)*$/, "a worker count or a list of them, e.g. 1,2,4")
    .default("2"),
  concurrency: z.coerce.number().int().min(1).max(512).default(16),
  "max-in-flight": z.coerce.number().int().min(1).max(4096).default(512),
  "max-requests": z.coerce.number().int().min(1).max(10_000_000).default(2_000_000),
  partitions: z.coerce.number().int().min(1).max(1024).default(32),
  "batch-size": z.coerce.number().int().min(1).max(1000).optional(),
  "log-level": z.enum(["fatal", "error", "warn", "info", "debug", "silent"]).default("info"),
  "settle-timeout": z.coerce.number().min(5).max(3600).default(180),
  seed: z.coerce.number().int().default(20261121),
  naive: z.enum(["true", "false"]).default("true"),
  careful: z.enum(["true", "false"]).default("true"),
  "batch-items": z.coerce.number().int().min(1).max(1000).default(100),
  warmup: z.coerce.number().min(0).max(600).default(3),
  "naive-duration": z.coerce.number().min(1).max(3600).optional(),
  pgbench: z.enum(["true", "false"]).default("true"),
  profile: z.enum(["true", "false"]).default("true"),
  "cpu-prof": z.enum(["true", "false"]).default("false"),
  publish: z.enum(["true", "false"]).default("false"),
  webhooks: z.enum(["true", "false"]).default("false"),
  "webhook-workers": z.coerce.number().int().min(0).max(8).default(0),
  "api-processes": z.coerce.number().int().min(1).max(16).default(1),
  "redis-cluster": z.enum(["true", "false"]).default("false"),
  "database-url": z.string().default("postgres://postgres@127.0.0.1:5432/postgres"),
  "redis-url": z.string().default("redis://127.0.0.1:6379"),
  out: z.string().default("bench/results"),
});

export interface BenchOptions {
  runId: string;
  plan: RunSpec[];
  durationS: number;
  /** One count, or several for a worker curve (the plan is then run once per count). */
  workers: number[];
  concurrency: number;
  maxInFlight: number;
  maxRequests: number;
  partitions: number;
  batchSize: number | undefined;
  logLevel: string;
  settleTimeoutS: number;
  seed: number;
  naive: boolean;
  careful: boolean;
  /** Load seconds of the naive and careful servers' runs. */
  naiveDurationS: number;
  /** Payments per request of the batch-intake scenarios. */
  batchItems: number;
  /** Open-loop runs: seconds of warm-up load (deposits) before the measured one. */
  warmupS: number;
  pgbench: boolean;
  profile: boolean;
  cpuProf: boolean;
  publish: boolean;
  /** Settle runs with one webhook endpoint subscribed to every event, on a receiver in the bench process. */
  webhooks: boolean;
  /** With --webhooks: worker processes of role webhooks only (the others then settle only); 0: every worker does both. */
  webhookWorkers: number;
  /** API_PROCESSES of Settle's API. */
  apiProcesses: number;
  /** Settle runs on a private 3-master Redis Cluster (started by run.ts, which sets `redis.clusterNodes`). */
  redisCluster: boolean;
  /** Where Settle's processes find Redis: `redisUrl`, or the bench's cluster. */
  redis: RedisTarget;
  databaseUrl: string;
  redisUrl: string;
  outDir: string;
}

export const USAGE = `Usage: pnpm bench [options]    (every option also reads BENCH_<NAME>, e.g. BENCH_DURATION=30)
  --plan <scenario@rate,...>  runs, in order (default ${DEFAULT_PLAN})
  --scenario <a,b>            instead of --plan: these scenarios (${SCENARIOS.join(", ")}) ...
  --rate <r,...>              ... at these rates: arrivals/s (open loop) or max (closed loop); default max
  --duration <s>              load seconds per run (10)
  --repeat <n>                run the whole plan n times, interleaved; the summary takes medians (1)
  --workers <n>|<n,n,...>     worker processes (2); a list runs every plan entry once per count (a worker curve)
  --concurrency <n>           closed-loop clients for "max", and pgbench clients (16)
  --max-in-flight <n>         open loop: requests in flight at most (512)
  --partitions <n>            PARTITIONS (32)          --batch-size <n>   SETTLE_BATCH_SIZE (worker default)
  --log-level <level>         API/worker LOG_LEVEL (info)
  --batch-items <n>           payments per request in uniform-batch (100; its open-loop rate counts payments)
  --warmup <s>                open-loop runs: seconds of deposits at the run's rate before the measured load (3)
  --naive false               skip the naive server     --naive-duration <s>  naive and careful load seconds (= duration)
  --careful false             skip the careful synchronous server (locks in id order, journal, durable commits)
  --pgbench false             skip pgbench              --profile false       skip the span profile
  --cpu-prof true             write V8 CPU profiles of the API and workers and rank their hot spots
  --publish true              also write bench/charts/*.svg for BENCHMARKS.md
  --webhooks true             Settle runs with one webhook endpoint subscribed to every event (a
                              receiver process answers 204); reports deliveries and their lag
  --redis-cluster true        Settle runs on a private 3-master Redis Cluster (REDIS_CLUSTER_NODES); with --profile false
  --api-processes <n>         API_PROCESSES: the API as n processes sharing its port (1)
  --webhook-workers <n>       with --webhooks: n more workers of WORKER_ROLES=webhooks, the others
                              WORKER_ROLES=settle (delivery apart from settlement); 0: all do both
  --settle-timeout <s>        how long to wait for the queue to drain (180)
  --database-url, --redis-url servers to use (127.0.0.1); databases settle_bench* are dropped and recreated`;

/** Parses argv (--name value / --name=value) over BENCH_* environment defaults. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): BenchOptions {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(Options.shape)) {
    const v = env[`BENCH_${key.toUpperCase().replace(/-/g, "_")}`];
    if (v) raw[key] = v;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") throw new HelpRequested(USAGE);
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${arg}\n${USAGE}`);
    const eq = arg.indexOf("=");
    let key: string;
    let value: string;
    if (eq > 0) {
      key = arg.slice(2, eq);
      value = arg.slice(eq + 1);
    } else if (arg.startsWith("--no-")) {
      key = arg.slice(5);
      value = "false";
    } else {
      key = arg.slice(2);
      const nextArg = argv[i + 1];
      value = nextArg !== undefined && !nextArg.startsWith("--") ? (i++, nextArg) : "true";
    }
    if (!(key in Options.shape)) throw new UsageError(`unknown option --${key}\n${USAGE}`);
    raw[key] = value;
  }
  const parsed = Options.safeParse(raw);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("\n"));
  const o = parsed.data;
  const parseRate = (r: string): number | "max" => {
    if (r === "max") return "max";
    const n = Number(r);
    if (!Number.isFinite(n) || n <= 0 || n > 100_000) throw new UsageError(`rate ${r}: a number of arrivals per second (1..100000) or max`);
    return n;
  };
  const parseScenario = (s: string): ScenarioName => {
    if (!(SCENARIOS as string[]).includes(s)) throw new UsageError(`unknown scenario ${s} (${SCENARIOS.join(", ")})`);
    return s as ScenarioName;
  };
  let plan: RunSpec[];
  if (o.scenario || o.rate) {
    const scenarios = (o.scenario ?? "uniform").split(",").map((s) => parseScenario(s.trim()));
    const rates = (o.rate ?? "max").split(",").map((r) => parseRate(r.trim()));
    plan = scenarios.flatMap((scenario) => rates.map((rate) => ({ scenario, rate })));
  } else {
    plan = o.plan.split(",").map((item) => {
      const [s, r = "max"] = item.trim().split("@");
      return { scenario: parseScenario(s!), rate: parseRate(r) };
    });
  }
  const workers = o.workers.split(",").map(Number);
  if (workers.some((w) => w < 1 || w > 16)) throw new UsageError(`--workers ${o.workers}: counts from 1 to 16`);
  // Each entry's worker counts run back to back, so a drifting machine load hits them alike.
  if (workers.length > 1) plan = plan.flatMap((p) => workers.map((w) => ({ ...p, workers: w })));
  plan = Array.from({ length: o.repeat }, () => plan).flat();
  return {
    runId: new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-"),
    plan,
    durationS: o.duration,
    workers,
    concurrency: o.concurrency,
    maxInFlight: o["max-in-flight"],
    maxRequests: o["max-requests"],
    partitions: o.partitions,
    batchSize: o["batch-size"],
    logLevel: o["log-level"],
    settleTimeoutS: o["settle-timeout"],
    seed: o.seed,
    naive: o.naive === "true",
    careful: o.careful === "true",
    batchItems: o["batch-items"],
    warmupS: o.warmup,
    naiveDurationS: o["naive-duration"] ?? o.duration,
    pgbench: o.pgbench === "true",
    profile: o.profile === "true",
    cpuProf: o["cpu-prof"] === "true",
    publish: o.publish === "true",
    webhooks: o.webhooks === "true",
    webhookWorkers: o["webhook-workers"],
    apiProcesses: o["api-processes"],
    redisCluster: o["redis-cluster"] === "true",
    redis: { url: o["redis-url"] },
    databaseUrl: o["database-url"],
    redisUrl: o["redis-url"],
    outDir: o.out,
  };
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** --help: the usage is the answer, not an error (exit 0). */
export class HelpRequested extends UsageError {
  override name = "HelpRequested";
}
