import { withTimeout, type PartitionQueues } from "@settle/core";

export const QUEUE_STATES = ["waiting", "active", "delayed", "failed"] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/**
 * Job counts of every partition queue, read on scrape and cached briefly: several scrapers (or a
 * dashboard refresh) within `maxAgeMs` share one round of Redis calls, and no request pays for it.
 */
export class QueueDepthSampler {
  private last: { at: number; counts: Record<QueueState, number>[] } | undefined;
  private inFlight: Promise<Record<QueueState, number>[]> | undefined;

  constructor(
    private readonly queues: PartitionQueues,
    private readonly maxAgeMs = 2000,
    private readonly timeoutMs = 1000,
  ) {}

  /** Counts per partition (index = partition); throws when Redis does not answer in time. */
  async sample(): Promise<Record<QueueState, number>[]> {
    if (this.last && Date.now() - this.last.at < this.maxAgeMs) return this.last.counts;
    // BullMQ waits for a connection that is down instead of failing: bound it, or a scrape hangs.
    this.inFlight ??= withTimeout(
      Promise.all(
        this.queues.queues.map(async (queue) => {
          const counts = await queue.getJobCounts(...QUEUE_STATES);
          return Object.fromEntries(QUEUE_STATES.map((s) => [s, Number(counts[s] ?? 0)])) as Record<QueueState, number>;
        }),
      ),
      this.timeoutMs,
      "reading queue depth",
    )
      .then((counts) => {
        this.last = { at: Date.now(), counts };
        return counts;
      })
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }
}
