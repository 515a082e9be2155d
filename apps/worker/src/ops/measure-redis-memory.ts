// Measures Redis memory per settle job, for the README's sizing figure:
//   pnpm -C apps/worker exec tsx --conditions=source src/ops/measure-redis-memory.ts [jobs]
// Enqueues `jobs` settle jobs (the job catalog's options and a realistic payload) on one partition
// queue under a throwaway prefix, sums MEMORY USAGE over that prefix's keys while they wait and
// after a no-op worker has completed them (retention trims what is kept), then deletes the prefix.
// Summing MEMORY USAGE of our own keys, not INFO used_memory, keeps other users of Redis out of it.
import { randomBytes } from "node:crypto";
import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import { createRedis, JOB_CATALOG, PartitionQueues, partitionQueueName, partitionQueuePrefix, uuidv7 } from "@settle/core";

async function prefixUsage(redis: Redis, prefix: string): Promise<{ keys: number; bytes: number; byKind: Record<string, number> }> {
  let cursor = "0";
  let keys = 0;
  let bytes = 0;
  const byKind: Record<string, number> = {};
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    for (const key of batch) {
      const size = Number((await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0")) ?? 0);
      keys++;
      bytes += size;
      // `<prefix>:{000}:partition-000:<id or set name>`: job hashes by their id, the rest by name.
      const tail = key.split(":").pop() ?? "";
      const kind = /^[0-9a-f-]{36}$/.test(tail) ? "job hashes" : tail;
      byKind[kind] = (byKind[kind] ?? 0) + size;
    }
  } while (cursor !== "0");
  return { keys, bytes, byKind };
}

async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (batch.length) await redis.del(...batch);
  } while (cursor !== "0");
}

async function main(): Promise<void> {
  const jobs = Number(process.argv[2] ?? 20_000);
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `measure-${randomBytes(4).toString("hex")}`;
  const producer = createRedis(redisUrl, "worker");
  const queues = new PartitionQueues(producer, { prefix, partitions: 1 });
  try {
    const empty = await prefixUsage(producer, prefix);
    for (let i = 0; i < jobs; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, jobs - i) }, (_, k) => {
          const paymentId = uuidv7();
          return queues.enqueueSettle({ partition: 0, through_order_seq: String(1_000_000_000 + i + k), payment_id: paymentId, request_id: uuidv7() }, paymentId);
        }),
      );
    }
    const waiting = await prefixUsage(producer, prefix);

    const consumer = createRedis(redisUrl, "worker");
    let done = 0;
    const worker = new Worker(partitionQueueName(0), async () => ({ settled: 1 }), { connection: consumer, prefix: partitionQueuePrefix(prefix, 0), concurrency: 50 });
    await new Promise<void>((resolve) => worker.on("completed", () => ++done === jobs && resolve()));
    await worker.close();
    await consumer.quit();
    const completed = await prefixUsage(producer, prefix);

    // Failed jobs are kept longer and carry a stack trace: measure them too, on a second queue.
    const failing = Math.min(jobs, 5000);
    const failQueues = new PartitionQueues(producer, { prefix: `${prefix}-failed`, partitions: 1 });
    for (let i = 0; i < failing; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, failing - i) }, () => {
          const paymentId = uuidv7();
          return failQueues.enqueueSettle({ partition: 0, through_order_seq: "1", payment_id: paymentId, request_id: uuidv7() }, paymentId);
        }),
      );
    }
    const failConsumer = createRedis(redisUrl, "worker");
    let failed = 0;
    const failWorker = new Worker(
      partitionQueueName(0),
      async () => {
        throw new Error("settle: Connection terminated unexpectedly");
      },
      { connection: failConsumer, prefix: partitionQueuePrefix(`${prefix}-failed`, 0), concurrency: 50 },
    );
    await new Promise<void>((resolve) => failWorker.on("failed", () => ++failed === failing && resolve()));
    await failWorker.close();
    await failConsumer.quit();
    await failQueues.close();
    const failedUsage = await prefixUsage(producer, `${prefix}-failed`);
    await deletePrefix(producer, `${prefix}-failed`);
    const perFailed = (failedUsage.byKind["job hashes"] ?? 0) / failing;
    const keptFailed = JOB_CATALOG.settle.options.removeOnFail.count;

    const perWaiting = (waiting.bytes - empty.bytes) / jobs;
    const retained = JOB_CATALOG.settle.options.removeOnComplete.count;
    const mb = (b: number) => String(Math.round(b / 104_857.6) / 10);
    process.stdout.write(
      [
        `jobs enqueued: ${jobs} on one partition queue (prefix ${prefix})`,
        `while waiting: ${waiting.keys} keys, ${mb(waiting.bytes)} MiB → ${Math.round(perWaiting)} bytes per waiting job`,
        `  by kind: ${Object.entries(waiting.byKind).map(([k, v]) => `${k} ${mb(v)} MiB`).join(", ")}`,
        `after completion (removeOnComplete count ${retained}): ${completed.keys} keys, ${mb(completed.bytes)} MiB per partition queue`,
        `  by kind: ${Object.entries(completed.byKind).map(([k, v]) => `${k} ${mb(v)} MiB`).join(", ")}`,
        `a backlog of 1,000,000 waiting payments: ~${mb(perWaiting * 1_000_000)} MiB`,
        `steady state, 32 partitions, any volume: ~${mb(completed.bytes * 32)} MiB`,
        `failed jobs: ${Math.round(perFailed)} bytes each; kept at most ${keptFailed} per partition for 7 days → worst case ~${mb(perFailed * keptFailed * 32)} MiB over 32 partitions`,
      ].join("\n") + "\n",
    );
  } finally {
    await queues.close();
    await deletePrefix(producer, prefix);
    await producer.quit();
  }
}

main().catch((err) => {
  process.stderr.write(`measure-redis-memory: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
