// Issue 4: thousands of payments mixed with disputes, resolves and chargebacks, settled by several
// real worker processes; the ledger must verify (chains, balances, dispute entries, conservation).
import { verifyLedger } from "@settle/core";
import { fundAccounts, ProcessCluster, randomAmount } from "./support/processes";
import type { ApiClient } from "./support/http";

jest.setTimeout(180_000);

const WORKERS = 3;
const ACCOUNTS = 30;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.create({ label: "disputemix", partitions: 16 });
});
afterAll(() => cluster?.destroy());

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** Runs `count` calls of `send` with `concurrency` in flight; returns the responses' bodies by status. */
async function drive(count: number, concurrency: number, send: (i: number) => Promise<{ status: number; body: any }>) {
  const byStatus = new Map<number, any[]>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const res = await send(next++);
        byStatus.set(res.status, [...(byStatus.get(res.status) ?? []), res.body]);
      }
    }),
  );
  return byStatus;
}

async function untilSettled(api: ApiClient, pool: ProcessCluster["db"]["pool"]) {
  for (let i = 0; i < 600; i++) {
    const { rows } = await pool.query(
      "SELECT (SELECT count(*) FROM payments WHERE status = 'pending') + (SELECT count(*) FROM payment_operations WHERE status = 'pending') AS n",
    );
    if (rows[0].n === "0") return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("operations still pending after the wait");
}

it(`settles a mix of payments and dispute steps on ${WORKERS} worker processes and verifies the ledger`, async () => {
  await Promise.all([cluster.startApi(), cluster.startWorkers(WORKERS)]);
  const api = cluster.api;
  const accounts = await fundAccounts(api, ACCOUNTS, "100.00");
  const started = Date.now();

  const movement = (i: number) => {
    const roll = i % 10;
    if (roll === 0) return api.post("/api/v1/deposits", { account_id: pick(accounts), amount: randomAmount() });
    if (roll === 1) return api.post("/api/v1/withdrawals", { account_id: pick(accounts), amount: randomAmount() });
    const from = pick(accounts);
    let to = pick(accounts);
    while (to === from) to = pick(accounts);
    return api.post("/api/v1/payments", { from_account: from, to_account: to, amount: randomAmount() });
  };

  const first = await drive(1500, 24, movement);
  expect([...first.keys()]).toEqual([202]);
  await untilSettled(api, cluster.db.pool);

  // Dispute 200 completed transfers and deposits; charge back one in eight, resolve the rest,
  // while more payments flow (some now from frozen accounts).
  const { rows } = await cluster.db.pool.query(
    "SELECT id FROM payments WHERE status = 'completed' AND type IN ('transfer', 'deposit') ORDER BY random() LIMIT 200",
  );
  const disputed = rows.map((r) => String(r.id));
  const [steps, during] = await Promise.all([
    drive(disputed.length, 12, async (i) => {
      const id = disputed[i]!;
      const opened = await api.post(`/api/v1/payments/${id}/dispute`);
      if (opened.status !== 202) return opened;
      return api.post(`/api/v1/payments/${id}/${i % 8 ? "resolve" : "chargeback"}`);
    }),
    drive(1000, 12, movement),
  ]);
  expect([...steps.keys()]).toEqual([202]);
  expect([...during.keys()]).toEqual([202]);
  // Steps already decided are refused: a second dispute of a disputed payment is a 409.
  expect((await api.post(`/api/v1/payments/${disputed[0]}/dispute`)).status).toBe(409);
  await untilSettled(api, cluster.db.pool);

  const { rows: summary } = await cluster.db.pool.query(`SELECT
      (SELECT count(*) FROM payments WHERE dispute_status = 'resolved') AS resolved,
      (SELECT count(*) FROM payments WHERE dispute_status = 'charged_back') AS charged_back,
      (SELECT count(*) FROM payments WHERE failure_reason = 'account_frozen') AS frozen_refusals,
      (SELECT count(*) FROM accounts WHERE status = 'frozen') AS frozen_accounts,
      (SELECT count(*) FROM payment_operations WHERE status = 'rejected') AS rejected_steps,
      (SELECT count(*) FROM payments p JOIN accounts a ON a.id = p.to_account
         WHERE p.dispute_status = 'charged_back' AND a.status <> 'frozen') AS unfrozen_receivers`);
  const s = summary[0];
  expect(Number(s.resolved) + Number(s.charged_back)).toBe(disputed.length);
  expect(Number(s.charged_back)).toBe(Math.ceil(disputed.length / 8));
  expect(s.unfrozen_receivers).toBe("0");
  expect(s.rejected_steps).toBe("0");

  const report = await verifyLedger(cluster.db.pool);
  expect(report.problems).toEqual([]);
  expect(report.payments.pending).toBe(0);
  console.log(
    `disputes mix: ${report.payments.completed + report.payments.failed} payments (${report.payments.failed} failed, ${s.frozen_refusals} as account_frozen), ` +
      `${disputed.length} disputes (${s.resolved} resolved, ${s.charged_back} charged back, ${s.frozen_accounts} accounts frozen), ` +
      `${report.entries} journal entries verified on ${WORKERS} worker processes in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
});
