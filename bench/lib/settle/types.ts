// What a Settle run reports (result.json's `runs[].settle`).
import type { InvariantResult } from "../database";
import type { LoadResult } from "../load";
import type { RunSpec } from "../options";
import type { RedisCommandStats } from "../redis-stats";
import type { Percentiles } from "../stats";

export interface CpuShare {
  process: string;
  cpuS: number;
  msPerPayment: number;
}

export interface SettleRunResult {
  system: "settle";
  spec: RunSpec;
  /** Worker processes of this run. */
  workers: number;
  /** Payments per request (uniform-batch); absent for single-payment scenarios. */
  batchItems?: number;
  broken: boolean;
  disputes: boolean;
  /** mixed: what the API offered beyond payments, each used by the load (disputes, refunds, authorizations, overdrafts). */
  features?: string[];
  /** Why the naive and careful servers did not run this scenario (mixed: they have none of its operations on payments). */
  note?: string;
  /** pgbench's transfer script, run just before this run (same clients), when measured. */
  adjacentTransferTps?: number;
  load: Omit<LoadResult, "perSecond">;
  /** Requests offered (open loop: scheduled by the clock, sent or not) and accepted (202): payments, and in mixed operations on payments too. */
  offered: number;
  accepted: number;
  acceptedPerS: number;
  settled: number;
  settledPerS: number;
  /** Payments settled per second while the load ran (steady state, excluding the drain). */
  settledPerSDuringLoad: number;
  drainS: number;
  acceptLatency: Percentiles;
  settleLatency: Percentiles;
  outcomes: Record<string, number>;
  failures: Record<string, number>;
  invariants: InvariantResult[];
  series: { second: number; accepted: number; settled: number; acceptP50: number; acceptP99: number; settleP50: number; settleP99: number }[];
  memory: { process: string; rssStartMiB: number; rssEndMiB: number; rssMaxMiB: number }[];
  /** RSS (MiB) of each process, one sample per second from the load's start. */
  memorySeries: Record<string, number[]>;
  /** Keys under the run's queue prefix once drained (BullMQ keeps a bounded tail of finished jobs). */
  redisKeys: number;
  profile: SettleProfile;
  /** With --webhooks: the events written, the distinct ones the receiver got, and when. */
  webhooks?: WebhookFigures;
}

export interface WebhookFigures {
  events: number;
  delivered: number;
  /** Deliveries received, repeats included (at least once). */
  deliveries: number;
  /** From an event's creation to its first delivery, ms. */
  lag: Percentiles;
  /** Seconds after the drain until every event had been delivered (or the wait gave up). */
  caughtUpAfterDrainS: number;
}

export interface SettleProfile {
  cpu: CpuShare[];
  /** Settle's CPU ms per settled payment: API + workers + their PostgreSQL backends + Redis. */
  settleCpuMsPerPayment: { api: number; workers: number; postgres: number; redis: number; total: number };
  /** Redis commands in the window from the load's start to the drain's end. */
  redis?: RedisCommandStats;
  pg: {
    commits: number;
    rollbacks: number;
    commitsPerPayment: number;
    tuplesInsertedPerPayment: number;
    tuplesUpdatedPerPayment: number;
    /** Write-ahead log per payment (the server's, measured over the run); absent in runs from before it was measured. */
    walBytesPerPayment?: number;
  };
  jobs: { sampled: number; payingJobs: number; paymentsPerPayingJob: number; emptyJobs: number; queueWait: Percentiles; processing: Percentiles };
}
