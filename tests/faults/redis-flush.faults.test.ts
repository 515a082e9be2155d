// Every queued job lost: the test deletes every key under its queue prefix (jobs, leases, the
// partitions' concurrency setting) mid-load, then again while nothing would ever enqueue the
// pending payments a second time. The sweeper must bring every one of them to an end.
import { createRedis } from "@settle/core";
import { clearRedisPrefix, waitFor } from "@settle/core/testing";
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, startLoad } from "../support/processes";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(150_000);

let cluster: ProcessCluster;
let redis: ReturnType<typeof createRedis>;

afterAll(async () => {
  await redis?.quit();
  await cluster?.destroy();
});

const pendingCount = async () => Number((await cluster.db.pool.query("SELECT count(*) AS n FROM payments WHERE status = 'pending'")).rows[0].n);

it("recovers every pending payment after the queue's Redis data is flushed", async () => {
  cluster = await ProcessCluster.create({ label: "redis-flush" });
  redis = createRedis(cluster.env.REDIS_URL!, "worker");
  await Promise.all([cluster.startApi(), cluster.startWorkers(2)]);
  const accounts = await fundAccounts(cluster.api, 20, "100.00");

  // 1. Mid-load, twice.
  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 10_000, maxPayments: 1000, ratePerSecond: 100 });
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await clearRedisPrefix(redis, cluster.prefix);
  }
  const first = await load.done;

  // 2. With the workers stopped, payments pile up in the queue; then the queue is wiped and no
  // new payment follows, so only the sweeper knows they exist.
  const stops = await Promise.all(cluster.workers.map((w) => w.terminate()));
  expect(stops).toEqual(stops.map(() => ({ code: 0, signal: null })));
  const second = await startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 2000, maxPayments: 200, ratePerSecond: 100 }).done;
  expect(second.accepted.length).toBeGreaterThan(0);
  await clearRedisPrefix(redis, cluster.prefix);
  const stranded = await pendingCount();
  expect(stranded).toBeGreaterThanOrEqual(second.accepted.length);
  await cluster.startWorkers(2);
  await waitFor(async () => (await pendingCount()) === 0, { timeoutMs: 30_000, what: "the sweeper to recover the stranded payments" });
  // The sweeper's own report, not a producer's "the sweeper will wake the partition" warning.
  expect(cluster.workers.map((w) => w.log()).join("")).toContain('"msg":"sweeper woke a partition with stale pending payments"');

  const accepted = [...first.accepted, ...second.accepted];
  expect([...first.failed, ...second.failed]).toEqual([]);
  const acceptances = [...first.acceptances, ...second.acceptances];
  const report = await assertInvariants(cluster.db.pool, accepted, { acceptances });
  logScenario(
    "redis flush",
    { accepted, acceptances, failed: [], sent: first.sent + second.sent, seconds: first.seconds + second.seconds },
    `every key under the queue prefix deleted twice mid-load, then once more with ${stranded} payments pending and no worker running (recovered by the sweeper)`,
    report,
  );
});
