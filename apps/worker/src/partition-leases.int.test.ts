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
