import { z } from "zod";
import type { JobsOptions } from "bullmq";

/**
 * The job catalog: every job name with its payload schema and its delivery policy.
 *
 * `settle` is a wake-up: "settle what is pending in partition p". PostgreSQL says what is pending
 * and in which order, so the job carries no payment; a lost or repeated wake-up can only delay
 * work (until the sweeper), never lose or reorder it. It never retries through BullMQ
 * (`attempts: 1`): transient faults are retried inside the processor, and the sweeper wakes
 * whatever stays pending.
 */
export const SettleJob = z.object({
  partition: z.number().int().min(0),
  /** Why it was added, for the dashboard and logs. */
  reason: z.enum(["accept", "follow-up", "sweep"]).optional(),
});
export type SettleJob = z.infer<typeof SettleJob>;

export const JOB_CATALOG = {
  settle: {
    schema: SettleJob,
    options: {
      attempts: 1,
      // Bounded Redis memory: finished wake-ups are only kept for the dashboard, briefly.
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
    } satisfies JobsOptions,
  },
} as const;

export type JobName = keyof typeof JOB_CATALOG;

/**
 * The deduplication id of a partition's wake-ups. With `keepLastIfActive`, a partition has at most
 * one active and one waiting wake-up: an add while one waits is absorbed by it (it has not scanned
 * yet), and an add while one is active schedules exactly one follow-up, which closes the race
 * between the active job's last scan and a payment committed just after it.
 */
export function settleDeduplicationId(partition: number): string {
  return `settle-${partition}`;
}
