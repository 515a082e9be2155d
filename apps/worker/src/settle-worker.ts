import { Worker, type Job } from "bullmq";
import type { RedisClient as Redis } from "@settle/core";
import {
  createLogger,
  createPool,
  createRedis,
  assertMigrated,
  ensurePartitionCount,
  PartitionQueues,
  PartitionWaker,
  partitionQueueName,
  partitionQueuePrefix,
  settleBatch,
  settleIsolatingFailure,
  isTransientDbError,
  SettleJob,
  uuidv7,
  type Logger,
  type Pool,
  type SettleResult,
} from "@settle/core";
import type { WorkerConfig } from "./config";
import { startOpsServer, type RunningOpsServer } from "./ops/ops-server";
import { checkEvictionPolicy } from "./ops/redis-policy";
import { WorkerMetrics } from "./ops/worker-metrics";
import { PartitionLeases } from "./partition-leases";
import { retryTransient } from "./retry-transient";
import { SettleCombiner } from "./settle-combiner";
import { recoverStalled, STALLED_SAFETY_NET_MS } from "./stalled-wake-ups";
import { Sweeper } from "./sweeper";
import { WebhookDelivery } from "./webhook-delivery";

export interface SettleWorkerHooks {
  onSettled?: (result: SettleResult, partition: number) => void;
}

/** The pause after a settle round that was not full, while wake-ups linger. */
const IDLE_POLL_MS = 10;

/** One worker process: consumes its fair share of partitions, settles payments, sweeps. */
export class SettleWorker {
  readonly id = uuidv7();
  readonly logger: Logger;
  readonly pool: Pool;
  private readonly producer: Redis;
  private readonly consumerConnection: Redis;
  private readonly queues: PartitionQueues;
  private readonly consumers = new Map<number, Worker>();
  /** Partitions whose consumer is looking for a stalled wake-up. */
  private readonly recovering = new Set<number>();
  private readonly leases: PartitionLeases;
  private readonly sweeper: Sweeper;
  private readonly webhooks: WebhookDelivery;
  readonly metrics: WorkerMetrics;
  private opsServer: RunningOpsServer | undefined;
  private stopping = false;
  private readonly waker: PartitionWaker;
  private readonly combiner: SettleCombiner;

  constructor(
    readonly config: WorkerConfig,
    private readonly hooks: SettleWorkerHooks = {},
    logger?: Logger,
  ) {
    this.logger = (logger ?? createLogger({ level: config.logLevel, name: "settle-worker", pretty: config.logPretty })).child({ worker: this.id });
    this.pool = createPool({ url: config.databaseUrl, max: config.dbPoolSize, applicationName: "settle-worker" });
    const redisTarget = { url: config.redisUrl, clusterNodes: config.redisClusterNodes };
    this.producer = createRedis(redisTarget, "producer");
    this.consumerConnection = createRedis(redisTarget, "worker");
    this.queues = new PartitionQueues(this.producer, { prefix: config.queuePrefix, partitions: config.partitions });
    this.waker = new PartitionWaker(this.queues, { logger: this.logger });
    this.leases = new PartitionLeases(this.consumerConnection, {
      prefix: config.queuePrefix,
      partitions: config.partitions,
      workerId: this.id,
      ttlMs: config.leaseTtlMs,
      onAcquire: (p) => this.startConsumer(p),
      onRelease: (p) => this.stopConsumer(p),
      logger: this.logger,
    });
    this.combiner = new SettleCombiner(
      (partitions) => this.settleRound(partitions),
      // A partition that never empties is handed to a follow-up wake-up now and then, so that
      // leases can move and the dashboard shows progress.
      {
        batchSize: config.batchSize,
        lingerMs: config.lingerMs,
        maxHoldMs: Math.max(2000, 4 * config.lingerMs),
        idlePollMs: IDLE_POLL_MS,
        // Counted and logged per round, not per wake-up: a wake-up lingers, its payments do not wait.
        onRound: (settled, seconds) => this.reportRound(settled, seconds),
      },
    );
    this.metrics = new WorkerMetrics({ pool: this.pool, ownedPartitions: () => this.leases.ownedPartitions.length });
    this.sweeper = new Sweeper(this.pool, this.consumerConnection, this.queues, this.waker, {
      prefix: config.queuePrefix,
      afterSeconds: config.sweepAfterSeconds,
      intervalMs: config.sweepIntervalMs,
      idempotencyTtlHours: config.idempotencyTtlHours,
      eventRetentionDays: config.eventRetentionDays,
      logger: this.logger,
      onReenqueue: (_partition, count) => this.metrics.sweeperReenqueued(count),
    });
    this.webhooks = new WebhookDelivery(this.pool, this.producer, this.consumerConnection, {
      prefix: config.queuePrefix,
      ...config.webhooks,
      logger: this.logger,
      onRecorded: (result) => this.metrics.webhookAttempts(result),
      onBacklog: (backlog) => this.metrics.webhookBacklog(backlog),
    });
  }

  get ownedPartitions(): number[] {
    return this.leases.ownedPartitions;
  }

  /** The health/metrics server's URL when WORKER_METRICS_PORT is set. */
  get opsUrl(): string | undefined {
    return this.opsServer?.url;
  }

  async start(): Promise<void> {
    await assertMigrated(this.pool);
    await ensurePartitionCount(this.pool, this.config.partitions);
    // Not awaited: a Redis that is down at start must not hold the worker (the check runs when it answers).
    void checkEvictionPolicy(this.consumerConnection, this.logger).then((policy) => this.metrics.redisEvictionPolicy(policy));
    if (this.config.metricsPort !== undefined) {
      this.opsServer = await startOpsServer({
        port: this.config.metricsPort,
        pool: this.pool,
        redis: this.producer,
        redisProbeKey: `${this.config.queuePrefix}:readyz:worker`,
        metrics: this.metrics,
        logger: this.logger,
      });
    }
    if (this.config.roles.settle) {
      this.leases.start();
      this.sweeper.start();
    }
    if (this.config.roles.webhooks) this.webhooks.start();
    this.logger.info({ partitions: this.config.partitions, batchSize: this.config.batchSize, roles: this.config.roles }, "worker started");
  }

  private async startConsumer(partition: number): Promise<void> {
    if (this.consumers.has(partition) || this.stopping) return;
    // Set again on every start: a flushed Redis forgets it, and it is what keeps one job at a time.
    await this.queues.enforceGlobalConcurrency(partition);
    // A wake-up still active before this consumer took anything was left by the partition's
    // previous owner (dead, or released before it finished): it may have stalled.
    const queue = this.queues.queue(partition);
    const leftActive = await queue.getRanges(["active"]);
    const worker = new Worker(partitionQueueName(partition), (job: Job) => this.process(partition, job), {
      connection: this.consumerConnection,
      prefix: partitionQueuePrefix(this.config.queuePrefix, partition),
      concurrency: 1,
      lockDuration: this.config.jobLockMs,
      // Stalls are looked for when one can have happened (below); the periodic check is a safety net.
      stalledInterval: Math.max(STALLED_SAFETY_NET_MS, this.config.jobLockMs),
      // A stalled wake-up (its worker died) is simply run again: it only says "settle partition p",
      // and one failed for stalling would keep the partition's deduplication key until the sweeper.
      maxStalledCount: 1000,
    });
    worker.on("error", (err) => this.logger.warn({ err, partition }, "partition consumer error"));
    worker.on("failed", (job, err) => this.logger.error({ err, partition, jobId: job?.id }, "settle job failed; the sweeper will retry its payments"));
    // Its lock lapsed while it ran (the process paused, Redis lost it): the job in hand has stalled.
    worker.on("lockRenewalFailed", (jobIds) => this.recoverStalled(partition, worker, jobIds, "lock renewal refused"));
    this.consumers.set(partition, worker);
    this.logger.debug({ partition }, "partition acquired");
    if (leftActive.length > 0) this.recoverStalled(partition, worker, leftActive, "taken over with a wake-up active");
  }

  /** Runs the stalled-job check until `jobIds` are no longer active (see `recoverStalled`); one run per partition at a time. */
  private recoverStalled(partition: number, worker: Worker, jobIds: string[], why: string): void {
    if (this.recovering.has(partition)) return;
    this.recovering.add(partition);
    const everyMs = Math.max(1000, Math.floor(this.config.jobLockMs / 2));
    this.logger.info({ partition, jobIds, why }, "looking for a stalled wake-up");
    void recoverStalled(worker, this.queues.queue(partition), this.producer, jobIds, {
      everyMs,
      // The lock lapses at most JOB_LOCK_MS after its last renewal; two checks after that find it.
      attempts: Math.ceil((2 * this.config.jobLockMs) / everyMs) + 2,
      isCurrent: () => !this.stopping && this.consumers.get(partition) === worker,
    })
      .then((outcome) => this.logger.info({ partition, jobIds, outcome }, "stalled wake-up check done"))
      .catch((err: unknown) => this.logger.warn({ err, partition }, "stalled wake-up check failed; the periodic check remains"))
      .finally(() => this.recovering.delete(partition));
  }

  private async stopConsumer(partition: number): Promise<void> {
    const worker = this.consumers.get(partition);
    if (!worker) return;
    this.consumers.delete(partition);
    // Its wake-up lets go at once (with a follow-up for the partition's next owner).
    this.combiner.release(partition);
    // close() waits for the job in hand. Bounded: after Redis came back empty, a BullMQ worker's
    // close has been seen to hang, and the lease rounds (which await this) must go on, or the
    // partition would stay without a consumer. The job in hand still runs to its end; the database
    // fences it against the partition's next consumer.
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      worker.close().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.config.jobLockMs))),
    ]).finally(() => clearTimeout(timer));
    if (!closed) this.logger.warn({ partition, waitedMs: this.config.jobLockMs }, "partition consumer did not close in time; released anyway");
    this.logger.debug({ partition }, "partition released");
  }

  private async process(partition: number, job: Job): Promise<{ settled: number }> {
    SettleJob.parse(job.data);
    if (this.stopping || !this.consumers.has(partition)) {
      // Given up while this wake-up was on its way: hand it on rather than hold the partition.
      await this.waker.wake(partition, "follow-up");
      return { settled: 0 };
    }
    let count = 0;
    for (;;) {
      const { settled, more } = await this.combiner.drain(partition);
      count += settled.payments.length + settled.operations.length;
      if (!more) break;
      // Added while this job is active, it becomes the partition's one follow-up wake-up. When
      // Redis refuses it (full, or gone) and the partition is still ours, this wake-up keeps
      // holding it rather than leave its work to the sweeper, which needs Redis too.
      if ((await this.waker.wake(partition, "follow-up")) || this.stopping || !this.consumers.has(partition)) break;
    }
    return { settled: count };
  }

  private retrying<T>(work: () => Promise<T>): Promise<T> {
    return retryTransient(work, {
      logger: this.logger,
      giveUpAfterMs: 60_000,
      isStopping: () => this.stopping,
      what: "settle",
      onRetry: (err) => this.metrics.transientRetry(err),
    });
  }

  /**
   * One settle round. A round of one partition that fails for a reason no retry cures would fail
   * again on every wake-up and stall the partition: its operations are then settled one by one,
   * and the one at fault is recorded as failed (`internal_error`), logged and counted.
   */
  private async settleRound(partitions: number[]): Promise<SettleResult> {
    try {
      return await this.retrying(() => settleBatch(this.pool, partitions, this.config.batchSize));
    } catch (error) {
      const [partition] = partitions;
      if (partitions.length !== 1 || partition === undefined || isTransientDbError(error) || this.stopping) throw error;
      return this.retrying(() =>
        settleIsolatingFailure(this.pool, partition, this.config.batchSize, (operation, cause) => {
          this.metrics.operationIsolated(operation.kind);
          this.logger.error(
            { err: cause, partition, operationId: operation.id, kind: operation.kind },
            "operation could not be settled; recorded as failed with internal_error",
          );
        }),
      );
    }
  }

  private reportRound(settled: SettleResult, seconds: number): void {
    this.metrics.recordSettled(settled, seconds);
    // Each line names the request that accepted its payment.
    for (const p of settled.payments) {
      this.logger.info(
        { partition: p.partition, paymentId: p.id, requestId: p.requestId ?? undefined, status: p.status, failureReason: p.failureReason ?? undefined },
        "payment settled",
      );
    }
    for (const d of settled.operations) {
      this.logger.info(
        {
          partition: d.partition,
          paymentId: d.paymentId,
          operationId: d.id,
          kind: d.kind,
          status: d.status,
          rejectionReason: d.rejectionReason ?? undefined,
          paymentStatus: d.paymentStatus,
          disputeStatus: d.disputeStatus,
        },
        "payment operation settled",
      );
    }
    for (const partition of new Set([...settled.payments, ...settled.operations].map((x) => x.partition))) {
      this.hooks.onSettled?.(
        { payments: settled.payments.filter((p) => p.partition === partition), operations: settled.operations.filter((d) => d.partition === partition) },
        partition,
      );
    }
  }

  /** Stops taking jobs, finishes the ones in hand, gives partitions up at once, closes pools. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.sweeper.stop();
    await this.webhooks.stop();
    await this.leases.stop();
    await Promise.all([...this.consumers.keys()].map((p) => this.stopConsumer(p)));
    await this.queues.close();
    await this.opsServer?.close();
    await Promise.all([this.producer.quit().catch(() => undefined), this.consumerConnection.quit().catch(() => undefined)]);
    await this.pool.end();
    this.logger.info("worker stopped");
  }
}
