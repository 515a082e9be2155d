import type { RedisClient as Redis } from "@settle/core";
import {
  findStalePartitions,
  purgeEvents,
  purgeIdempotencyKeys,
  queueExpiredAuthorizations,
  type Logger,
  type PartitionQueues,
  type PartitionWaker,
  type Pool,
} from "@settle/core";

export interface SweeperOptions {
  prefix: string;
  afterSeconds: number;
  intervalMs: number;
  logger: Logger;
  onReenqueue?: (partition: number, count: number) => void;
  /** Idempotency keys older than this are deleted: a purge pass once a minute, sooner while behind. */
  idempotencyTtlHours?: number;
  /** Events older than this are deleted (with their deliveries), on the purge schedule. */
  eventRetentionDays?: number;
}

const PURGE_EVERY_MS = 60_000;
// A pass stops after this long so the sweep's own work is never held up for more; one cut short
// goes on at the next sweep. Measured at 86,000–130,000 keys/s (bench/idempotency-purge.ts), a
// minute of 3,000 keyed accepts/s takes 1.4–2.1 s, and a backlog drains at 17,000–25,000 keys/s.
const PURGE_BUDGET_MS = 1_000;

/**
 * The worker's housekeeping, on one schedule: every `intervalMs` one worker of the deployment
 * (a Redis `SET NX` turn) sweeps, and a sweep
 * - wakes partitions whose work stays pending past `afterSeconds`: the wake-up after the accept
 *   may have failed, or Redis may have lost it. PostgreSQL is the source of truth, so a spare
 *   wake-up is harmless (the settle transaction skips what is no longer pending). A deduplication
 *   key left behind by a wake-up that can no longer run is freed first, or it would absorb this one.
 * - purges expired idempotency keys, once a minute (sooner while a pass was cut short).
 * The queries are @settle/core's housekeeping module; the when and how often are here.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private lastPurge = 0;
  private purgeBehind = false;

  constructor(
    private readonly pool: Pool,
    private readonly redis: Redis,
    private readonly queues: PartitionQueues,
    private readonly waker: PartitionWaker,
    private readonly options: SweeperOptions,
  ) {}

  start(): void {
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.running = this.sweep()
        .then(() => undefined)
        .catch((err) => this.options.logger.warn({ err }, "sweep failed"))
        .finally(() => (busy = false));
    }, this.options.intervalMs);
  }

  /** One sweep; only one worker of the deployment sweeps per interval. Returns the partitions woken. */
  async sweep(): Promise<number> {
    const turn = await this.redis.set(`${this.options.prefix}:sweeper`, "1", "PX", Math.max(100, this.options.intervalMs - 50), "NX");
    if (turn !== "OK") return 0;
    await this.expireAuthorizations();
    const found = await this.wakeStalePartitions();
    if (this.options.idempotencyTtlHours && (this.purgeBehind || Date.now() - this.lastPurge > PURGE_EVERY_MS)) {
      await this.purgeExpiredKeys(this.options.idempotencyTtlHours);
    }
    return found;
  }

  /** Wakes each partition holding stale pending work; returns how many were found. */
  private async wakeStalePartitions(): Promise<number> {
    const stale = await findStalePartitions(this.pool, this.options.afterSeconds);
    for (const { partition, count } of stale) {
      const wakeUp = await this.queues.releaseStaleWakeUp(partition).catch((err) => {
        this.options.logger.warn({ err, partition }, "could not inspect the partition's wake-up");
        return "none" as const;
      });
      if (wakeUp === "freed") this.options.logger.warn({ partition }, "freed the deduplication key of a wake-up that can no longer run");
      if (!(await this.waker.wake(partition, "sweep"))) continue;
      // Behind a wake-up that is waiting or running (one whose worker died runs again once its lock
      // expires), the add only schedules its follow-up: not a re-enqueue, and not news every sweep.
      if (wakeUp === "live") {
        this.options.logger.debug({ partition, pending: count }, "stale pending payments behind a live wake-up; its follow-up is scheduled");
        continue;
      }
      this.options.onReenqueue?.(partition, count);
      this.options.logger.info({ partition, pending: count }, "sweeper woke a partition with stale pending payments");
    }
    return stale.length;
  }

  /**
   * Queues the release of authorizations past their expires_at (docs/API.md "Authorize, then
   * capture or void"): at most one sweep interval late. A failed wake-up is left to the next sweep's
   * stale-partition pass.
   */
  private async expireAuthorizations(): Promise<void> {
    const { expired, partitions } = await queueExpiredAuthorizations(this.pool);
    if (expired === 0) return;
    this.options.logger.info({ expired, partitions: partitions.length }, "queued the expiry of authorizations past their expires_at");
    for (const partition of partitions) await this.waker.wake(partition, "sweep");
  }

  /** One purge pass, bounded by `PURGE_BUDGET_MS`. */
  private async purgeExpiredKeys(ttlHours: number): Promise<void> {
    this.lastPurge = Date.now();
    const { purged, done } = await purgeIdempotencyKeys(this.pool, ttlHours, { budgetMs: PURGE_BUDGET_MS });
    this.purgeBehind = !done;
    if (purged) this.options.logger.info({ purged, behind: !done }, "purged expired idempotency keys");
    if (this.options.eventRetentionDays) {
      const events = await purgeEvents(this.pool, this.options.eventRetentionDays);
      if (events) this.options.logger.info({ purged: events }, "purged events past their retention");
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running.catch(() => undefined);
  }
}
