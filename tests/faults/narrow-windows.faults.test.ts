// Two narrow windows, made to happen and seen to happen, then recovered from:
// 1. the API dies after committing a payment and before its wake-up is in Redis: a pending row
//    that nothing in Redis points at, which only the sweeper can find;
// 2. a worker dies after its settle COMMIT and before its wake-up job completes: a job still
//    active (its lock and the worker's lease left in Redis) whose payments are already settled.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { createRedis, partitionFor, PartitionQueues, settleDeduplicationId } from "@settle/core";
import { findOnPath, waitFor } from "@settle/core/testing";
import { assertInvariants, fundAccounts, ProcessCluster, type Acceptance, type SettleProcess } from "../support/processes";
import { PrivateRedis } from "../support/services";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(120_000);

const PARTITIONS = 4;
const run = promisify(execFile);

let redis: PrivateRedis | undefined;
let writesPaused = false;
const clusters: ProcessCluster[] = [];
const connections: ReturnType<typeof createRedis>[] = [];

afterAll(async () => {
  // A write-paused Redis would hang the cleanup's DELs.
  if (writesPaused) await connections[0]?.call("CLIENT", "UNPAUSE").catch(() => undefined);
  await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  for (const cluster of clusters) await cluster.destroy();
  await redis?.destroy();
});

const pendingWakeUps = async (queues: PartitionQueues, partition: number) =>
  Object.values(await queues.queue(partition).getJobCounts("active", "waiting", "delayed", "prioritized")).reduce((a, b) => a + b, 0);

const statusOf = async (cluster: ProcessCluster, id: string) =>
  (await cluster.db.pool.query("SELECT status FROM payments WHERE id = $1", [id])).rows[0]?.status;

/** A process's JSON log lines (written in batches, up to 200 ms late; lost at a kill -9 when not yet written). */
function logLines(proc: SettleProcess): Record<string, unknown>[] {
  return proc
    .log()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** How many of `ids` a worker logged as settled. */
const settledBy = (proc: SettleProcess, ids: string[]) =>
  logLines(proc).filter((l) => l.msg === "payment settled" && ids.includes(l.paymentId as string)).length;

/** The local addresses ("127.0.0.1:port") of a process's TCP connections to `port`: its Redis clients as CLIENT LIST names them. */
async function connectionsOf(pid: number, port: number): Promise<string[]> {
  const ss = findOnPath("ss");
  if (!ss) throw new Error("this fault test needs `ss` (iproute2) on PATH to find the API's Redis connections: install iproute2");
  const { stdout } = await run(ss, ["-Htnp", "state", "established", "dport", "=", `:${port}`]);
  return stdout
    .split("\n")
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[2]!);
}

/** CLIENT LIST entries of the given client addresses: flags and the command in hand. */
async function redisClients(redisConn: ReturnType<typeof createRedis>, addrs: string[]): Promise<{ addr: string; flags: string; cmd: string }[]> {
  const list = String(await redisConn.call("CLIENT", "LIST"));
  return list
    .split("\n")
    .filter(Boolean)
    .map((line) =>
      Object.fromEntries(
        line
          .trim()
          .split(" ")
          .map((kv) => kv.split("=", 2) as [string, string]),
      ),
    )
    .filter((c) => addrs.includes(c.addr!))
    .map((c) => ({ addr: c.addr!, flags: c.flags!, cmd: c.cmd! }));
}

it("settles, through the sweeper, a payment whose API was killed between its commit and its wake-up", async () => {
  redis = await PrivateRedis.start();
  // A short linger: the partition must be idle before the payment (a lingering wake-up would settle
  // it straight from PostgreSQL, with no add), and it soon is.
  const cluster = await ProcessCluster.create({ label: "api-commit-window", redisUrl: redis.url, partitions: PARTITIONS, env: { SETTLE_LINGER_MS: "1000" } });
  clusters.push(cluster);
  const inspector = createRedis(redis.url, "worker");
  connections.push(inspector);
  const queues = new PartitionQueues(inspector, { prefix: cluster.prefix, partitions: PARTITIONS });
  const [api] = await Promise.all([cluster.startApi(), cluster.startWorkers(1)]);
  const [payer, payee] = await fundAccounts(cluster.api, 2, "100.00");
  const partition = partitionFor(payer!, PARTITIONS);
  // Idle also means the API's last add for it is older than half the linger, so the payment's
  // accept sends an add of its own rather than relying on one already sent.
  await waitFor(async () => (await pendingWakeUps(queues, partition)) === 0, { timeoutMs: 15_000, what: `partition ${partition} to be idle` });
  const apiClients = await connectionsOf(api.pid, redis.port);
  expect(apiClients.length).toBeGreaterThan(0);

  // Not SIGSTOP: a frozen Redis still receives the add into its socket buffer and runs it once
  // resumed, even though its sender is dead. A write pause parks the add inside Redis, and Redis
  // drops a parked command when its client disconnects: the add never happens.
  const pausedAt = Date.now();
  await inspector.call("CLIENT", "PAUSE", "30000", "WRITE");
  writesPaused = true;
  const description = `commit-window ${randomUUID()}`;
  const answer = fetch(`${cluster.apiUrl}/api/v1/payments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ from_account: payer, to_account: payee, amount: "7.00", payment_description: description }),
  }).then(
    (res) => `answered ${res.status}`,
    (error: Error & { cause?: { code?: string } }) => `no answer (${error.cause?.code ?? error.message})`,
  );
  // The API answers 202 once the add is confirmed or after 1 s: everything below fits in that second.
  const committed = await waitFor(
    async () => (await cluster.db.pool.query("SELECT id, status, partition FROM payments WHERE description = $1", [description])).rows[0],
    { timeoutMs: 5000, intervalMs: 5, what: "the payment to be committed" },
  );
  const held = await waitFor(async () => (await redisClients(inspector, apiClients)).find((c) => c.flags.includes("b") && c.cmd === "evalsha"), {
    timeoutMs: 900,
    intervalMs: 5,
    what: "the API's add to be parked in Redis",
  });
  expect((await api.kill9()).signal).toBe("SIGKILL");
  const outcome = await answer;
  // Killed inside the window: the row is committed, the add is parked, the client got no answer.
  expect(committed).toEqual({ id: expect.any(String), status: "pending", partition });
  expect(held.cmd).toBe("evalsha");
  expect(outcome).toMatch(/^no answer/);

  await waitFor(async () => (await redisClients(inspector, apiClients)).length === 0, { timeoutMs: 5000, what: "Redis to drop the dead API's connections" });
  await inspector.call("CLIENT", "UNPAUSE");
  writesPaused = false;
  // The orphan: committed and pending, and nothing in Redis will wake its partition. (Checked at
  // once: the sweeper only looks at payments pending for SWEEP_AFTER_SECONDS.)
  expect(await pendingWakeUps(queues, partition)).toBe(0);
  expect(await statusOf(cluster, committed.id)).toBe("pending");

  await cluster.startApi();
  await waitFor(async () => (await statusOf(cluster, committed.id)) === "completed", { timeoutMs: 30_000, what: "the orphan to be settled" });
  // It was the sweeper: a wake-up of reason "sweep" settled it, and no accept woke the partition since.
  const jobs = await queues.queue(partition).getJobs(["completed", "active", "waiting", "delayed", "prioritized"]);
  const reasons = jobs.filter((j) => j.timestamp >= pausedAt).map((j) => j.data.reason);
  expect(reasons).toContain("sweep");
  expect(reasons).not.toContain("accept");
  const [worker] = cluster.workers;
  await waitFor(() => logLines(worker!).some((l) => l.msg === "sweeper woke a partition with stale pending payments" && l.partition === partition), {
    what: "the worker to log its sweep of the partition",
  });
  await waitFor(() => logLines(worker!).some((l) => l.msg === "payment settled" && l.paymentId === committed.id), { what: "the worker to log the settlement" });
  const { rows: entries } = await cluster.db.pool.query("SELECT type, amount::text AS amount FROM journal_entries WHERE payment_id = $1 ORDER BY type", [
    committed.id,
  ]);
  expect(entries).toEqual([
    { type: "credit", amount: "7.00" },
    { type: "debit", amount: "7.00" },
  ]);
  const report = await assertInvariants(cluster.db.pool, [committed.id]);
  const { rows: timing } = await cluster.db.pool.query("SELECT extract(epoch FROM processed_at - created_at)::float AS s FROM payments WHERE id = $1", [
    committed.id,
  ]);
  console.log(
    `API commit window: payment committed, its add parked in a write-paused Redis, API killed -9 (client: ${outcome}); ` +
      `no wake-up in Redis afterwards; the sweeper woke partition ${partition} and the payment settled ${timing[0].s.toFixed(1)} s after its commit; ` +
      `invariants OK over ${report.payments} payments, ${report.entries} journal entries`,
  );
});

const LINGER_MS = 10_000;

it("settles every payment exactly once when a worker is killed between its settle COMMIT and its job's completion", async () => {
  // A long linger, the same for the API and the workers: a wake-up stays active (and its worker
  // keeps the job) for 10 s after it began, so the window after its settle COMMIT is wide.
  const cluster = await ProcessCluster.create({ label: "worker-commit-window", partitions: PARTITIONS, env: { SETTLE_LINGER_MS: String(LINGER_MS) } });
  clusters.push(cluster);
  const conn = createRedis(cluster.env.REDIS_URL!, "worker");
  connections.push(conn);
  const queues = new PartitionQueues(conn, { prefix: cluster.prefix, partitions: PARTITIONS });
  const owners = () => conn.mget(...Array.from({ length: PARTITIONS }, (_, p) => cluster.leaseKey(p)));
  await Promise.all([cluster.startApi(), cluster.startWorkers(2)]);
  // Both workers hold their share, so the killed one's partition has somewhere to go.
  await waitFor(
    async () => {
      const held = await owners();
      return held.every((o) => o !== null) && cluster.workers.every((w) => held.includes(w.workerId()));
    },
    { timeoutMs: 15_000, what: "both workers to hold partitions" },
  );
  const [payer, payee] = await fundAccounts(cluster.api, 2, "100.00");
  const partition = partitionFor(payer!, PARTITIONS);
  const queue = queues.queue(partition);
  // The deposit's wake-up lets go first, so the payments below get a wake-up of their own (and
  // the API's last add for the partition is past the half-linger it would skip adds for).
  await waitFor(async () => (await pendingWakeUps(queues, partition)) === 0, { timeoutMs: LINGER_MS + 10_000, what: `partition ${partition} to be idle` });

  const acceptances: Acceptance[] = [];
  const pay = async (amount: string): Promise<string> => {
    const sentAt = performance.now();
    const res = await cluster.api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount });
    expect(res.status).toBe(202);
    acceptances.push({ id: res.body.id, from: payer!, to: payee!, amount, sentAt, acceptedAt: performance.now() });
    return res.body.id;
  };
  const completed = async (ids: string[]) =>
    Number((await cluster.db.pool.query("SELECT count(*) AS n FROM payments WHERE id = ANY($1::uuid[]) AND status = 'completed'", [ids])).rows[0].n) ===
    ids.length;
  const first: string[] = [];
  for (const amount of ["1.00", "2.00", "3.00", "4.00", "5.00"]) first.push(await pay(amount));
  await waitFor(() => completed(first), { timeoutMs: 15_000, what: "the first payments to settle" });
  const [job] = await queue.getActive();
  const victimId = await conn.get(cluster.leaseKey(partition));
  const victim = cluster.workers.find((w) => w.workerId() === victimId);
  const survivor = cluster.workers.find((w) => w !== victim)!;
  // Inside the window: committed in PostgreSQL by the lease holder, its wake-up still active.
  expect(job?.data).toEqual({ partition, reason: "accept" });
  expect(victim).toBeDefined();
  await waitFor(() => settledBy(victim!, first) === first.length, { what: `${victim!.name} to log the first payments settled` });
  expect((await victim!.kill9()).signal).toBe("SIGKILL");
  const killedAt = Date.now();
  // Nothing was released: the job is still active, the lease still names the dead worker.
  expect(await (await queue.getJob(job!.id!))!.getState()).toBe("active");
  expect(await conn.get(cluster.leaseKey(partition))).toBe(victimId);

  // More work for the same partition. The API sends no add for it (its last add is younger than
  // half the linger): it counts on the dead worker's wake-up, which must be run again.
  const second: string[] = [];
  for (const amount of ["6.00", "7.00", "8.00", "9.00", "10.00"]) second.push(await pay(amount));
  // No follow-up stored behind the active job, none waiting: nothing but that job will wake the
  // partition before the sweeper.
  expect(await conn.exists(queue.toKey(`dn:${settleDeduplicationId(partition)}`))).toBe(0);
  expect(await queue.getWaitingCount()).toBe(0);
  await waitFor(async () => (await conn.get(cluster.leaseKey(partition))) === survivor.workerId(), {
    timeoutMs: Number(cluster.env.LEASE_TTL_MS) + 5000,
    what: `the survivor to take partition ${partition} over`,
  });
  const takenOverAfter = (Date.now() - killedAt) / 1000;
  await waitFor(() => completed(second), { timeoutMs: 30_000, what: "the later payments to settle" });
  const settledAfter = (Date.now() - killedAt) / 1000;
  await waitFor(() => settledBy(survivor, second) === second.length, { what: `${survivor.name} to log the later payments settled` });
  // The stalled wake-up was run again (by the survivor, the partition's only consumer) and completed.
  const recovered = await waitFor(
    async () => {
      const j = await queue.getJob(job!.id!);
      return (await j?.getState()) === "completed" && j;
    },
    { timeoutMs: LINGER_MS + 20_000, what: "the stalled wake-up to be run again and complete" },
  );
  expect(recovered.stalledCounter).toBeGreaterThanOrEqual(1);
  expect(recovered.processedOn).toBeGreaterThan(killedAt);
  // Found by the survivor's prompt checks on taking the partition over with that wake-up active,
  // not by the periodic check (every STALLED_SAFETY_NET_MS, a safety net).
  expect(
    logLines(survivor).filter((l) => l.msg === "stalled wake-up check done" && l.partition === partition && (l.jobIds as string[]).includes(job!.id!)),
  ).toEqual([expect.objectContaining({ outcome: "recovered" })]);

  const all = [...first, ...second];
  const { rows } = await cluster.db.pool.query("SELECT payment_id, count(*) AS n FROM journal_entries WHERE payment_id = ANY($1::uuid[]) GROUP BY payment_id", [
    all,
  ]);
  expect(rows.map((r) => Number(r.n))).toEqual(all.map(() => 2));
  expect((await cluster.api.get(`/api/v1/accounts/${payer}`)).body.available).toBe("45.00");
  const report = await assertInvariants(cluster.db.pool, all, { acceptances });
  console.log(
    `worker commit window: ${first.length} payments settled by ${victim!.name} while its wake-up stayed active (linger ${LINGER_MS / 1000} s); ` +
      `${victim!.name} killed -9; ${second.length} more payments accepted with no add; ${survivor.name} took the partition over ${takenOverAfter.toFixed(1)} s ` +
      `and had settled them ${settledAfter.toFixed(1)} s after the kill; the stalled wake-up ran again (stalled ${recovered.stalledCounter}×) and completed ` +
      `with ${JSON.stringify(recovered.returnvalue)}; invariants OK over ${report.payments} payments, ${report.entries} journal entries`,
  );
});
