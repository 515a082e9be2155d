// SIGTERM everything mid-load: the API stops accepting and drains, each worker finishes its job
// in hand and gives its partitions up; every process exits 0. Started again, all settles.
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, startLoad } from "../support/processes";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(150_000);

let cluster: ProcessCluster;

afterAll(() => cluster?.destroy());

it("stops every process cleanly mid-load and settles everything after a restart", async () => {
  cluster = await ProcessCluster.create({ label: "sigterm-all" });
  await Promise.all([cluster.startApi(), cluster.startWorkers(3)]);
  const accounts = await fundAccounts(cluster.api, 20, "100.00");

  // Bounded in count and time; stopped a few seconds after the restart, so load runs on both sides.
  const loadStart = Date.now();
  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 40_000, maxPayments: 3000, ratePerSecond: 100 });
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const stoppedAt = Date.now();
  const exits = await cluster.terminateAll();
  expect(exits).toHaveLength(4);
  expect(exits.map((e) => [e.name, e.status])).toEqual(exits.map((e) => [e.name, { code: 0, signal: null }]));
  const stopped = await cluster.db.pool.query("SELECT count(*) AS n FROM payments WHERE status = 'pending'");

  await new Promise((resolve) => setTimeout(resolve, 1000));
  await Promise.all([cluster.startApi(), cluster.startWorkers(3)]);
  const restartedAt = Date.now();
  const downSeconds = (restartedAt - stoppedAt) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 4000));
  load.stop();
  const result = await load.done;
  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });
  // Every request that got no 202 failed because the API was down: refused or cut connections,
  // only while it was stopped, never an error answer from a running API.
  expect(result.failed.length).toBeGreaterThan(0);
  expect(result.failed.filter((f) => !/ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET|EPIPE|other side closed/.test(f.reason))).toEqual([]);
  expect(result.failed.filter((f) => loadStart + f.at < stoppedAt - 1000 || loadStart + f.at > restartedAt + 1000)).toEqual([]);
  // A graceful stop finishes what it started: no transfer was committed without its 202 reaching the client.
  const { rows } = await cluster.db.pool.query("SELECT count(*) AS n FROM payments WHERE type = 'transfer'");
  expect(Number(rows[0].n)).toBe(result.accepted.length);
  const restarted = await cluster.terminateAll();
  expect(restarted.map((e) => e.status)).toEqual(restarted.map(() => ({ code: 0, signal: null })));
  logScenario(
    "SIGTERM all",
    result,
    `SIGTERM to the API and 3 workers at once (all exited 0; ${stopped.rows[0].n} payments left pending), restarted 1 s later (API down ${downSeconds.toFixed(1)} s in all)`,
    report,
  );
});
