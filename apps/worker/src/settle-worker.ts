import { Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import {
  createLogger,
  createPool,
  createRedis,
  ensurePartitionCount,
  PartitionQueues,
  partitionQueueName,
  partitionQueuePrefix,
  settlePartition,
  SettleJob,
  uuidv7,
  type Logger,
  type Pool,
  type SettleResult,
} from "@settle/core";
import type { WorkerConfig } from "./config";
import { PartitionLeases } from "./partition-leases";
import { retryTransient } from "./retry-transient";
import { Sweeper } from "./sweeper";

export interface SettleWorkerHooks {
  onSettled?: (result: SettleResult, partition: number) => void;
}

/** One worker process: consumes its fair share of partitions, settles payments, sweeps. */
export class SettleWorker {
  readonly id = uuidv7();
  readonly logger: Logger;
  readonly pool: Pool;
  private readonly producer: Redis;
  private readonly consumerConnection: Redis;
  private readonly queues: PartitionQueues;
  private readonly consumers = new Map<number, Worker>();
  private readonly leases: PartitionLeases;
  private readonly sweeper: Sweeper;
  private stopping = false;

  constructor(
    readonly config: WorkerConfig,
    private readonly hooks: SettleWorkerHooks = {},
    logger?: Logger,
  ) {
    this.logger = (logger ?? createLogger({ level: config.logLevel, name: "settle-worker", pretty: config.logPretty })).child({ worker: this.id });
    this.pool = createPool({ url: config.databaseUrl, max: config.dbPoolSize, applicationName: "settle-worker" });
    this.producer = createRedis(config.redisUrl, "producer");
    this.consumerConnection = createRedis(config.redisUrl, "worker");
    this.queues = new PartitionQueues(this.producer, { prefix: config.queuePrefix, partitions: config.partitions });
    this.leases = new PartitionLeases(this.consumerConnection, {
      prefix: config.queuePrefix,
      partitions: config.partitions,
      workerId: this.id,
      ttlMs: config.leaseTtlMs,
      onAcquire: (p) => this.startConsumer(p),
      onRelease: (p) => this.stopConsumer(p),
      logger: this.logger,
    });
    this.sweeper = new Sweeper(this.pool, this.consumerConnection, this.queues, {
      prefix: config.queuePrefix,
      afterSeconds: config.sweepAfterSeconds,
      intervalMs: config.sweepIntervalMs,
      logger: this.logger,
    });
  }

  get ownedPartitions(): number[] {
    return this.leases.ownedPartitions;
  }

  async start(): Promise<void> {
    await ensurePartitionCount(this.pool, this.config.partitions);
    this.leases.start();
    this.sweeper.start();
    this.logger.info({ partitions: this.config.partitions, batchSize: this.config.batchSize }, "worker started");
  }

  private async startConsumer(partition: number): Promise<void> {
    if (this.consumers.has(partition) || this.stopping) return;
    // Set again on every start: a flushed Redis forgets it, and it is what keeps one job at a time.
    await this.queues.enforceGlobalConcurrency(partition);
    const worker = new Worker(partitionQueueName(partition), (job: Job) => this.process(partition, job), {
      connection: this.consumerConnection,
      prefix: partitionQueuePrefix(this.config.queuePrefix, partition),
      concurrency: 1,
      lockDuration: this.config.jobLockMs,
      stalledInterval: Math.max(1000, Math.floor(this.config.jobLockMs / 2)),
      maxStalledCount: 1,
    });
    worker.on("error", (err) => this.logger.warn({ err, partition }, "partition consumer error"));
    worker.on("failed", (job, err) => this.logger.error({ err, partition, jobId: job?.id }, "settle job failed; the sweeper will retry its payments"));
    this.consumers.set(partition, worker);
    this.logger.debug({ partition }, "partition acquired");
  }

  private async stopConsumer(partition: number): Promise<void> {
    const worker = this.consumers.get(partition);
    if (!worker) return;
    this.consumers.delete(partition);
    await worker.close();
    this.logger.debug({ partition }, "partition released");
  }

  private async process(partition: number, job: Job): Promise<{ settled: number }> {
    const data = SettleJob.parse(job.data);
    const log = this.logger.child({ partition, jobId: job.id, requestId: data.request_id });
    const settled = await retryTransient(
      () => settlePartition(this.pool, partition, { batchSize: this.config.batchSize, throughOrderSeq: BigInt(data.through_order_seq) }),
      { logger: log, giveUpAfterMs: 60_000, isStopping: () => this.stopping, what: "settle" },
    );
    for (const p of settled.payments) log.info({ paymentId: p.id, status: p.status, failureReason: p.failureReason ?? undefined }, "payment settled");
    for (const d of settled.disputes) log.info({ paymentId: d.paymentId, operationId: d.id, kind: d.kind, status: d.status, disputeStatus: d.disputeStatus }, "dispute operation settled");
    this.hooks.onSettled?.(settled, partition);
    return { settled: settled.payments.length + settled.disputes.length };
  }

  /** Stops taking jobs, finishes the ones in hand, gives partitions up at once, closes pools. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.sweeper.stop();
    await this.leases.stop();
    await Promise.all([...this.consumers.keys()].map((p) => this.stopConsumer(p)));
    await this.queues.close();
    await Promise.all([this.producer.quit().catch(() => undefined), this.consumerConnection.quit().catch(() => undefined)]);
    await this.pool.end();
    this.logger.info("worker stopped");
  }
}
