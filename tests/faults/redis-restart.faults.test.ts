// Redis restarts mid-load (a private server: its data, every queued job, is gone). The API keeps
// accepting (PostgreSQL has the payments), /readyz names Redis as down, and everything resumes
// without restarting any of our processes; payments accepted meanwhile are settled by the sweeper.
import { waitFor } from "@settle/core/testing";
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, readiness, startLoad } from "../support/processes";
import { PrivateRedis } from "../support/services";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(150_000);

const OUTAGE_MS = 4000;

let redis: PrivateRedis;
let cluster: ProcessCluster;

afterAll(async () => {
  await cluster?.destroy();
  await redis?.destroy();
});

it("settles everything after a Redis restart, with no process restarted", async () => {
  redis = await PrivateRedis.start();
  cluster = await ProcessCluster.create({ label: "redis-restart", redisUrl: redis.url });
  await Promise.all([cluster.startApi(), cluster.startWorkers(2)]);
  const processes = [...cluster.processes];
  const accounts = await fundAccounts(cluster.api, 20, "100.00");

  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 15_000, maxPayments: 1500, ratePerSecond: 100 });
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const before = load.accepted.length;
  await redis.down();
  const downAt = Date.now();
  const ready = await waitFor(
    async () => {
      const r = await readiness(cluster);
      return r.status === 503 && r;
    },
    { timeoutMs: 10_000, what: "/readyz to report Redis down" },
  );
  expect(ready.body).toEqual(expect.objectContaining({ redis: "down", postgres: "up" }));
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
  const duringOutage = load.accepted.length - before;
  await redis.up();
  await waitFor(async () => (await readiness(cluster)).status === 200, { timeoutMs: 15_000, what: "/readyz to recover" });

  const result = await load.done;
  // PostgreSQL alone makes a payment durable: the API kept answering 202 while Redis was down.
  expect(duringOutage).toBeGreaterThan(0);
  expect(result.failed).toEqual([]);
  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });
  expect(processes.every((p) => p.running)).toBe(true);
  expect(cluster.processes).toHaveLength(processes.length);
  logScenario(
    "redis restart",
    result,
    `Redis stopped for ${(OUTAGE_MS / 1000).toFixed(0)} s and started empty (${duringOutage} payments accepted meanwhile); no process restarted`,
    report,
  );
});
