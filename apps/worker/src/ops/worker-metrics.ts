import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerPoolGauge, type Pool, type SettledPayment } from "@settle/core";

// Seconds from the 202 to the commit: milliseconds when the queue is short, up to the sweeper's
// timeout (30 s by default) when a job was lost and re-enqueued.
const ACCEPT_TO_SETTLE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const SETTLE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** SQLSTATE → the reason label of a transient retry; everything else is a lost connection. */
const RETRY_REASONS: Record<string, string> = {
  "40P01": "deadlock",
  "40001": "serialization_failure",
  "55P03": "lock_not_available",
  "57014": "statement_timeout",
};

export function retryReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && RETRY_REASONS[code] ? RETRY_REASONS[code] : "connection";
}

export interface WorkerMetricsSource {
  pool: Pool;
  /** How many partitions this worker holds the lease of right now. */
  ownedPartitions: () => number;
}

/** A worker process's Prometheus metrics, in a registry of its own (tests run several workers per process). */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly completed: Counter<"type">;
  private readonly failed: Counter<"type" | "reason">;
  private readonly disputeOps: Counter<"kind" | "status">;
  private readonly acceptToSettle: Histogram<"type" | "status">;
  private readonly settleDuration: Histogram;
  private readonly reenqueues: Counter;
  private readonly isolated: Counter<"kind">;
  private readonly reenqueuedPayments: Counter;
  private readonly retries: Counter<"reason">;
  private readonly redisPolicy: Gauge<"policy">;
  private readonly webhookDeliveries: Counter<"outcome">;
  private readonly webhookRetrying: Gauge;
  private readonly webhookOldest: Gauge;

  constructor(source: WorkerMetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.completed = new Counter({ name: "settle_payments_completed_total", help: "Payments settled as completed, by type", labelNames: ["type"], registers });
    this.failed = new Counter({
      name: "settle_payments_failed_total",
      help: "Payments settled as failed, by type and failure_reason",
      labelNames: ["type", "reason"],
      registers,
    });
    this.disputeOps = new Counter({
      name: "settle_dispute_operations_total",
      help: "Operations on payments settled (dispute, resolve, chargeback, capture, void, expire), by kind and outcome",
      labelNames: ["kind", "status"],
      registers,
    });
    this.acceptToSettle = new Histogram({
      name: "settle_payment_accept_to_settle_seconds",
      help: "From the payment's acceptance (created_at) to its settlement (processed_at)",
      labelNames: ["type", "status"],
      buckets: ACCEPT_TO_SETTLE_BUCKETS,
      registers,
    });
    this.settleDuration = new Histogram({
      name: "settle_round_duration_seconds",
      help: "One settle round that settled something: the transaction settling the held partitions' pending operations together, retries included",
      buckets: SETTLE_BUCKETS,
      registers,
    });
    this.isolated = new Counter({
      name: "settle_operations_isolated_total",
      help: "Operations that could not be settled (a repeatable error) and were recorded as failed with internal_error, by kind",
      labelNames: ["kind"],
      registers,
    });
    this.reenqueues = new Counter({
      name: "settle_sweeper_reenqueues_total",
      help: "Partitions the sweeper enqueued again because payments stayed pending",
      registers,
    });
    this.reenqueuedPayments = new Counter({
      name: "settle_sweeper_stale_payments_total",
      help: "Stale pending payments found by the sweeper when it re-enqueued their partition",
      registers,
    });
    this.retries = new Counter({
      name: "settle_db_transient_retries_total",
      help: "Settle transactions retried after a transient database error (deadlock, lock wait, lost connection)",
      labelNames: ["reason"],
      registers,
    });
    this.redisPolicy = new Gauge({
      name: "settle_redis_maxmemory_policy",
      help: "1 for Redis's maxmemory-policy as seen at start (unknown when CONFIG is disabled); anything but noeviction can lose jobs",
      labelNames: ["policy"],
      registers,
    });
    new Gauge({
      name: "settle_worker_partitions_owned",
      help: "Partitions whose lease this worker holds",
      registers,
      collect() {
        this.set(source.ownedPartitions());
      },
    });
    this.webhookDeliveries = new Counter({
      name: "settle_webhook_attempts_total",
      help: "Webhook delivery attempts by outcome: delivered, retrying (failed, tried again later), failed (given up)",
      labelNames: ["outcome"],
      registers,
    });
    this.webhookRetrying = new Gauge({
      name: "settle_webhook_retry_backlog",
      help: "Webhook deliveries that failed at least once and wait for their next attempt (deployment-wide, as this worker last saw it)",
      registers,
    });
    this.webhookOldest = new Gauge({
      name: "settle_webhook_oldest_undelivered_seconds",
      help: "Age of the oldest webhook delivery not yet delivered nor given up (deployment-wide, as this worker last saw it)",
      registers,
    });
    registerPoolGauge(source.pool, this.registry);
  }

  webhookAttempts(result: { delivered: number; retrying: number; failed: number }): void {
    for (const outcome of ["delivered", "retrying", "failed"] as const) if (result[outcome]) this.webhookDeliveries.inc({ outcome }, result[outcome]);
  }

  webhookBacklog(backlog: { retrying: number; oldestUndeliveredSeconds: number }): void {
    this.webhookRetrying.set(backlog.retrying);
    this.webhookOldest.set(backlog.oldestUndeliveredSeconds);
  }

  /** Counts one settle round's results and its duration. */
  recordSettled(result: { payments: SettledPayment[]; operations?: { kind: string; status: string }[] }, seconds: number): void {
    this.settleDuration.observe(seconds);
    for (const p of result.payments) {
      // An authorization's hold is neither: its capture, void or expiry counts as an operation.
      if (p.status === "completed") this.completed.inc({ type: p.type });
      else if (p.status === "failed") this.failed.inc({ type: p.type, reason: p.failureReason ?? "unknown" });
      const waited = (p.processedAt.getTime() - p.createdAt.getTime()) / 1000;
      this.acceptToSettle.observe({ type: p.type, status: p.status }, Math.max(0, waited));
    }
    for (const d of result.operations ?? []) this.disputeOps.inc({ kind: d.kind, status: d.status });
  }

  sweeperReenqueued(stalePayments: number): void {
    this.reenqueues.inc();
    this.reenqueuedPayments.inc(stalePayments);
  }

  operationIsolated(kind: "payment" | "operation"): void {
    this.isolated.inc({ kind });
  }

  transientRetry(error: unknown): void {
    this.retries.inc({ reason: retryReason(error) });
  }

  redisEvictionPolicy(policy: string | undefined): void {
    this.redisPolicy.reset();
    this.redisPolicy.set({ policy: policy ?? "unknown" }, 1);
  }
}
