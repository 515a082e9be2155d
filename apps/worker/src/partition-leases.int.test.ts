import { createLogger, createRedis } from "@settle/core";
import { clearRedisPrefix, TEST_REDIS_URL, uniquePrefix } from "@settle/core/testing";
import { PartitionLeases } from "./partition-leases";

// Liveness by Redis's clock: a worker whose own clock is an hour behind still counts as live for
// the others, and the partitions are shared fairly.
const PARTITIONS = 8;
const prefix = uniquePrefix("leases");
const redis = createRedis(TEST_REDIS_URL, "worker");
const logger = createLogger({ level: "silent", name: "leases" });

afterAll(async () => {
  jest.restoreAllMocks();
  await clearRedisPrefix(redis, prefix);
  await redis.quit();
});

function leases(workerId: string): PartitionLeases {
  return new PartitionLeases(redis, {
    prefix,
    partitions: PARTITIONS,
    workerId,
    ttlMs: 5000,
    onAcquire: () => Promise.resolve(),
    onRelease: () => Promise.resolve(),
    logger,
  });
}

it("counts a worker with a skewed clock as live and shares the partitions with it", async () => {
  const [slow, fast] = [leases("slow-clock"), leases("right-clock")];
  const realNow = Date.now.bind(Date);
  const skew = jest.spyOn(Date, "now");
  // Each tick runs with its own worker's clock.
  const tickAs = async (worker: PartitionLeases, offsetMs: number) => {
    skew.mockImplementation(() => realNow() + offsetMs);
    await worker.tick();
  };
  for (let round = 0; round < 3; round++) {
    await tickAs(slow, -3_600_000);
    await tickAs(fast, 0);
  }
  expect(await redis.zcard(`${prefix}:workers`)).toBe(2);
  expect(slow.ownedPartitions).toHaveLength(PARTITIONS / 2);
  expect(fast.ownedPartitions).toHaveLength(PARTITIONS / 2);
  skew.mockRestore();
  await Promise.all([slow.stop(), fast.stop()]);
  expect(await redis.zcard(`${prefix}:workers`)).toBe(0);
});

it("renews its leases, and gives up one found taken by another worker or gone", async () => {
  const released: number[] = [];
  const worker = new PartitionLeases(redis, {
    prefix,
    partitions: 2,
    workerId: "renewing",
    ttlMs: 5000,
    onAcquire: () => Promise.resolve(),
    onRelease: (partition) => {
      released.push(partition);
      return Promise.resolve();
    },
    logger,
  });
  await worker.tick();
  expect(worker.ownedPartitions).toEqual([0, 1]);
  const key = (partition: number) => `${prefix}:lease:${partition}`;

  // A round extends what it holds.
  await redis.pexpire(key(0), 1000);
  await redis.pexpire(key(1), 1000);
  await worker.tick();
  expect(await redis.pttl(key(0))).toBeGreaterThan(4000);
  expect(await redis.pttl(key(1))).toBeGreaterThan(4000);

  // Partition 0's lease lapsed and another worker took it; partition 1's lapsed and nobody did.
  // Both consumers are stopped: a lease found lost is given up, never extended back into being.
  await redis.set(key(0), "other-worker", "PX", 5000);
  await redis.del(key(1));
  await redis.zadd(`${prefix}:workers`, Date.now() + 60_000, "other-worker");
  await worker.tick();
  expect(released.sort()).toEqual([0, 1]);
  expect(await redis.get(key(0))).toBe("other-worker");
  // With two live workers its fair share is one: the same round takes the free partition 1 anew.
  expect(worker.ownedPartitions).toEqual([1]);
  expect(await redis.get(key(1))).toBe("renewing");
  await worker.stop();
  // Stopping releases only its own leases: the other worker's stays.
  expect(await redis.get(key(0))).toBe("other-worker");
  await redis.del(key(0), key(1));
  await redis.zrem(`${prefix}:workers`, "other-worker");
});
