// PostgreSQL restarts mid-load (a private cluster). Meanwhile the API answers 503 `unavailable`
// quickly and /readyz names PostgreSQL; afterwards everything resumes with no process restarted.
import { waitFor } from "@settle/core/testing";
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, readiness, startLoad } from "../support/processes";
import { PrivatePostgres } from "../support/services";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(150_000);

const OUTAGE_MS = 4000;
// "Quickly": no request may hang past a few seconds while a backing service is down.
const ANSWER_WITHIN_MS = 5000;

let postgres: PrivatePostgres;
let cluster: ProcessCluster;

afterAll(async () => {
  await cluster?.destroy();
  await postgres?.destroy();
});

it("answers 503 while PostgreSQL is down and settles everything after it returns, with no process restarted", async () => {
  postgres = await PrivatePostgres.start();
  cluster = await ProcessCluster.create({ label: "pg-restart", postgresServerUrl: postgres.serverUrl });
  await Promise.all([cluster.startApi(), cluster.startWorkers(2)]);
  const processes = [...cluster.processes];
  const accounts = await fundAccounts(cluster.api, 20, "100.00");

  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 15_000, maxPayments: 1500, ratePerSecond: 100, requestTimeoutMs: ANSWER_WITHIN_MS });
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await postgres.down("fast");
  const downAt = Date.now();

  const ready = await readiness(cluster);
  expect(ready).toEqual({ status: 503, body: expect.objectContaining({ postgres: "down" }) });
  const res = await fetch(`${cluster.apiUrl}/api/v1/payments`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ from_account: accounts[0], to_account: accounts[1], amount: "1.00" }),
    signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
  });
  expect(res.status).toBe(503);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  const read = await fetch(`${cluster.apiUrl}/api/v1/accounts/${accounts[0]}`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
  expect(read.status).toBe(503);

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
  await postgres.up();
  await waitFor(async () => (await readiness(cluster)).status === 200, { timeoutMs: 15_000, what: "/readyz to recover" });

  const result = await load.done;
  // Refusals are 503s, answered in time; never a timeout, a 500 or a dropped connection.
  expect(new Set(result.failed.map((f) => f.reason))).toEqual(new Set(result.failed.length ? ["503 unavailable"] : []));
  expect(result.failed.length).toBeGreaterThan(0);
  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });
  expect(processes.every((p) => p.running)).toBe(true);
  expect(cluster.processes).toHaveLength(processes.length);
  logScenario(
    "postgres restart",
    result,
    `PostgreSQL stopped (pg_ctl -m fast) for ${(OUTAGE_MS / 1000).toFixed(0)} s, then started; no process restarted`,
    report,
  );
});
