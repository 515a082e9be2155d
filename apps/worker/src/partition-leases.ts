import type { RedisClient as Redis } from "@settle/core";
import { isRedisOutOfMemory, type Logger } from "@settle/core";

// Heartbeats a worker and counts the live ones by Redis's clock, never the workers' own: a worker
// whose clock is skewed would otherwise drop the others from the count, or be dropped by them.
// KEYS[1] members; ARGV[1] worker id, ARGV[2] ttl ms. Returns the number of live workers.
const HEARTBEAT = `
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  return redis.call('ZCARD', KEYS[1])`;
// Releases a lease only while this worker still holds it.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface PartitionLeasesOptions {
  prefix: string;
  partitions: number;
  workerId: string;
  /** A lease not renewed for this long expires and another worker may take the partition. */
  ttlMs: number;
  /** Starts consuming a partition just leased. */
  onAcquire: (partition: number) => Promise<void>;
  /** Stops consuming a partition (finishing the job in hand) before its lease is given up. */
  onRelease: (partition: number) => Promise<void>;
  logger: Logger;
}

/**
 * Spreads partitions over the live worker processes: each holds leases in Redis on at most its
 * fair share, ceil(partitions / live workers), so adding a process adds throughput.
 */
export class PartitionLeases {
  private readonly owned = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: PartitionLeasesOptions,
  ) {}

  get ownedPartitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  private leaseKey(partition: number): string {
    return `${this.options.prefix}:lease:${partition}`;
  }

  private get membersKey(): string {
    return `${this.options.prefix}:workers`;
  }

  start(): void {
    const every = Math.max(200, Math.floor(this.options.ttlMs / 4));
    let busy = false;
    const run = () => {
      // One round at a time: while Redis is unreachable a round waits, and rounds must not pile up.
      if (busy) return;
      busy = true;
      this.ticking = this.tick()
        .catch((err) => this.options.logger.warn({ err }, "partition lease round failed"))
        .finally(() => (busy = false));
    };
    run();
    this.timer = setInterval(run, every);
  }

  /** One round: heartbeat, renew, shed extras, acquire up to the fair share. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    const { ttlMs, partitions, workerId } = this.options;
    // A full Redis (maxmemory under noeviction) refuses the heartbeat's ZADD but not the renewals'
    // GETEX: the leases held are kept, so their partitions go on settling, and nothing is taken
    // or given up until Redis has room again. Any other error ends the round as before.
    let heartbeatRefused = false;
    const live = await this.redis.eval(HEARTBEAT, 1, this.membersKey, workerId, ttlMs).catch((err: unknown) => {
      if (!isRedisOutOfMemory(err)) throw err;
      heartbeatRefused = true;
      this.options.logger.warn({ err }, "Redis is full: renewing the leases held, taking no others");
      return null;
    });

    for (const partition of [...this.owned]) {
      // One GETEX per lease and round: it extends the lease and says who holds it. A lease lost to
      // expiry stays lost: a key gone is not recreated, and one that another worker took is given
      // up here. Extending that worker's lease once on the way is harmless (it renews its own
      // anyway; were it dead, its partition would be taken over one TTL later). A conditional
      // script did the same with three commands per lease (EVAL, GET, PEXPIRE), and leases were
      // a tenth of Settle's Redis commands at 1,000 payments/s (BENCHMARKS.md "History").
      const holder = await this.redis.getex(this.leaseKey(partition), "PX", ttlMs);
      if (holder !== workerId) {
        this.options.logger.warn({ partition }, "partition lease lost; stopping its consumer");
        this.owned.delete(partition);
        await this.options.onRelease(partition);
      }
    }
    if (heartbeatRefused) return;
    const fairShare = Math.ceil(partitions / Math.max(1, Number(live ?? 1)));
    while (this.owned.size > fairShare && !this.stopped) {
      const partition = Math.max(...this.owned);
      await this.release(partition);
    }
    if (this.owned.size >= fairShare) return;
    // Start at a random offset so that workers starting together do not all contend for partition 0.
    const offset = Math.floor(Math.random() * partitions);
    for (let i = 0; i < partitions && this.owned.size < fairShare && !this.stopped; i++) {
      const partition = (offset + i) % partitions;
      if (this.owned.has(partition)) continue;
      const ok = await this.redis.set(this.leaseKey(partition), workerId, "PX", ttlMs, "NX");
      if (ok !== "OK") continue;
      this.owned.add(partition);
      try {
        await this.options.onAcquire(partition);
      } catch (err) {
        this.options.logger.error({ err, partition }, "could not start a partition consumer");
        await this.release(partition);
      }
    }
  }

  private async release(partition: number): Promise<void> {
    this.owned.delete(partition);
    await this.options.onRelease(partition);
    await this.redis.eval(RELEASE, 1, this.leaseKey(partition), this.options.workerId).catch(() => undefined);
  }

  /** Stops every consumer (each finishes its job in hand) and gives the partitions up at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking.catch(() => undefined);
    await Promise.all([...this.owned].map((p) => this.release(p)));
    await this.redis.zrem(this.membersKey, this.options.workerId).catch(() => undefined);
  }
}
