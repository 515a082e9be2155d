// Redis restarted with its data, as docker-compose runs it (append-only file, fsync every second):
// what dead workers left in Redis comes back with it. Both workers are killed -9 under load, so
// their partition leases and their active jobs' locks stay behind; Redis is stopped (SIGTERM
// writes the file) and started again, and the stale leases and locks are there. New workers must
// wait them out, take every partition over and settle every accepted payment exactly once, while
// the API, never restarted, keeps accepting.
import { createRedis, PartitionQueues } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, readiness, startLoad } from "../support/processes";
import { PrivateRedis } from "../support/services";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(150_000);

const PARTITIONS = 8;
// Long enough for the stale leases to outlive the restart and, mostly, the new workers' boot
// (5 to 12 s on a busy 2-core machine), so that the new workers have to wait them out; and for
// the job locks, renewed every half of it, to outlive the restart even when a starved worker
// renews late.
const LEASE_TTL_MS = 10_000;
const JOB_LOCK_MS = 10_000;
// Lease rounds run every quarter TTL, and the dead workers' heartbeats must lapse before the new
// ones count a fair share of all partitions; on a busy 2-core machine, a few seconds more.
const TAKEOVER_SLACK_MS = 6000;

let redis: PrivateRedis;
let cluster: ProcessCluster;
let inspector: ReturnType<typeof createRedis>;

afterAll(async () => {
  await inspector?.quit().catch(() => inspector.disconnect());
  await cluster?.destroy();
  await redis?.destroy();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("settles everything once after a persistent Redis restart brings dead workers' leases and job locks back", async () => {
  redis = await PrivateRedis.start({ persistence: true });
  cluster = await ProcessCluster.create({
    label: "redis-persistence",
    redisUrl: redis.url,
    partitions: PARTITIONS,
    env: { LEASE_TTL_MS: String(LEASE_TTL_MS), JOB_LOCK_MS: String(JOB_LOCK_MS) },
  });
  inspector = createRedis(redis.url, "worker");
  const queues = new PartitionQueues(inspector, { prefix: cluster.prefix, partitions: PARTITIONS });
  const leaseOwners = () => inspector.mget(...Array.from({ length: PARTITIONS }, (_, p) => cluster.leaseKey(p)));
  const [api, dead] = await Promise.all([cluster.startApi(), cluster.startWorkers(2)]);
  const deadIds = dead.map((w) => w.workerId());
  // Each holds its fair share, half of the partitions: a settled assignment that neither will
  // change (a worker that started alone takes every partition and sheds half only a lease round
  // later, leaving some unowned for a while).
  await waitFor(
    async () => {
      const owners = await leaseOwners();
      return deadIds.every((id) => owners.filter((o) => o === id).length === PARTITIONS / 2);
    },
    { timeoutMs: 15_000, what: "each worker to hold half of the partitions" },
  );
  const accounts = await fundAccounts(cluster.api, 20, "100.00");

  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 16_000, maxPayments: 1600, ratePerSecond: 100 });
  await pause(3000);
  // The new workers boot (seconds) while the old ones die and Redis restarts: they come up into
  // the stale state. They can change nothing of it before the checks below: every lease is taken.
  const booting = cluster.startWorkers(2);
  booting.catch(() => undefined);
  const killed = await Promise.all(dead.map((w) => w.kill9()));
  const killedAt = Date.now();
  expect(killed.map((k) => k.signal)).toEqual(["SIGKILL", "SIGKILL"]);
  const acceptedAtKill = load.accepted.length;
  const downAt = Date.now();
  const downSince = performance.now();
  await redis.down("SIGTERM");
  await redis.up();
  const upAgain = performance.now();
  const restartedAt = Date.now();

  // The stale state came back: every partition's lease names a dead worker, and the wake-ups
  // that were active are active again, locked (no live process will renew or release either).
  const owners = await leaseOwners();
  expect(owners.filter((o) => o === null || !deadIds.includes(o))).toEqual([]);
  const staleJobs = (await Promise.all(queues.queues.map(async (q) => (await q.getActive()).map((job) => ({ queue: q, job }))))).flat();
  const lockTtls = await Promise.all(staleJobs.map(({ queue, job }) => inspector.pttl(queue.toKey(`${job.id}:lock`))));
  const locked = lockTtls.filter((ttl) => ttl > 0).length;
  expect(locked).toBeGreaterThan(0);

  // The API, never restarted, reconnects and answers ready again.
  await waitFor(async () => (await readiness(cluster)).status === 200, { timeoutMs: 15_000, what: "/readyz to recover" });
  const fresh = await booting;
  const freshIds = new Set(fresh.map((w) => w.workerId()));
  const freshAt = Date.now();
  const standing = (await leaseOwners()).filter((o) => o !== null && deadIds.includes(o)).length;
  const acceptedWithoutWorkers = load.accepted.length - acceptedAtKill;
  await waitFor(async () => (await leaseOwners()).every((o) => o !== null && freshIds.has(o)), {
    timeoutMs: LEASE_TTL_MS + TAKEOVER_SLACK_MS,
    what: "the new workers to take every partition over",
  });
  const takeoverSeconds = (Date.now() - freshAt) / 1000;

  const result = await load.done;
  // PostgreSQL alone makes a payment durable: the API kept answering 202 with no worker running,
  // and to requests sent while Redis was down.
  expect(acceptedWithoutWorkers).toBeGreaterThan(0);
  const acceptedDuringRestart = result.acceptances.filter((a) => a.sentAt >= downSince && a.sentAt <= upAgain).length;
  expect(acceptedDuringRestart).toBeGreaterThan(0);
  expect(result.failed).toEqual([]);
  expect(api.running).toBe(true);
  expect(cluster.processes.filter((p) => p.kind === "api")).toHaveLength(1);
  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });

  // Each wake-up that came back active was found stalled once its lock lapsed, run again by a new
  // worker, and completed.
  const recovered = await waitFor(
    async () => {
      const jobs = await Promise.all(staleJobs.map(({ queue, job }) => queue.getJob(job.id!)));
      const states = await Promise.all(jobs.map((j) => (j ? j.getState() : Promise.resolve(undefined))));
      return states.every((s) => s === "completed") && jobs;
    },
    { timeoutMs: 30_000, what: "the stale wake-ups to be run again and complete" },
  );
  expect(recovered.every((j) => j!.stalledCounter >= 1 && j!.processedOn! > restartedAt)).toBe(true);

  logScenario(
    "redis persistence",
    result,
    `both workers killed -9, then Redis stopped (SIGTERM) and started from its append-only file in ${((restartedAt - downAt) / 1000).toFixed(1)} s: ` +
      `${PARTITIONS} stale leases and ${staleJobs.length} active wake-ups (${locked} still locked) came back; ${acceptedWithoutWorkers} payments accepted with no worker (${acceptedDuringRestart} sent while Redis was down); ` +
      `2 new workers, up ${((freshAt - killedAt) / 1000).toFixed(1)} s after the kill with ${standing} stale leases still standing, ` +
      `took every partition over ${takeoverSeconds.toFixed(1)} s after they started (lease TTL ${LEASE_TTL_MS / 1000} s)`,
    report,
  );
});
