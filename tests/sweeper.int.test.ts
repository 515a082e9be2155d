// Payments whose enqueue failed (the API's Redis is unreachable) are still accepted — they are
// durable in PostgreSQL — and the sweeper settles them later, in acceptance order.
import { createLogger, createRedis, partitionFor, PartitionQueues, PartitionWaker, verifyLedger } from "@settle/core";
import { TEST_REDIS_URL } from "@settle/core/testing";
import { Sweeper } from "../apps/worker/src/sweeper";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, settled, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("sweeper", {
    workers: 2,
    env: { SWEEP_AFTER_SECONDS: "1", SWEEP_INTERVAL_MS: "300" },
    apiEnv: { REDIS_URL: "redis://127.0.0.1:1" },
  });
  api = client(system.api.url);
});
afterAll(() => system.stop());

it("accepts with Redis unreachable, then the sweeper settles every payment in acceptance order", async () => {
  const [payer, payee] = [(await api.post("/api/v1/accounts", {})).body.id, (await api.post("/api/v1/accounts", {})).body.id];
  const deposit = await api.post("/api/v1/deposits", { account_id: payer, amount: "10.00" });
  expect(deposit.status).toBe(202);
  const ids: string[] = [];
  for (const amount of ["6.00", "5.00", "4.00", "0.50"]) {
    const res = await api.post("/api/v1/payments", { from_account: payer, to_account: payee, amount });
    expect(res.status).toBe(202);
    ids.push(res.body.id);
  }
  expect((await settled(api, deposit.body.id, 20_000)).status).toBe("completed");
  const outcomes = [];
  for (const id of ids) outcomes.push((await settled(api, id, 20_000)).status);
  expect(outcomes).toEqual(["completed", "failed", "completed", "failed"]);
  expect((await api.get(`/api/v1/accounts/${payer}`)).body.available).toBe("0.00");
  expect((await verifyLedger(system.db.pool)).problems).toEqual([]);
});

describe("a partition whose wake-up is still waiting", () => {
  let quiet: InProcessSystem;
  beforeAll(async () => {
    // No worker: the accept's wake-up stays in the queue, waiting.
    quiet = await startInProcess("sweeper-live", { workers: 0 });
  });
  afterAll(() => quiet.stop());

  it("is not counted as re-enqueued; once that wake-up is lost, it is", async () => {
    const qapi = client(quiet.api.url);
    const account = (await qapi.settle.createAccount()).account.id;
    await qapi.settle.createDeposit({ account_id: account, amount: "1.00" });
    const partition = partitionFor(account, 8);
    const redis = createRedis(TEST_REDIS_URL, "worker");
    const queues = new PartitionQueues(redis, { prefix: quiet.prefix, partitions: 8 });
    const logger = createLogger({ level: "silent", name: "sweeper-live" });
    const reenqueued: number[] = [];
    const sweeper = new Sweeper(quiet.db.pool, redis, queues, new PartitionWaker(queues, { logger }), {
      prefix: quiet.prefix,
      afterSeconds: 0,
      intervalMs: 150,
      logger,
      onReenqueue: (p) => reenqueued.push(p),
    });
    try {
      expect(await queues.queue(partition).getWaitingCount()).toBe(1);
      // Two sweeps find the stale deposit behind its waiting wake-up: nothing to re-enqueue.
      for (let i = 0; i < 2; i++) {
        expect(await sweeper.sweep()).toBe(1);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(reenqueued).toEqual([]);
      // The wake-up lost (as a flushed Redis would lose it): now the sweeper's add is a re-enqueue.
      await queues.queue(partition).drain();
      expect(await sweeper.sweep()).toBe(1);
      expect(reenqueued).toEqual([partition]);
      expect(await queues.queue(partition).getWaitingCount()).toBe(1);
    } finally {
      await sweeper.stop();
      await queues.close();
      redis.disconnect();
    }
  });
});
