import { Queue } from "bullmq";
import IORedis, { Cluster, type Redis } from "ioredis";
import { JOB_CATALOG, settleDeduplicationId, type SettleJob } from "./jobs";

const pad = (partition: number): string => String(partition).padStart(3, "0");

/** The BullMQ queue name of a partition, as Bull Board shows it. */
export function partitionQueueName(partition: number): string {
  return `partition-${pad(partition)}`;
}

/**
 * The key prefix of a partition's queue. The `{…}` hash tag keeps each queue's keys in one Redis
 * Cluster slot while different partitions spread over shards.
 */
export function partitionQueuePrefix(basePrefix: string, partition: number): string {
  return `${basePrefix}:{${pad(partition)}}`;
}

export type RedisRole = "producer" | "worker";

/** A connection to one Redis or to a Redis Cluster: every command Settle sends works on either. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: a URL, or the seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES), which then win. */
export interface RedisTarget {
  url: string;
  clusterNodes?: { host: string; port: number }[];
}

/**
 * An ioredis connection for BullMQ. A producer fails fast while Redis is down (the payment is
 * already durable in PostgreSQL; the sweeper enqueues it later); a worker waits and reconnects.
 * With cluster nodes, a Redis Cluster connection: every key Settle uses carries a hash tag or
 * stands alone, so each command and script stays within one slot.
 */
export function createRedis(target: string | RedisTarget, role: RedisRole): RedisClient {
  const { url, clusterNodes } = typeof target === "string" ? { url: target, clusterNodes: undefined } : target;
  const options = {
    maxRetriesPerRequest: role === "worker" ? null : 1,
    enableOfflineQueue: role === "worker",
    connectTimeout: 3000,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    lazyConnect: false,
  };
  const redis: RedisClient = clusterNodes?.length
    ? new Cluster(clusterNodes, {
        redisOptions: options,
        enableOfflineQueue: options.enableOfflineQueue,
        clusterRetryStrategy: options.retryStrategy,
      })
    : new IORedis(url, options);
  // Connection errors are reported by the readiness checks; unhandled they would kill the process.
  redis.on("error", () => undefined);
  return redis;
}

/**
 * Options of every producer-side queue (API, sweeper, dashboard). BullMQ sets a queue's connection
 * up once, with one INFO (its Redis version check), and a queue whose set-up failed stays failed
 * for the life of the process. On a Redis Cluster it treats a client in status "connect" (its slot
 * map still loading) as connected, and that INFO can then find no node: an API started just after a
 * master restarted had its webhook queue, and so the dashboard, answer "Cluster isn't ready" for
 * good. With the check skipped the set-up sends nothing, so a command fails only while Redis is
 * away. The workers' consumers keep the check: their connection holds commands until Redis is ready.
 */
export const PRODUCER_QUEUE_OPTIONS = { skipVersionCheck: true } as const;

/** The partition queues of one deployment, for producers (API, sweeper) and the dashboard. */
export class PartitionQueues {
  readonly queues: Queue[];

  constructor(
    readonly connection: RedisClient,
    readonly options: { prefix: string; partitions: number },
  ) {
    this.queues = Array.from(
      { length: options.partitions },
      (_, p) => new Queue(partitionQueueName(p), { ...PRODUCER_QUEUE_OPTIONS, connection, prefix: partitionQueuePrefix(options.prefix, p) }),
    );
    for (const queue of this.queues) queue.on("error", () => undefined);
  }

  queue(partition: number): Queue {
    const queue = this.queues[partition];
    if (!queue) throw new Error(`no partition ${partition} (PARTITIONS=${this.options.partitions})`);
    return queue;
  }

  /** Adds a wake-up for a partition, deduplicated per partition (see `settleDeduplicationId`). */
  async wake(partition: number, reason: SettleJob["reason"] = "accept"): Promise<void> {
    const data: SettleJob = { partition, reason };
    await this.queue(partition).add("settle", data, {
      ...JOB_CATALOG.settle.options,
      deduplication: { id: settleDeduplicationId(partition), keepLastIfActive: true },
    });
  }

  /**
   * Frees a partition's deduplication key when the job it names can no longer run (failed after
   * stalling, or gone with a Redis that lost data): such a key would absorb every later wake-up.
   * Returns `freed` then; `live` when the key names a wake-up that is still waiting or running
   * (an add now only schedules its follow-up); `none` otherwise.
   */
  async releaseStaleWakeUp(partition: number): Promise<"freed" | "live" | "none"> {
    const queue = this.queue(partition);
    const jobId = await queue.getDeduplicationJobId(settleDeduplicationId(partition));
    // A key naming no job at all is recovered by the next add itself.
    const job = jobId ? await queue.getJob(jobId) : undefined;
    if (!job) return "none";
    const state = await job.getState();
    if (state !== "failed" && state !== "completed" && state !== "unknown") return "live";
    // Conditional on the job id: a key that moved on to a newer wake-up in the meantime stays.
    return (await job.removeDeduplicationKey()) === true ? "freed" : "none";
  }

  /** One job at a time per partition across the whole cluster, enforced atomically by BullMQ in Redis. */
  async enforceGlobalConcurrency(partition?: number): Promise<void> {
    const targets = partition === undefined ? this.queues : [this.queue(partition)];
    await Promise.all(targets.map((q) => q.setGlobalConcurrency(1)));
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
  }
}
