import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRedis, PartitionQueues, partitionFor } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { createApp } from "../../apps/api/src/app";
import type { SettleWorker } from "../../apps/worker/src/settle-worker";
import { client, newAccount, settled, type ApiClient } from "../support/http";
import { startInProcess, type InProcessSystem } from "../support/in-process";
import { scrape, series, value } from "./prometheus";

let system: InProcessSystem;
let api: ApiClient;
let worker: SettleWorker;

const apiMetrics = () => scrape(`${system.api.url}/metrics`);
const workerMetrics = () => scrape(`${worker.opsUrl}/metrics`);

beforeAll(async () => {
  system = await startInProcess("metrics", { workers: 0 });
  api = client(system.api.url);
  worker = await system.startWorker({ WORKER_METRICS_PORT: "0", SWEEP_AFTER_SECONDS: "1" });
});
afterAll(() => system.stop());

it("counts payments accepted, refused, completed and failed, by type and reason", async () => {
  const [apiBefore, workerBefore] = [await apiMetrics(), await workerMetrics()];
  const [a, b] = [await newAccount(api), await newAccount(api)];
  const ids: string[] = [];
  const post = async (path: string, body: unknown) => {
    const res = await api.post(path, body);
    expect(res.status).toBe(202);
    ids.push(res.body.id);
    await settled(api, res.body.id);
  };
  await post("/api/v1/deposits", { account_id: a, amount: "100.00" });
  await post("/api/v1/payments", { from_account: a, to_account: b, amount: "30.00" });
  await post("/api/v1/payments", { from_account: a, to_account: b, amount: "500.00" });
  await post("/api/v1/withdrawals", { account_id: b, amount: "10.00" });
  const unknown = await api.post("/api/v1/payments", { from_account: a, to_account: "0193a0f2-6c1e-7c3a-9a52-3f6f2a1d9b99", amount: "1.00" });
  expect(unknown.status).toBe(422);
  expect((await api.post("/api/v1/deposits", { account_id: a, amount: 5 })).status).toBe(400);

  const [apiAfter, workerAfter] = [await apiMetrics(), await workerMetrics()];
  const moved = (before: typeof apiAfter, after: typeof apiAfter, name: string, labels: Record<string, string>) =>
    value(after, name, labels) - value(before, name, labels);

  expect(moved(apiBefore, apiAfter, "settle_payments_accepted_total", { type: "deposit" })).toBe(1);
  expect(moved(apiBefore, apiAfter, "settle_payments_accepted_total", { type: "transfer" })).toBe(2);
  expect(moved(apiBefore, apiAfter, "settle_payments_accepted_total", { type: "withdrawal" })).toBe(1);
  expect(moved(apiBefore, apiAfter, "settle_payments_rejected_total", { type: "transfer", code: "account_not_found" })).toBe(1);
  expect(moved(apiBefore, apiAfter, "settle_payments_rejected_total", { type: "deposit", code: "invalid_request" })).toBe(1);
  expect(moved(apiBefore, apiAfter, "settle_payment_accept_duration_seconds_count", { type: "transfer" })).toBe(2);
  expect(value(apiAfter, "settle_http_request_duration_seconds_count", { method: "GET", route: "/api/v1/payments/:id", status: "200" })).toBeGreaterThan(0);
  expect(series(apiAfter, "settle_http_request_duration_seconds_count").some((s) => s.includes(ids[0]!))).toBe(false);

  expect(moved(workerBefore, workerAfter, "settle_payments_completed_total", { type: "deposit" })).toBe(1);
  expect(moved(workerBefore, workerAfter, "settle_payments_completed_total", { type: "transfer" })).toBe(1);
  expect(moved(workerBefore, workerAfter, "settle_payments_completed_total", { type: "withdrawal" })).toBe(1);
  expect(moved(workerBefore, workerAfter, "settle_payments_failed_total", { type: "transfer", reason: "insufficient_funds" })).toBe(1);
  const settledCount = ["deposit", "transfer", "withdrawal"].flatMap((type) => ["completed", "failed"].map((status) => ({ type, status })));
  expect(settledCount.reduce((n, l) => n + moved(workerBefore, workerAfter, "settle_payment_accept_to_settle_seconds_count", l), 0)).toBe(4);
  expect(moved(workerBefore, workerAfter, "settle_round_duration_seconds_count", {})).toBeGreaterThanOrEqual(1);
});

it("counts an idempotent replay as replayed, not as another accepted payment", async () => {
  const [a, b] = [await newAccount(api), await newAccount(api)];
  const before = await apiMetrics();
  const key = { "Idempotency-Key": `metrics-replay-${a}` };
  const first = await api.post("/api/v1/payments", { from_account: a, to_account: b, amount: "1.00" }, key);
  const again = await api.post("/api/v1/payments", { from_account: a, to_account: b, amount: "1.00" }, key);
  expect([first.status, again.status]).toEqual([202, 202]);
  expect(again.headers.get("idempotent-replayed")).toBe("true");
  expect(again.body.id).toBe(first.body.id);
  const after = await apiMetrics();
  expect(value(after, "settle_payments_accepted_total", { type: "transfer" }) - value(before, "settle_payments_accepted_total", { type: "transfer" })).toBe(1);
  expect(value(after, "settle_payments_replayed_total", { type: "transfer" }) - value(before, "settle_payments_replayed_total", { type: "transfer" })).toBe(1);
});

it("reports queue depth per partition and state, pool usage, and partitions owned", async () => {
  const metrics = await apiMetrics();
  const depth = series(metrics, "settle_queue_jobs");
  expect(depth).toHaveLength(8 * 4);
  for (const state of ["waiting", "active", "delayed", "failed"]) expect(depth).toContain(`settle_queue_jobs{partition="7",state="${state}"}`);
  expect(value(metrics, "settle_db_pool_connections", { state: "total" })).toBeGreaterThanOrEqual(1);
  expect(series(metrics, "settle_db_pool_connections")).toHaveLength(3);
  expect(series(metrics, "settle_db_lock_waits")).toHaveLength(1);
  // Lock order (ascending account id) makes deadlocks impossible: the counter must read zero.
  expect(value(metrics, "settle_db_deadlocks")).toBe(0);
  expect(series(metrics, "settle_db_deadlocks")).toHaveLength(1);

  const w = await workerMetrics();
  expect(value(w, "settle_worker_partitions_owned")).toBe(8);
  expect(series(w, "settle_db_pool_connections")).toHaveLength(3);
  expect(value(w, "settle_redis_maxmemory_policy", { policy: "noeviction" })).toBe(1);
});

it("counts the sweeper's wake-ups of a payment whose wake-up was lost", async () => {
  const account = await newAccount(api);
  await worker.stop();
  const res = await api.post("/api/v1/deposits", { account_id: account, amount: "5.00" });
  expect(res.status).toBe(202);
  // Lose the wake-up, as a flushed Redis would: only the sweeper can bring the payment back.
  const queues = system.api.deps.queues.queues;
  const waiting = async () => (await Promise.all(queues.map((q) => q.getWaitingCount()))).reduce((a, b) => a + b, 0);
  // The deposit's wake-up waits (beside the follow-ups the stopped worker handed on).
  expect(await system.api.deps.queues.queue(partitionFor(account, 8)).getWaitingCount()).toBe(1);
  await Promise.all(queues.map((q) => q.drain()));
  expect(await waiting()).toBe(0);
  worker = await system.startWorker({ WORKER_METRICS_PORT: "0", SWEEP_AFTER_SECONDS: "1" });
  expect((await settled(api, res.body.id, 20_000)).status).toBe("completed");
  // The new worker's counters started at zero, as a restarted process's would.
  const after = await workerMetrics();
  expect(value(after, "settle_sweeper_reenqueues_total")).toBeGreaterThanOrEqual(1);
  expect(value(after, "settle_sweeper_stale_payments_total")).toBeGreaterThanOrEqual(1);
});

it("counts transient database errors retried inside the settle job", async () => {
  const [from, to] = [await newAccount(api), await newAccount(api)];
  const deposit = await api.post("/api/v1/deposits", { account_id: from, amount: "10.00" });
  await settled(api, deposit.body.id);
  const blocker = await system.db.pool.connect();
  try {
    // Hold the payer's row so the settle transaction waits on it, then cut that connection.
    await blocker.query("BEGIN");
    await blocker.query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", [from]);
    const payment = await api.post("/api/v1/payments", { from_account: from, to_account: to, amount: "4.00" });
    expect(payment.status).toBe(202);
    const waiting = await waitFor(
      async () => {
        const { rows } = await blocker.query(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'settle-worker' AND wait_event_type = 'Lock'",
        );
        return rows[0]?.pid as number | undefined;
      },
      { timeoutMs: 15_000, what: "the settle transaction to wait on the row lock" },
    );
    await waitFor(async () => value(await apiMetrics(), "settle_db_lock_waits") >= 1, { timeoutMs: 15_000, what: "the API to report the lock wait" });
    await blocker.query("SELECT pg_terminate_backend($1)", [waiting]);
    await blocker.query("ROLLBACK");
    expect((await settled(api, payment.body.id)).status).toBe("completed");
  } finally {
    blocker.release(true);
  }
  expect(value(await workerMetrics(), "settle_db_transient_retries_total", { reason: "connection" })).toBeGreaterThanOrEqual(1);
});

it("still answers /metrics when Redis does not, without the queue depth", async () => {
  const redis = createRedis("redis://127.0.0.1:1", "producer");
  const queues = new PartitionQueues(redis, { prefix: system.prefix, partitions: 8 });
  const app = createApp({ ...system.api.deps, redis, queues });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  try {
    const metrics = await scrape(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    expect(series(metrics, "settle_queue_jobs")).toEqual([]);
    expect(value(metrics, "settle_queue_depth_scrape_errors_total")).toBe(1);
    expect(series(metrics, "settle_db_pool_connections")).toHaveLength(3);
  } finally {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    // Nothing to close politely (BullMQ's close would wait for the Redis that never answered).
    // ioredis keeps a timer of `disconnectTimeout` (2 s) after disconnecting a socket that never
    // opened; let it run out so that nothing outlives the test file.
    (redis.options as { retryStrategy?: () => null }).retryStrategy = () => null;
    redis.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 2100));
  }
});

it("serves /healthz and /readyz on the worker's port", async () => {
  const health = await fetch(`${worker.opsUrl}/healthz`);
  expect([health.status, await health.json()]).toEqual([200, { status: "ok" }]);
  const ready = await fetch(`${worker.opsUrl}/readyz`);
  expect([ready.status, await ready.json()]).toEqual([200, { status: "ready", postgres: "up", redis: "up", redis_memory: "ok" }]);
  expect((await fetch(`${worker.opsUrl}/nope`)).status).toBe(404);
});
