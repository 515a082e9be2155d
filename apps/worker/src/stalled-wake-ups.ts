import type { Queue, Worker } from "bullmq";
import type { RedisClient } from "@settle/core";

/**
 * How often a partition's consumer runs BullMQ's stalled-job check when nothing suggests a stall:
 * a safety net only. Run every `JOB_LOCK_MS`/2 on each of 32 queues, that check was the largest
 * share of the Redis commands Settle sends whatever the load (BENCHMARKS.md "History").
 */
export const STALLED_SAFETY_NET_MS = 30_000;

export interface StalledRecoveryOptions {
  /** Pause between two checks: half the job lock, as BullMQ's periodic checks used to run. */
  everyMs: number;
  /** Checks at most; then the safety net carries on (a lock that outlives them is still held). */
  attempts: number;
  /** False once the consumer is stopped or replaced: the recovery ends with it. */
  isCurrent: () => boolean;
}

export type StalledRecovery = "recovered" | "gave-up" | "stopped";

/**
 * Brings wake-ups back that a consumer knows may have stalled: those found active when it took
 * its partition over (their worker died, or let go without finishing), and those whose lock
 * renewal was refused. BullMQ finds a stalled job in two passes of its check (one marks the active
 * jobs, a later one moves those whose lock has lapsed back to wait), so the check is run now and
 * every `everyMs` until each of `jobIds` has been moved back or is no longer active. Each check
 * is throttled by a key that the previous one set for the stalled interval; it is cleared first,
 * so each runs when asked.
 */
export async function recoverStalled(
  worker: Worker,
  queue: Queue,
  redis: RedisClient,
  jobIds: string[],
  options: StalledRecoveryOptions,
): Promise<StalledRecovery> {
  // Moved back to wait, a wake-up is soon active again under this consumer: what tells it was
  // recovered is the worker's "stalled" event, or a state other than active.
  const moved = new Set<string>();
  const onStalled = (jobId: string) => moved.add(jobId);
  worker.on("stalled", onStalled);
  try {
    for (let attempt = 0; attempt < options.attempts; attempt++) {
      if (!options.isCurrent()) return "stopped";
      await redis.del(queue.keys["stalled-check"]!);
      await worker.startStalledCheckTimer();
      await new Promise((resolve) => setTimeout(resolve, options.everyMs));
      if (!options.isCurrent()) return "stopped";
      const states = await Promise.all(jobIds.map((id) => (moved.has(id) ? Promise.resolve("moved") : queue.getJobState(id))));
      if (states.every((state) => state !== "active")) return "recovered";
    }
    return "gave-up";
  } finally {
    worker.off("stalled", onStalled);
  }
}
