import { Queue, Worker, type Job } from "bullmq";
import { createRedis } from "@settle/core";
import { clearRedisPrefix, TEST_REDIS_URL, uniquePrefix, waitFor } from "@settle/core/testing";
import { recoverStalled, STALLED_SAFETY_NET_MS } from "./stalled-wake-ups";

// Real BullMQ queues and workers on the machine's Redis: a wake-up left active by a worker that is
// gone, or whose lock lapsed under a live one, goes back to the queue within a few of the prompt
// checks, though the workers' own periodic check runs only every STALLED_SAFETY_NET_MS.
const LOCK_MS = 1000;
const prefix = uniquePrefix("stalled");
const redis = createRedis(TEST_REDIS_URL, "worker");
const open: (Worker | Queue)[] = [];
// BullMQ never closes a connection it was given: each consumer's own is quit here.
const connections: ReturnType<typeof createRedis>[] = [];

afterAll(async () => {
  await Promise.all(open.map((w) => (w instanceof Worker ? w.close(true) : w.close())));
  await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  await clearRedisPrefix(redis, prefix);
  await redis.quit();
});

/** A partition's queue of its own for each test. */
function partitionQueue(name: string): Queue {
  const queue = new Queue(name, { connection: redis, prefix });
  open.push(queue);
  return queue;
}

/** A consumer as a partition's owner runs it (the worker's settings but for the lock, shortened). */
function consumer(queue: Queue, onJob: (job: Job) => Promise<void>): Worker {
  const connection = createRedis(TEST_REDIS_URL, "worker");
  connections.push(connection);
  const worker = new Worker(queue.name, onJob, {
    connection,
    prefix,
    concurrency: 1,
    lockDuration: LOCK_MS,
    stalledInterval: STALLED_SAFETY_NET_MS,
    maxStalledCount: 1000,
  });
  worker.on("error", () => undefined);
  open.push(worker);
  return worker;
}

const options = (isCurrent = () => true) => ({ everyMs: LOCK_MS / 2, attempts: 8, isCurrent });

it("runs again a wake-up whose worker is gone, on the next owner's prompt checks", async () => {
  const queue = partitionQueue("taken-over");
  let release = () => {};
  const dead = consumer(queue, () => new Promise<void>((resolve) => (release = resolve)));
  const job = await queue.add("settle", { partition: 0 });
  await waitFor(async () => (await queue.getJobState(job.id!)) === "active", { what: "the first worker to take the wake-up" });
  // Killed: no lock renewal any more, the job stays active with a lock that lapses.
  await dead.close(true);
  expect(await queue.getJobState(job.id!)).toBe("active");

  const ran: string[] = [];
  const owner = consumer(queue, (j) => {
    ran.push(j.id!);
    return Promise.resolve();
  });
  const outcome = await recoverStalled(owner, queue, redis, [job.id!], options());
  expect(outcome).toBe("recovered");
  await waitFor(async () => (await queue.getJobState(job.id!)) === "completed", { what: "the new owner to run the wake-up again" });
  expect(ran).toEqual([job.id]);
  expect((await queue.getJob(job.id!))!.stalledCounter).toBe(1);
  release();
});

it("runs again a wake-up whose lock lapsed under its live worker", async () => {
  const queue = partitionQueue("lock-lapsed");
  let release = () => {};
  const runs: number[] = [];
  const worker = consumer(queue, () => {
    runs.push(Date.now());
    return runs.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
  });
  const lost = new Promise<string[]>((resolve) => worker.once("lockRenewalFailed", resolve));
  const job = await queue.add("settle", { partition: 1 });
  await waitFor(() => runs.length === 1, { what: "the worker to take the wake-up" });
  // Redis lost the lock (as after a restart from an older snapshot): the next renewal is refused.
  await redis.del(queue.toKey(`${job.id}:lock`));
  expect(await lost).toEqual([job.id]);
  expect(await recoverStalled(worker, queue, redis, [job.id!], options())).toBe("recovered");
  // Back in the queue while the first run still holds the worker; run again once it ends.
  expect(await queue.getJobState(job.id!)).toBe("waiting");
  release();
  await waitFor(() => runs.length === 2, { what: "the wake-up to run again" });
});

it("leaves alone a wake-up that is still locked, and stops with its consumer", async () => {
  const queue = partitionQueue("still-locked");
  let release = () => {};
  const worker = consumer(queue, () => new Promise<void>((resolve) => (release = resolve)));
  const job = await queue.add("settle", { partition: 2 });
  await waitFor(async () => (await queue.getJobState(job.id!)) === "active", { what: "the worker to take the wake-up" });
  // Its worker is alive and renews the lock: every check finds it locked, none moves it.
  expect(await recoverStalled(worker, queue, redis, [job.id!], { ...options(), attempts: 4 })).toBe("gave-up");
  expect(await queue.getJobState(job.id!)).toBe("active");
  expect(
    await recoverStalled(
      worker,
      queue,
      redis,
      [job.id!],
      options(() => false),
    ),
  ).toBe("stopped");
  release();
  await waitFor(async () => (await queue.getJobState(job.id!)) === "completed", { what: "the wake-up to complete" });
});
