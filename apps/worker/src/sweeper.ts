import type { Redis } from "ioredis";
import { enqueueSettle, findStalePartitions, purgeIdempotencyKeys, type Logger, type PartitionQueues, type Pool } from "@settle/core";

export interface SweeperOptions {
  prefix: string;
  afterSeconds: number;
  intervalMs: number;
  logger: Logger;
  onReenqueue?: (partition: number, count: number) => void;
  /** Idempotency keys older than this are deleted, at most once a minute. */
  idempotencyTtlHours?: number;
}

const PURGE_EVERY_MS = 60_000;

/**
 * Re-enqueues partitions whose payments stay pending past `afterSeconds`: the enqueue after the
 * accept may have failed, or Redis may have lost the job. PostgreSQL is the source of truth, so a
 * spare kick is harmless (the settle transaction skips what is no longer pending).
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private lastPurge = 0;

  constructor(
    private readonly pool: Pool,
    private readonly redis: Redis,
    private readonly queues: PartitionQueues,
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

  /** One sweep; only one worker of the deployment sweeps per interval. Returns partitions kicked. */
  async sweep(): Promise<number> {
    const turn = await this.redis.set(`${this.options.prefix}:sweeper`, "1", "PX", Math.max(100, this.options.intervalMs - 50), "NX");
    if (turn !== "OK") return 0;
    const stale = await findStalePartitions(this.pool, this.options.afterSeconds);
    for (const { partition, throughOrderSeq, count } of stale) {
      const queued = await enqueueSettle(
        { queues: this.queues, logger: this.options.logger },
        { partition, through_order_seq: throughOrderSeq.toString() },
        `sweep-${partition}-${throughOrderSeq}-${Date.now()}`,
      );
      if (queued) {
        this.options.onReenqueue?.(partition, count);
        this.options.logger.info({ partition, pending: count }, "sweeper re-enqueued a partition with stale pending payments");
      }
    }
    if (this.options.idempotencyTtlHours && Date.now() - this.lastPurge > PURGE_EVERY_MS) {
      this.lastPurge = Date.now();
      const purged = await purgeIdempotencyKeys(this.pool, this.options.idempotencyTtlHours);
      if (purged) this.options.logger.info({ purged }, "purged expired idempotency keys");
    }
    return stale.length;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running.catch(() => undefined);
  }
}
