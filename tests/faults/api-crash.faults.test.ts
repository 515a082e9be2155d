// kill -9 the API mid-load, twice: requests in flight may fail, but every 202 that was sent is
// settled, and so is every payment committed whose answer never left (nothing stays pending).
import { assertInvariants, countReasons, fundAccounts, logScenario, ProcessCluster, startLoad } from "../support/processes";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(150_000);

const KILLS = 2;

let cluster: ProcessCluster;

afterAll(() => cluster?.destroy());

it(`settles every accepted payment through ${KILLS} kill -9 of the API under load`, async () => {
  cluster = await ProcessCluster.create({ label: "api-crash" });
  await Promise.all([cluster.startApi(), cluster.startWorkers(2)]);
  const accounts = await fundAccounts(cluster.api, 20, "100.00");

  // Bounded in count and time; stopped a few seconds after the last restart, so load runs on both sides of each crash.
  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 45_000, maxPayments: 3000, ratePerSecond: 100 });
  const downtimes: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const [api] = cluster.apis;
    const killedAt = Date.now();
    expect((await api!.kill9()).signal).toBe("SIGKILL");
    // Down for a moment: the load keeps knocking on a closed port.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await cluster.startApi();
    downtimes.push((Date.now() - killedAt) / 1000);
  }
  await new Promise((resolve) => setTimeout(resolve, 4000));
  load.stop();
  const result = await load.done;

  expect(result.failed.length).toBeGreaterThan(0);
  // The only failures are the API's absence (no answer, connection refused or reset), never a 5xx.
  for (const reason of Object.keys(countReasons(result.failed))) expect(reason).not.toMatch(/^\d/);
  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });
  // Besides the 202'd payments and the funding deposits, the database holds only payments whose
  // request reached a killed API and got no answer (a reset or timeout, not a refused connection):
  // committed before the kill, they are settled too; nothing else appears.
  const unanswered = result.failed.filter((f) => f.reason !== "ECONNREFUSED").length;
  const extra = report.payments - (result.accepted.length + accounts.length);
  expect(extra).toBeGreaterThanOrEqual(0);
  expect(extra).toBeLessThanOrEqual(unanswered);
  logScenario(
    "API kill -9",
    result,
    `${KILLS} API processes killed with SIGKILL, a new one started 1 s later on the same port (API down ${downtimes.map((d) => d.toFixed(1)).join(" s, ")} s)`,
    report,
  );
});
