import { z } from "zod";
import type { JobsOptions } from "bullmq";

/**
 * The job catalog: every job name with its payload schema and its delivery policy.
 *
 * `settle` asks a partition's consumer to settle that partition's pending payments in acceptance
 * order, through `through_order_seq` at least. It never retries through BullMQ (`attempts: 1`):
 * a BullMQ retry moves the job behind younger ones and would break per-account order; transient
 * faults are retried inside the processor, and the sweeper re-enqueues whatever stays pending.
 */
export const SettleJob = z.object({
  partition: z.number().int().min(0),
  through_order_seq: z.string().regex(/^\d+$/),
  payment_id: z.string().optional(),
  request_id: z.string().optional(),
});
export type SettleJob = z.infer<typeof SettleJob>;

export const JOB_CATALOG = {
  settle: {
    schema: SettleJob,
    options: {
      attempts: 1,
      // Bounded Redis memory: finished jobs are only kept for the dashboard, briefly.
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
    } satisfies JobsOptions,
  },
} as const;

export type JobName = keyof typeof JOB_CATALOG;
