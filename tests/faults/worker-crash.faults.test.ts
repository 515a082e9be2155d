// kill -9 a worker mid-load, again and again: the others take its partitions over within seconds,
// a new one joins, and every accepted payment is settled exactly once (its in-hand job included).
import { createRedis } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, startLoad } from "../support/processes";

// Real processes on a shared 2-core machine: generous, but bounded.
jest.setTimeout(150_000);

const PARTITIONS = 8;
const KILLS = 3;

let cluster: ProcessCluster;
let redis: ReturnType<typeof createRedis>;

afterAll(async () => {
  await redis?.quit();
  await cluster?.destroy();
});

async function leasesOf(workerId: string): Promise<number[]> {
  const owners = await redis.mget(...Array.from({ length: PARTITIONS }, (_, p) => cluster.leaseKey(p)));
  return owners.flatMap((owner, p) => (owner === workerId ? [p] : []));
}

it(`survives ${KILLS} kill -9 of a worker under load`, async () => {
  cluster = await ProcessCluster.create({ label: "worker-crash", partitions: PARTITIONS });
  redis = createRedis(cluster.env.REDIS_URL!, "worker");
  await Promise.all([cluster.startApi(), cluster.startWorkers(3)]);
  const accounts = await fundAccounts(cluster.api, 20, "100.00");
  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 18_000, maxPayments: 1800, ratePerSecond: 100 });

  for (let i = 0; i < KILLS; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const victim = cluster.workers[Math.floor(Math.random() * cluster.workers.length)]!;
    const victimId = victim.workerId();
    // It must hold partitions for the kill to take something away (fair share: it soon does).
    const held = await waitFor(
      async () => {
        const partitions = await leasesOf(victimId);
        return partitions.length > 0 && partitions;
      },
      { timeoutMs: 10_000, what: `${victim.name} to hold partitions` },
    );
    expect((await victim.kill9()).signal).toBe("SIGKILL");

    // The survivors take every one of its partitions over (lease TTL 2 s), without any help.
    const survivors = new Set(cluster.workers.map((w) => w.workerId()));
    await waitFor(
      async () => {
        const owners = await redis.mget(...held.map((p) => cluster.leaseKey(p)));
        return owners.every((owner) => owner !== null && survivors.has(owner));
      },
      { timeoutMs: 15_000, what: `partitions ${held.join(",")} of the killed ${victim.name} to be taken over` },
    );
    await cluster.startWorker();
  }

  // The newcomers got their share: every live worker holds partitions again.
  await waitFor(async () => (await Promise.all(cluster.workers.map((w) => leasesOf(w.workerId())))).every((held) => held.length > 0), {
    timeoutMs: 15_000,
    what: "every live worker to hold partitions",
  });
  const result = await load.done;
  expect(result.failed).toEqual([]);
  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });
  logScenario("worker kill -9", result, `${KILLS} workers killed with SIGKILL (each replaced after its partitions were taken over)`, report);
});
