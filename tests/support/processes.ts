// Real API and worker processes for the multi-process and fault tests: spawn, wait until ready,
// kill -9 / SIGTERM / restart one at a time (on @settle/core/testing's spawnApp, which the bench
// uses too), a steady load through HTTP (on its paceRequests, as the bench's), and the ledger invariants.
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRedis, formatMoney, moneyFromDb, verifyLedger, type Pool } from "@settle/core";
import {
  acceptanceOrderViolations,
  AppProcess,
  clearRedisPrefix,
  createTestDatabase,
  errorCode,
  errorReason,
  freePort,
  HttpClient,
  paceRequests,
  spawnAppChild,
  TEST_REDIS_URL,
  TEST_SERVER_URL,
  uniquePrefix,
  waitFor,
  waitUntilReady,
  type ExitStatus,
  type LoadOutcome,
  type TestDatabase,
} from "@settle/core/testing";
import { client, type ApiClient } from "./http";

const ROOT = path.resolve(__dirname, "../..");

export type ProcessKind = "api" | "worker";
export type { ExitStatus };
export { freePort };

/** One spawned API or worker process, its output captured in `logFile`. */
export class SettleProcess extends AppProcess {
  constructor(
    name: string,
    readonly kind: ProcessKind,
    child: ChildProcess,
    logFile: string,
  ) {
    super(name, child, logFile);
  }

  /** A worker's id, as it logged it at start (the value of its partition leases in Redis). */
  workerId(): string {
    const match = /"worker":"([0-9a-f-]{36})"/.exec(this.log());
    if (!match) throw new Error(`${this.name} has not logged its worker id`);
    return match[1]!;
  }

  /** SIGTERM and wait for the exit; SIGKILL after `timeoutMs` (the exit status then shows it). */
  override terminate(timeoutMs = 20_000): Promise<ExitStatus> {
    return super.terminate(timeoutMs);
  }
}

export interface ClusterOptions {
  /** Names the database, the queue prefix and the log directory. */
  label: string;
  /** PostgreSQL server (no database) the test database is created on. @defaultValue TEST_SERVER_URL */
  postgresServerUrl?: string;
  /** @defaultValue TEST_REDIS_URL */
  redisUrl?: string;
  /** @defaultValue 8 */
  partitions?: number;
  /** Extra environment for every process (after the defaults below). */
  env?: Record<string, string>;
}

/**
 * A deployment of real processes against a database and a queue prefix of their own. Recovery
 * settings are short so that a dead worker's partitions and lost jobs come back within seconds.
 */
export class ProcessCluster {
  readonly processes: SettleProcess[] = [];
  readonly api: ApiClient;
  private counter = 0;

  private constructor(
    readonly db: TestDatabase,
    readonly prefix: string,
    readonly apiPort: number,
    readonly logDir: string,
    readonly env: Record<string, string>,
  ) {
    this.api = client(this.apiUrl);
  }

  static async create(options: ClusterOptions): Promise<ProcessCluster> {
    const db = await createTestDatabase(options.label, options.postgresServerUrl ?? TEST_SERVER_URL);
    const prefix = uniquePrefix(options.label);
    const logDir = path.join(os.tmpdir(), "settle-test-logs", prefix);
    mkdirSync(logDir, { recursive: true });
    const env: Record<string, string> = {
      DATABASE_URL: db.url,
      REDIS_URL: options.redisUrl ?? TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PARTITIONS: String(options.partitions ?? 8),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      DB_POOL_SIZE: "5",
      LEASE_TTL_MS: "2000",
      JOB_LOCK_MS: "2000",
      SWEEP_AFTER_SECONDS: "3",
      SWEEP_INTERVAL_MS: "500",
      // Load tests must not be throttled by the abuse limits of the API.
      RATE_LIMIT_PER_SECOND: "0",
      ...options.env,
    };
    return new ProcessCluster(db, prefix, await freePort(), logDir, env);
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get workers(): SettleProcess[] {
    return this.processes.filter((p) => p.kind === "worker" && p.running);
  }

  get apis(): SettleProcess[] {
    return this.processes.filter((p) => p.kind === "api" && p.running);
  }

  private spawn(kind: ProcessKind, extraEnv: Record<string, string>): SettleProcess {
    const name = `${kind}-${++this.counter}`;
    const logFile = path.join(this.logDir, `${name}.log`);
    const child = spawnAppChild({
      cwd: path.join(ROOT, "apps", kind),
      script: "src/main.ts",
      // Only PATH is inherited: the processes run on the cluster's settings alone.
      env: { PATH: process.env.PATH ?? "", ...this.env, ...extraEnv },
      logFile,
    });
    const proc = new SettleProcess(name, kind, child, logFile);
    this.processes.push(proc);
    return proc;
  }

  private async ready(proc: SettleProcess, check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<SettleProcess> {
    await waitUntilReady(proc, check, { timeoutMs, intervalMs: 100, what }).catch((error) => {
      throw new Error(`${(error as Error).message}\n${proc.tail()}`);
    });
    return proc;
  }

  /** Starts an API process on the cluster's port and waits until `GET /readyz` answers 200. */
  async startApi(timeoutMs = 20_000): Promise<SettleProcess> {
    const proc = this.spawn("api", { PORT: String(this.apiPort) });
    return this.ready(
      proc,
      async () => {
        const res = await fetch(`${this.apiUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
        return res.status === 200;
      },
      timeoutMs,
      "GET /readyz answering 200",
    );
  }

  /** Starts a worker process and waits until it has logged that it started. */
  async startWorker(timeoutMs = 20_000): Promise<SettleProcess> {
    const proc = this.spawn("worker", {});
    return this.ready(proc, () => Promise.resolve(/"msg":"worker started"/.test(proc.log())), timeoutMs, "its log saying it started");
  }

  /** Starts `n` workers at once. */
  async startWorkers(n: number): Promise<SettleProcess[]> {
    return Promise.all(Array.from({ length: n }, () => this.startWorker()));
  }

  /** Stops one process (SIGTERM, or SIGKILL as in a crash) and starts a new one of its kind. */
  async restart(proc: SettleProcess, how: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<{ exit: ExitStatus; started: SettleProcess }> {
    const exit = how === "SIGKILL" ? await proc.kill9() : await proc.terminate();
    const started = proc.kind === "api" ? await this.startApi() : await this.startWorker();
    return { exit, started };
  }

  /** The Redis key of a partition's lease (its value is the owning worker's id). */
  leaseKey(partition: number): string {
    return `${this.prefix}:lease:${partition}`;
  }

  /** SIGTERMs every running process and waits; returns each one's exit status. */
  async terminateAll(timeoutMs = 20_000): Promise<{ name: string; status: ExitStatus }[]> {
    const running = this.processes.filter((p) => p.running);
    return Promise.all(running.map(async (p) => ({ name: p.name, status: await p.terminate(timeoutMs) })));
  }

  /** Kills whatever still runs, drops the database and the queue keys; safe to call after any failure. */
  async destroy(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill9()));
    await this.db.drop().catch(() => undefined);
    await clearPrefix(this.env.REDIS_URL!, this.prefix);
  }
}

/** Deletes a test's queue keys from a shared Redis; a Redis already gone is nothing to clean. */
export async function clearPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = createRedis(redisUrl, "producer");
  let timer: NodeJS.Timeout | undefined;
  try {
    // A producer connection refuses commands until it is ready.
    await new Promise((resolve, reject) => {
      redis.once("ready", resolve);
      timer = setTimeout(() => reject(new Error("redis not ready")), 3000);
    });
    await clearRedisPrefix(redis, prefix);
  } catch {
    // unreachable (a private server already stopped): nothing left to delete
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

/** `GET /readyz` of the cluster's API: its status and which backing service it found down. */
export async function readiness(cluster: ProcessCluster): Promise<{ status: number | string; body?: { postgres?: string; redis?: string } }> {
  try {
    const res = await fetch(`${cluster.apiUrl}/readyz`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as { postgres?: string; redis?: string } };
  } catch (error) {
    return { status: errorReason(error) };
  }
}

/** Prints a fault scenario's figures for the closing note: load, what was broken, invariant results. */
export function logScenario(name: string, load: LoadResult, broken: string, report: InvariantReport): void {
  const failures = Object.entries(countReasons(load.failed))
    .map(([reason, n]) => `${n}× ${reason}`)
    .join(", ");
  console.log(
    `${name}: load ${load.sent} transfer requests in ${load.seconds.toFixed(1)} s, ${load.accepted.length} accepted (202)` +
      `${failures ? `, refused/failed: ${failures}` : ""}; broken: ${broken}; ` +
      `invariants OK: ${report.payments} payments settled (${report.completed} completed, ${report.failed} failed), ` +
      `0 pending, ${report.entries} journal entries verified, total ${report.totalBalance} conserved; ` +
      `last payment settled ${report.settleSeconds.toFixed(1)} s after the load ended`,
  );
}

/** Creates `count` accounts through the API, deposits `amount` in each and waits until all are funded. */
export async function fundAccounts(api: ApiClient, count: number, amount: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await api.settle.createAccount({ currency: "USD" })).account.id);
  const deposits: string[] = [];
  for (const id of ids) deposits.push((await api.settle.createDeposit({ account_id: id, amount })).payment.id);
  for (const id of deposits) {
    const deposit = await api.settle.waitForPayment(id, { timeoutSeconds: 30 });
    if (deposit.status !== "completed") throw new Error(`deposit ${id} is ${deposit.status} after 30 s`);
  }
  return ids;
}

const randomInt = (below: number) => Math.floor(Math.random() * below);

/** A random amount string between 0.01 and 19.99, built from digits (money is never a number). */
export function randomAmount(): string {
  for (;;) {
    const amount = `${randomInt(20)}.${String(randomInt(100)).padStart(2, "0")}`;
    if (amount !== "0.00") return amount;
  }
}

export interface LoadOptions {
  /** The API to target (read at every request, so a restarted API on another port is followed). */
  baseUrl: string | (() => string);
  accounts: string[];
  /** The load stops after this long, or after `maxPayments` requests, whichever comes first. */
  durationMs: number;
  maxPayments: number;
  ratePerSecond: number;
  /** Requests in flight at most. @defaultValue 16 */
  concurrency?: number;
  /** A request not answered by then counts as failed. @defaultValue 5000 */
  requestTimeoutMs?: number;
}

/** One 202'd transfer: when its request left and when its 202 came back (monotonic ms). */
export interface Acceptance {
  id: string;
  from: string;
  /** What the client sent, to compare with what was stored. */
  to: string;
  amount: string;
  sentAt: number;
  acceptedAt: number;
}

export interface LoadResult {
  /** Ids of the payments answered 202, in the order of the answers. */
  accepted: string[];
  acceptances: Acceptance[];
  /** Requests that got no 202: the HTTP status, or the error (timeout, connection refused…). */
  failed: { at: number; reason: string }[];
  sent: number;
  seconds: number;
}

export interface Load {
  readonly accepted: string[];
  readonly acceptances: Acceptance[];
  readonly failed: LoadResult["failed"];
  /** Ends the load early; `done` resolves once the requests in flight are answered. */
  stop(): void;
  readonly done: Promise<LoadResult>;
}

/** Groups failures by reason ("503 unavailable" → 12) for logs and assertions. */
export function countReasons(failed: LoadResult["failed"]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of failed) counts[f.reason] = (counts[f.reason] ?? 0) + 1;
  return counts;
}

/** A transfer request of the load, its accounts and amount kept to compare with what was stored. */
interface TransferRequest {
  path: string;
  body: { from_account: string; to_account: string; amount: string };
  wantBody: true;
}

/**
 * A steady load of random transfers among `accounts` through the HTTP API, bounded in rate, count
 * and time (on @settle/core/testing's paceRequests and lean client, as the bench's load). Every
 * 202's payment id is recorded; every other answer or error too, with its reason. When
 * `concurrency` requests are in flight, it waits: a slow or dead API slows the load down instead
 * of piling requests up, and no request is dropped.
 */
export function startLoad(options: LoadOptions): Load {
  const accepted: string[] = [];
  const acceptances: Acceptance[] = [];
  const failed: LoadResult["failed"] = [];
  const concurrency = options.concurrency ?? 16;
  const client = new HttpClient(options.baseUrl, concurrency);
  const next = (): TransferRequest => {
    const from = randomInt(options.accounts.length);
    const to = (from + 1 + randomInt(options.accounts.length - 1)) % options.accounts.length;
    return {
      path: "/api/v1/payments",
      body: { from_account: options.accounts[from]!, to_account: options.accounts[to]!, amount: randomAmount() },
      wantBody: true,
    };
  };
  const record = ({ request, sentAt, answeredAt, reply, error }: LoadOutcome<TransferRequest>) => {
    const id = reply?.status === 202 ? acceptedId(reply.body) : undefined;
    if (id) {
      accepted.push(id);
      acceptances.push({ id, from: request.body.from_account, to: request.body.to_account, amount: request.body.amount, sentAt, acceptedAt: answeredAt });
    } else {
      // "503 unavailable": the status and the contract's error code; or why there was no answer ("ECONNREFUSED", "timeout"…).
      const reason = reply ? `${reply.status} ${errorCode(reply) ?? ""}`.trim() : errorReason(error);
      failed.push({ at: Date.now() - load.startedAt, reason });
    }
  };
  const load = paceRequests({
    client,
    next,
    onOutcome: record,
    rate: options.ratePerSecond,
    maxInFlight: concurrency,
    whenSaturated: "wait",
    durationMs: options.durationMs,
    maxRequests: options.maxPayments,
    timeoutMs: options.requestTimeoutMs ?? 5000,
  });
  const done = load.done
    .then(() => ({ accepted, acceptances, failed, sent: load.sent, seconds: (Date.now() - load.startedAt) / 1000 }))
    .finally(() => client.close());
  return { accepted, acceptances, failed, stop: () => load.stop(), done };
}

/** The payment id of a 202's body, if it has one. */
function acceptedId(body: string | undefined): string | undefined {
  try {
    return (JSON.parse(body ?? "") as { id?: string }).id;
  } catch {
    return undefined;
  }
}

/** Every accepted payment is stored as its client sent it (including rows of one group-commit INSERT). */
export async function assertStoredAsSent(pool: Pool, acceptances: Acceptance[]): Promise<void> {
  const { rows } = await pool.query("SELECT id, from_account, to_account, amount::text AS amount FROM payments WHERE id = ANY($1::uuid[])", [
    acceptances.map((a) => a.id),
  ]);
  const stored = new Map(rows.map((r) => [String(r.id), r]));
  const differing = acceptances.filter((a) => {
    const row = stored.get(a.id);
    return !row || row.from_account !== a.from || row.to_account !== a.to || formatMoney(moneyFromDb(row.amount)) !== formatMoney(moneyFromDb(a.amount));
  });
  expect(differing).toEqual([]);
}

/** Per account, payments are debited in the order clients observed them accepted (acceptanceOrderViolations). */
export async function assertAcceptanceOrder(pool: Pool, acceptances: Acceptance[]): Promise<void> {
  const { violations } = await acceptanceOrderViolations(pool, acceptances);
  expect(violations.slice(0, 10)).toEqual([]);
}

export interface InvariantReport {
  payments: number;
  completed: number;
  failed: number;
  accounts: number;
  entries: number;
  totalBalance: string;
  /** Seconds spent waiting for the last pending payment to settle. */
  settleSeconds: number;
}

/**
 * Waits until nothing is pending, then checks the ledger's invariants (docs/ARCHITECTURE.md "Invariants"): money
 * conserved, no negative available, every accepted payment completed or failed and applied exactly
 * once, every journal gap-free and chained; with `acceptances`, each account's debits in acceptance order.
 */
export async function assertInvariants(
  pool: Pool,
  acceptedIds: string[],
  options: { timeoutMs?: number; acceptances?: Acceptance[] } = {},
): Promise<InvariantReport> {
  const waitStarted = Date.now();
  await waitFor(
    async () => {
      const { rows } = await pool.query(`SELECT
          (SELECT count(*) FROM payments WHERE status = 'pending')
        + (SELECT count(*) FROM payment_operations WHERE status = 'pending') AS pending`);
      return rows[0].pending === "0";
    },
    { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 250, what: "every payment to leave pending" },
  );
  const settleSeconds = (Date.now() - waitStarted) / 1000;

  // Each 202 is for a distinct payment that exists and ended completed or failed.
  expect(new Set(acceptedIds).size).toBe(acceptedIds.length);
  const { rows: statuses } = await pool.query("SELECT status, count(*) AS n FROM payments WHERE id = ANY($1::uuid[]) GROUP BY status", [acceptedIds]);
  const byStatus = Object.fromEntries(statuses.map((r) => [r.status, Number(r.n)]));
  expect((byStatus.completed ?? 0) + (byStatus.failed ?? 0)).toBe(acceptedIds.length);

  if (options.acceptances) {
    await assertAcceptanceOrder(pool, options.acceptances);
    await assertStoredAsSent(pool, options.acceptances);
  }

  // The ledger's own invariants, as verifyLedger checks them (the one implementation): money
  // conserved, no debit below zero, journals chained and matching the accounts and every payment's
  // outcome (applied exactly once), every insufficient_funds justified, nothing left pending.
  const report = await verifyLedger(pool, { quiescent: true });
  expect(report.findings.filter((f) => !f.ok)).toEqual([]);

  return {
    payments: report.payments.completed + report.payments.failed,
    completed: report.payments.completed,
    failed: report.payments.failed,
    accounts: report.accounts,
    entries: report.entries,
    totalBalance: report.totalBalance,
    settleSeconds,
  };
}
