// Partitions follow the workers (docs/ARCHITECTURE.md "Settle side"): a worker that joins gets its
// fair share, one that leaves (SIGTERM) hands its partitions on at once, one killed -9 loses them
// when its leases expire. Each move must complete within LEASE_TTL_MS and a lease round or two
// (rounds run every quarter TTL), with real processes; payments keep settling throughout.
import { createRedis } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { ProcessCluster, type SettleProcess } from "../support/processes";
import { newAccount, settled } from "../support/http";

jest.setTimeout(120_000);

const PARTITIONS = 8;
const LEASE_TTL_MS = 2000;
// The bound of every move: a lease's TTL, two rounds (a quarter TTL each), and 2 s for a busy
// 2-core machine that runs the other suites beside this one.
const MOVE_WITHIN_MS = LEASE_TTL_MS + LEASE_TTL_MS / 2 + 2000;

let cluster: ProcessCluster;
let redis: ReturnType<typeof createRedis>;

afterAll(async () => {
  await redis?.quit();
  await cluster?.destroy();
});

async function owners(): Promise<(string | null)[]> {
  return redis.mget(...Array.from({ length: PARTITIONS }, (_, p) => cluster.leaseKey(p)));
}

/** Waits until the leases are spread as `expected` (worker → partitions held); returns how long it took. */
async function spreadAs(expected: Map<SettleProcess, number>, what: string): Promise<number> {
  const started = Date.now();
  await waitFor(
    async () => {
      const held = await owners();
      return held.every((o) => o !== null) && [...expected].every(([w, n]) => held.filter((o) => o === w.workerId()).length === n);
    },
    { timeoutMs: MOVE_WITHIN_MS, intervalMs: 50, what },
  );
  return Date.now() - started;
}

/** A deposit settles: the partitions work, whoever holds them. */
async function settles(): Promise<void> {
  const account = await newAccount(cluster.api);
  const deposit = await cluster.api.post("/api/v1/deposits", { account_id: account, amount: "1.00" });
  expect((await settled(cluster.api, deposit.body.id)).status).toBe("completed");
}

it("moves partitions within the lease TTL when workers join, leave and are killed", async () => {
  cluster = await ProcessCluster.create({ label: "rebalance", partitions: PARTITIONS, env: { LEASE_TTL_MS: String(LEASE_TTL_MS) } });
  redis = createRedis(cluster.env.REDIS_URL!, "worker");
  const [, first] = await Promise.all([cluster.startApi(), cluster.startWorker()]);
  await spreadAs(new Map([[first, 8]]), "the first worker to hold every partition");
  await settles();

  const second = await cluster.startWorker();
  const joined = await spreadAs(
    new Map([
      [first, 4],
      [second, 4],
    ]),
    "a joining worker to get half",
  );
  await settles();

  const third = await cluster.startWorker();
  // ceil(8 / 3) = 3: two hold 3 and one 2, whichever.
  await waitFor(
    async () => {
      const held = await owners();
      const counts = [first, second, third].map((w) => held.filter((o) => o === w.workerId()).length).sort();
      return held.every((o) => o !== null) && counts.join() === "2,3,3";
    },
    { timeoutMs: MOVE_WITHIN_MS, intervalMs: 50, what: "three workers to share 3, 3 and 2" },
  );

  const leaving = Date.now();
  expect(await third.terminate()).toMatchObject({ code: 0 });
  const left = await spreadAs(
    new Map([
      [first, 4],
      [second, 4],
    ]),
    "a leaving worker's partitions to be taken",
  );
  await settles();

  const killed = await second.kill9();
  expect(killed.signal).toBe("SIGKILL");
  const takenOver = await spreadAs(new Map([[first, 8]]), "a killed worker's partitions to be taken over");
  await settles();

  console.log(
    `rebalance (LEASE_TTL_MS ${LEASE_TTL_MS}, ${PARTITIONS} partitions): a joining worker had half ${(joined / 1000).toFixed(1)} s after it started; ` +
      `a leaving one's (SIGTERM) were taken ${(left / 1000).toFixed(1)} s after it exited (${((Date.now() - leaving) / 1000).toFixed(1)} s from the signal); ` +
      `a killed one's ${(takenOver / 1000).toFixed(1)} s after the kill`,
  );
});
