// Redis reaches maxmemory under noeviction mid-load (a private server, filled by the test): it
// still answers, but refuses every write that needs memory — wake-up adds, heartbeats, new leases,
// BullMQ's job scripts. The API keeps accepting into PostgreSQL (docs/API.md "Unavailable
// services") and /readyz says Redis is full; the workers keep their leases (GETEX needs no
// memory) and go on settling the partitions they hold; once memory is freed, everything
// recovers with no process restarted.
import { createRedis, isRedisOutOfMemory } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, readiness, startLoad } from "../support/processes";
import { PrivateRedis } from "../support/services";

jest.setTimeout(150_000);

const PARTITIONS = 8;
// Longer than LEASE_TTL_MS (2 s in the test cluster): a lease that was not renewed would be gone.
const FULL_MS = 6000;

let redis: PrivateRedis;
let cluster: ProcessCluster;
let filler: ReturnType<typeof createRedis> | undefined;

afterAll(async () => {
  filler?.disconnect();
  await cluster?.destroy();
  await redis?.destroy();
});

/**
 * Fills Redis until it refuses even a small write for memory, then keeps it full: whatever it frees
 * (expiring keys, finished jobs) is taken again at once, as a real backlog would. Returns a stop
 * function that resolves with every key written.
 *
 * Large values fill fast, but a refused 64 KiB write is refused for its own query buffer: the
 * server can still sit just under maxmemory, and small writes (the readiness probe, a wake-up) go
 * through. So the values shrink on each refusal, down to a few bytes, and Redis counts as full only
 * when one of those is refused.
 */
async function fillAndKeepFull(client: ReturnType<typeof createRedis>): Promise<() => Promise<string[]>> {
  const sizes = [64 * 1024, 4 * 1024, 256, 16];
  const keys: string[] = [];
  let step = 0;
  let stopped = false;
  let markFull!: () => void;
  const filled = new Promise<void>((resolve) => (markFull = resolve));
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const key = `filler:${i}`;
      try {
        await client.set(key, "x".repeat(sizes[step]!));
        keys.push(key);
      } catch (error) {
        expect(String(error)).toMatch(/^ReplyError: OOM /);
        if (step < sizes.length - 1) step++;
        else {
          markFull();
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        i--;
      }
      if (keys.length > 100_000) throw new Error("Redis never refused a write: is maxmemory set?");
    }
  })();
  await Promise.race([filled, loop]);
  return async () => {
    stopped = true;
    await loop;
    return keys;
  };
}

async function leaseOwners(client: ReturnType<typeof createRedis>): Promise<(string | null)[]> {
  return Promise.all(Array.from({ length: PARTITIONS }, (_, p) => client.get(cluster.leaseKey(p))));
}

it("keeps accepting and settling held partitions while Redis is full, and recovers when it is freed", async () => {
  redis = await PrivateRedis.start({ args: ["--maxmemory", "16mb", "--maxmemory-policy", "noeviction"] });
  cluster = await ProcessCluster.create({ label: "redis-full", redisUrl: redis.url, partitions: PARTITIONS });
  await Promise.all([cluster.startApi(), cluster.startWorkers(2)]);
  const processes = [...cluster.processes];
  const accounts = await fundAccounts(cluster.api, 24, "100.00");
  filler = createRedis(redis.url, "worker");

  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 18_000, maxPayments: 2000, ratePerSecond: 80 });
  // Every partition held by a worker before Redis fills.
  await waitFor(async () => (await leaseOwners(filler!)).every((owner) => owner !== null), { timeoutMs: 15_000, what: "every partition leased" });
  await new Promise((resolve) => setTimeout(resolve, 2000));

  const owners = await leaseOwners(filler);
  const stopFilling = await fillAndKeepFull(filler);
  const fullAt = new Date();
  const acceptedBefore = load.accepted.length;
  const ready = await waitFor(
    async () => {
      const r = await readiness(cluster);
      return r.status === 503 && r;
    },
    { timeoutMs: 10_000, what: "/readyz to report Redis full" },
  );
  expect(ready.body).toEqual(expect.objectContaining({ status: "unavailable", postgres: "up", redis: "up", redis_memory: "full" }));
  await new Promise((resolve) => setTimeout(resolve, FULL_MS));
  // Still full: even a one-byte write is refused (the filler takes back whatever is freed).
  await waitFor(
    () =>
      filler!.set("filler:probe", "x").then(
        () => false,
        (error: Error) => isRedisOutOfMemory(error),
      ),
    { timeoutMs: 2000, what: "a small write to be refused" },
  );
  const keys = await stopFilling();
  const acceptedWhileFull = load.accepted.length - acceptedBefore;
  const leasesKept = await leaseOwners(filler);
  const freedAt = new Date();

  // Free the memory: nothing else is needed for the system to recover.
  for (let i = 0; i < keys.length; i += 100) await filler.del(...keys.slice(i, i + 100));
  await waitFor(async () => (await readiness(cluster)).status === 200, { timeoutMs: 15_000, what: "/readyz to recover" });

  const result = await load.done;
  expect(acceptedWhileFull).toBeGreaterThan(0);
  expect(result.failed).toEqual([]);
  // The leases held when Redis filled were renewed throughout, by the same workers.
  expect(leasesKept).toEqual(owners);
  // And their partitions went on settling while Redis refused writes.
  const { rows } = await cluster.db.pool.query("SELECT count(*) AS n FROM payments WHERE processed_at > $1 AND processed_at < $2", [fullAt, freedAt]);
  const settledWhileFull = Number(rows[0].n);
  expect(settledWhileFull).toBeGreaterThan(0);

  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });
  expect(processes.every((p) => p.running)).toBe(true);
  expect(cluster.processes).toHaveLength(processes.length);
  logScenario(
    "redis full",
    result,
    `Redis at maxmemory (noeviction) for ${((freedAt.getTime() - fullAt.getTime()) / 1000).toFixed(1)} s: ${acceptedWhileFull} payments accepted and ${settledWhileFull} settled meanwhile; no process restarted`,
    report,
  );
});
