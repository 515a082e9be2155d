// A settle job is a wake-up for a partition: at most one waits per partition, an add while one is
// active schedules exactly one follow-up (so a payment committed after the active job's scan is
// never left behind), and a deduplication key stuck on a wake-up that can no longer run is freed.
import { Worker } from "bullmq";
import { createRedis, partitionFor, settleDeduplicationId, verifyLedger } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;
const PARTITIONS = 8;

beforeAll(async () => {
  // No worker yet: each test starts the one it needs, so what waits in Redis can be seen. No
  // linger: every accept adds its wake-up, so deduplication alone is what these tests see.
  system = await startInProcess("wake-ups", { workers: 0, env: { PARTITIONS: String(PARTITIONS), SWEEP_AFTER_SECONDS: "1", SETTLE_LINGER_MS: "0" } });
  api = client(system.api.url);
});
afterAll(() => system.stop());
afterEach(async () => {
  await Promise.all(system.workers.splice(0).map((w) => w.stop()));
});

const queueOf = (account: string) => system.api.deps.queues.queue(partitionFor(account, PARTITIONS));

async function depositInto(account: string, amount: string): Promise<void> {
  const worker = await system.startWorker();
  const res = await api.post("/api/v1/deposits", { account_id: account, amount });
  expect((await settled(api, res.body.id)).status).toBe("completed");
  await worker.stop();
  system.workers.splice(system.workers.indexOf(worker), 1);
}

it("keeps one waiting wake-up per partition however many payments wait, and it settles them all", async () => {
  const [payer, payee] = [await newAccount(api), await newAccount(api)];
  await depositInto(payer, "100.00");
  const queue = queueOf(payer);
  const before = await queue.getCompletedCount();
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push((await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00" })).body.id);
  const batch = await api.post("/api/v1/payments/batch", {
    payments: Array.from({ length: 20 }, () => ({ from_account: payer, to_account: payee, amount: "1.00" })),
  });
  ids.push(...batch.body.results.map((r: { payment: { id: string } }) => r.payment.id));
  expect(await queue.getWaitingCount()).toBe(1);

  await system.startWorker();
  for (const id of ids) expect((await settled(api, id)).status).toBe("completed");
  await waitFor(async () => (await queue.getCompletedCount()) === before + 1, { what: "the one wake-up to complete" });
  const [job] = await queue.getCompleted(0, 0);
  expect(job!.returnvalue).toEqual({ settled: 50 });
  expect((await api.get(`/api/v1/accounts/${payee}`)).body.available).toBe("50.00");
});

it("adds exactly one follow-up when a payment commits while its partition's wake-up is active", async () => {
  const [payer, payee] = [await newAccount(api), await newAccount(api)];
  await depositInto(payer, "10.00");
  const queue = queueOf(payer);
  const before = await queue.getCompletedCount();
  const blocker = await system.db.pool.connect();
  try {
    // Hold the payer's row: the wake-up's settle transaction waits on it, its scan already taken.
    await blocker.query("BEGIN");
    await blocker.query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", [payer]);
    const first = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "4.00" });
    await system.startWorker();
    await waitFor(async () => (await queue.getActiveCount()) === 1, { what: "the wake-up to be active" });
    await waitFor(
      async () => {
        const { rows } = await blocker.query(
          "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'settle-worker' AND wait_event_type = 'Lock'",
        );
        return rows.length > 0;
      },
      { what: "the settle transaction to wait on the row lock" },
    );
    const later = [];
    for (const amount of ["3.00", "2.00", "1.00"]) later.push((await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount })).body.id);
    // Absorbed into one stored follow-up: nothing waits beside the active job.
    expect(await queue.getWaitingCount()).toBe(0);
    await blocker.query("COMMIT");
    expect((await settled(api, first.body.id)).status).toBe("completed");
    for (const id of later) expect((await settled(api, id)).status).toBe("completed");
  } finally {
    blocker.release();
  }
  await waitFor(async () => (await queue.getCompletedCount()) === before + 2, { what: "the wake-up and its one follow-up to complete" });
  const settledBy = (await queue.getCompleted(0, 1)).map((j) => j.returnvalue.settled).sort();
  expect(settledBy).toEqual([1, 3]);
  expect((await verifyLedger(system.db.pool)).problems).toEqual([]);
});

it("frees a deduplication key left on a wake-up that can no longer run, then settles", async () => {
  const [payer, payee] = [await newAccount(api), await newAccount(api)];
  await depositInto(payer, "10.00");
  const queue = queueOf(payer);
  const partition = partitionFor(payer, PARTITIONS);
  // A wake-up that failed while its key stayed behind (as after a stalled job fails for good).
  const dead = await queue.add(
    "settle",
    { partition },
    { removeOnFail: false, deduplication: { id: settleDeduplicationId(partition), keepLastIfActive: true } },
  );
  const connection = createRedis(system.env.REDIS_URL!, "worker");
  const failer = new Worker(queue.name, async () => Promise.reject(new Error("stalled for good")), { connection, prefix: queue.opts.prefix });
  await waitFor(async () => (await queue.getJobState(dead.id!)) === "failed", { what: "the wake-up to fail" });
  await failer.close();
  await connection.quit();
  const redis = system.api.deps.redis;
  const dedupKey = `${queue.opts.prefix}:${queue.name}:de:${settleDeduplicationId(partition)}`;
  // Failing it freed the key, as a stall-failure would not: put it back.
  await redis.set(dedupKey, dead.id!);

  const res = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "4.00" });
  // The stale key absorbed the API's wake-up: nothing would settle this payment but the sweeper.
  expect(await queue.getWaitingCount()).toBe(0);
  await system.startWorker({ SWEEP_AFTER_SECONDS: "1", SWEEP_INTERVAL_MS: "300" });
  expect((await settled(api, res.body.id, 20_000)).status).toBe("completed");
  expect(await redis.get(dedupKey)).not.toBe(dead.id);
});

it("under steady traffic, one wake-up keeps its partition past the linger, and the API adds none after the first", async () => {
  // Linger 2 s (the API skips adds for 1 s after a confirmed add, and 1 s after each payment it
  // skipped for): a payment every 600 ms for more than twice the linger.
  const steady = await startInProcess("wake-ups-steady", { workers: 1, env: { PARTITIONS: String(PARTITIONS), SETTLE_LINGER_MS: "2000" } });
  try {
    const sapi = client(steady.api.url);
    const [payer, payee] = [await newAccount(sapi), await newAccount(sapi)];
    const queue = steady.api.deps.queues.queue(partitionFor(payer, PARTITIONS));
    const added = () => queue.getJobCountByTypes("active", "waiting", "completed", "delayed", "failed");
    const before = await added();
    const partition = partitionFor(payer, PARTITIONS);
    // Counts the API's adds for this partition (the real add still goes to Redis).
    const queues = steady.api.deps.queues;
    const add = queues.wake.bind(queues);
    let adds = 0;
    queues.wake = (p, reason) => ((adds += p === partition ? 1 : 0), add(p, reason));
    const deposit = await sapi.post("/api/v1/deposits", { account_id: payer, amount: "100.00" });
    expect((await settled(sapi, deposit.body.id)).status).toBe("completed");
    expect(adds).toBe(1);
    const started = Date.now();
    for (let i = 0; Date.now() - started < 5000; i++) {
      const sent = Date.now();
      const res = await sapi.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00" });
      expect((await settled(sapi, res.body.id)).status).toBe("completed");
      await new Promise((r) => setTimeout(r, Math.max(0, 600 - (Date.now() - sent))));
    }
    // The deposit's add is the only one: the wake-up it started is still the one settling, and
    // each payment, within the window of the one before, needed no add.
    expect(adds).toBe(1);
    expect(await added()).toBe(before + 1);
    expect((await queue.getJobCounts("active")).active).toBe(1);
  } finally {
    await steady.stop();
  }
});

it("with a linger, one wake-up settles what its partition accepts meanwhile, and the API adds no more", async () => {
  const lingering = await startInProcess("wake-ups-linger", { workers: 1, env: { PARTITIONS: String(PARTITIONS), SETTLE_LINGER_MS: "3000" } });
  try {
    const lapi = client(lingering.api.url);
    const [payer, payee] = [await newAccount(lapi), await newAccount(lapi)];
    const deposit = await lapi.post("/api/v1/deposits", { account_id: payer, amount: "100.00" });
    expect((await settled(lapi, deposit.body.id)).status).toBe("completed");
    const queue = lingering.api.deps.queues.queue(partitionFor(payer, PARTITIONS));
    const jobsBefore = (await queue.getJobCounts("active", "waiting", "completed", "delayed")) as Record<string, number>;
    const added = () => queue.getJobCountByTypes("active", "waiting", "completed", "delayed", "failed");
    const before = await added();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push((await lapi.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00" })).body.id);
      expect((await settled(lapi, ids[i]!)).status).toBe("completed");
    }
    // Each settled within the linger of the deposit's wake-up (still active): no job was added.
    expect(jobsBefore.active).toBe(1);
    expect(await added()).toBe(before);
    expect((await lapi.get(`/api/v1/accounts/${payee}`)).body.available).toBe("10.00");
  } finally {
    await lingering.stop();
  }
});
