// The narrow window, made to happen: a worker frozen (SIGSTOP) inside its settle transaction, past
// its lease and its job lock, while a second worker takes the partition over and reaches for the
// same payments; then the first resumes and commits. Each payment is applied exactly once.
import { createRedis, verifyLedger } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { fundAccounts, ProcessCluster } from "../support/processes";

jest.setTimeout(120_000);

let cluster: ProcessCluster;
let redis: ReturnType<typeof createRedis>;

afterAll(async () => {
  await redis?.quit();
  await cluster?.destroy();
});

const backendsOf = async (state: string, waitType?: string) => {
  const { rows } = await cluster.db.pool.query(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'settle-worker' AND state = $1 ${waitType ? "AND wait_event_type = $2" : ""}`,
    waitType ? [state, waitType] : [state],
  );
  return rows.length;
};

it("applies every payment once when a frozen worker resumes after another took its partition", async () => {
  cluster = await ProcessCluster.create({ label: "worker-pause", partitions: 2 });
  redis = createRedis(cluster.env.REDIS_URL!, "worker");
  await cluster.startApi();
  const [first] = await cluster.startWorkers(1);
  const [payer, payee] = await fundAccounts(cluster.api, 2, "100.00");

  // Hold the payer's row: the first worker's settle transaction waits on it, then freezes there.
  const blocker = await cluster.db.pool.connect();
  const early: string[] = [];
  try {
    await blocker.query("BEGIN");
    await blocker.query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", [payer]);
    for (let i = 0; i < 5; i++) early.push((await cluster.api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00" })).body.id);
    await waitFor(async () => (await backendsOf("active", "Lock")) === 1, { what: "the first worker's settle to wait on the row lock" });
    first!.child.kill("SIGSTOP");
    await blocker.query("COMMIT");
  } finally {
    blocker.release();
  }
  // Its statement got the locks and finished; its process is frozen: a transaction left open.
  await waitFor(async () => (await backendsOf("idle in transaction")) === 1, { what: "the frozen worker's transaction to hold its locks" });

  const [second] = await cluster.startWorkers(1);
  const secondId = second!.workerId();
  await waitFor(async () => (await redis.mget(cluster.leaseKey(0), cluster.leaseKey(1))).every((owner) => owner === secondId), {
    timeoutMs: 20_000,
    what: "the second worker to take both partitions over",
  });
  const late: string[] = [];
  for (let i = 0; i < 5; i++) late.push((await cluster.api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00" })).body.id);
  // The second worker reaches for the same pending rows and waits behind the frozen transaction.
  await waitFor(async () => (await backendsOf("active", "Lock")) >= 1, {
    timeoutMs: 20_000,
    what: "the second worker to wait on the frozen worker's row locks",
  });

  first!.child.kill("SIGCONT");
  const all = [...early, ...late];
  await waitFor(
    async () => {
      const { rows } = await cluster.db.pool.query("SELECT count(*) AS n FROM payments WHERE id = ANY($1::uuid[]) AND status = 'completed'", [all]);
      return rows[0].n === String(all.length);
    },
    { timeoutMs: 30_000, what: "every payment to settle" },
  );
  const { rows } = await cluster.db.pool.query("SELECT payment_id, count(*) AS n FROM journal_entries WHERE payment_id = ANY($1::uuid[]) GROUP BY payment_id", [
    all,
  ]);
  expect(rows.map((r) => Number(r.n))).toEqual(all.map(() => 2));
  expect((await cluster.api.get(`/api/v1/accounts/${payer}`)).body.available).toBe("90.00");
  expect((await verifyLedger(cluster.db.pool)).problems).toEqual([]);
});
