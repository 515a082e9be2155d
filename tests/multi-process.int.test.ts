// Issue 2's multi-process test: real worker processes share the partitions and settle a few
// thousand random transfers sent through the HTTP API, each exactly once.
import { assertInvariants, fundAccounts, ProcessCluster, startLoad } from "./support/processes";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(150_000);

const WORKERS = 3;
const ACCOUNTS = 40;
const PAYMENTS = 3000;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.create({ label: "multiproc", partitions: 16 });
});
afterAll(() => cluster?.destroy());

it(`settles up to ${PAYMENTS} random transfers among ${ACCOUNTS} accounts on ${WORKERS} worker processes, each exactly once`, async () => {
  await Promise.all([cluster.startApi(), cluster.startWorkers(WORKERS)]);
  const accounts = await fundAccounts(cluster.api, ACCOUNTS, "100.00");

  const started = Date.now();
  const load = await startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 35_000, maxPayments: PAYMENTS, ratePerSecond: 500, concurrency: 32 }).done;
  expect(load.failed).toEqual([]);
  // Bounded in time too: a busy machine may send fewer than PAYMENTS, never a token few.
  expect(load.accepted.length).toBeGreaterThanOrEqual(1000);
  const report = await assertInvariants(cluster.db.pool, load.accepted, { acceptances: load.acceptances });
  const seconds = (Date.now() - started) / 1000;

  // Every process took part: the partitions were spread, not kept by the first worker.
  for (const worker of cluster.workers) expect(worker.log()).toMatch(/"msg":"payment settled"/);
  console.log(
    `multi-process: ${load.accepted.length} transfers (+${ACCOUNTS} deposits) among ${ACCOUNTS} accounts, ${WORKERS} worker processes + 1 API; ` +
      `sent in ${load.seconds.toFixed(1)} s, all settled ${seconds.toFixed(1)} s after the first request ` +
      `(${report.completed} completed, ${report.failed} failed in total, ${report.entries} journal entries)`,
  );

  const exits = await cluster.terminateAll();
  expect(exits.map((e) => [e.name, e.status])).toEqual(exits.map((e) => [e.name, { code: 0, signal: null }]));
});
