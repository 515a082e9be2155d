// Settle on a Redis Cluster (REDIS_CLUSTER_NODES): a private 3-master cluster on loopback ports,
// real API and worker processes. Every queue's keys share their partition's hash tag, and leases,
// membership and the sweeper's turn are single keys, so every command and BullMQ script stays in
// one slot. Under load, then with one master killed -9 and restarted empty (its slots unavailable
// meanwhile, its wake-ups lost): every accepted payment is settled exactly once.
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, readiness, startLoad } from "../support/processes";
import { PrivateRedisCluster, TEST_REDIS_URL, waitFor } from "@settle/core/testing";
import { createLogger, createRedis } from "@settle/core";
import { loadConfig } from "../../apps/api/src/config";
import { startApi } from "../../apps/api/src/server";

jest.setTimeout(150_000);

let redis: PrivateRedisCluster;
let cluster: ProcessCluster;

beforeAll(async () => {
  redis = await PrivateRedisCluster.start(3);
  cluster = await ProcessCluster.create({ label: "redis-cluster", env: { REDIS_CLUSTER_NODES: redis.nodes } });
  await Promise.all([cluster.startApi(), cluster.startWorkers(2)]);
});
afterAll(async () => {
  await cluster?.destroy();
  await redis?.destroy();
});

it("settles every payment once across worker processes on a 3-master Redis Cluster", async () => {
  const accounts = await fundAccounts(cluster.api, 20, "100.00");
  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 8000, maxPayments: 640, ratePerSecond: 80 });
  const result = await load.done;
  expect(result.failed).toEqual([]);
  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });
  // The processes used the cluster: the partitions' leases are there, and the machine's own
  // Redis holds nothing of this deployment.
  const onCluster = createRedis({ url: "", clusterNodes: redis.seeds }, "worker");
  const local = createRedis(TEST_REDIS_URL, "worker");
  try {
    const leases = await Promise.all(Array.from({ length: 8 }, (_, p) => onCluster.get(cluster.leaseKey(p))));
    expect(leases.every((owner) => owner !== null)).toBe(true);
    expect((await local.scan("0", "MATCH", `${cluster.prefix}*`, "COUNT", 10_000))[1]).toEqual([]);
  } finally {
    onCluster.disconnect();
    local.disconnect();
  }
  logScenario("redis cluster", result, "nothing (3 masters, 2 workers)", report);
});

it("settles everything once when a master is killed -9 and restarted empty under load", async () => {
  const accounts = await fundAccounts(cluster.api, 20, "100.00");
  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 12_000, maxPayments: 960, ratePerSecond: 80 });
  await new Promise((r) => setTimeout(r, 3000));
  const downAt = Date.now();
  await redis.down(0);
  await new Promise((r) => setTimeout(r, 2000));
  await redis.up(0);
  await redis.waitHealthy();
  const healthyAfter = (Date.now() - downAt) / 1000;
  await waitFor(async () => (await readiness(cluster)).status === 200, { timeoutMs: 30_000, what: "/readyz after the restart" });
  const result = await load.done;
  // PostgreSQL alone makes a payment durable: accepts go on while a third of the slots is down.
  expect(result.failed).toEqual([]);
  expect(cluster.processes.every((p) => p.running)).toBe(true);
  const report = await assertInvariants(cluster.db.pool, result.accepted, { acceptances: result.acceptances });
  logScenario(
    "redis cluster master crash",
    result,
    `master 1 of 3 killed -9 and restarted empty; the cluster served every slot again ${healthyAfter.toFixed(1)} s after the kill`,
    report,
  );
});

it("enforces the shared rate limit and serves Bull Board on the cluster", async () => {
  // An API of its own beside the cluster's processes: a rate limit of 2 requests a second (burst 2)
  // counted in the Redis Cluster, and the dashboard.
  const api = await startApi(
    loadConfig({
      ...cluster.env,
      PORT: "0",
      RATE_LIMIT_PER_SECOND: "2",
      RATE_LIMIT_BURST: "2",
      ADMIN_USER: "admin",
      ADMIN_PASSWORD: "cluster-test-password",
    }),
    createLogger({ level: "silent", name: "redis-cluster-api" }),
  );
  try {
    // Connected to the cluster (the probe writes to it) before anything counts on it.
    await waitFor(async () => (await fetch(`${api.url}/readyz`)).status === 200, { timeoutMs: 15_000, what: "the API's /readyz" });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${api.url}/api/v1/accounts?limit=1`)).status);
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    const auth = { authorization: `Basic ${Buffer.from("admin:cluster-test-password").toString("base64")}` };
    // Right after start, on a loaded machine, the dashboard has answered 500 once (cause not found):
    // it must answer 200 within seconds, and list every queue.
    let last = "";
    const board = await waitFor(
      async () => {
        const res = await fetch(`${api.url}/admin/queues/api/queues`, { headers: auth });
        last = `${res.status} ${await res.clone().text()}`;
        return res.status === 200 && res;
      },
      { timeoutMs: 10_000, intervalMs: 250, what: "the dashboard to answer 200" },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last answer: ${last.slice(0, 500)}`);
    });
    const names = ((await board.json()) as { queues: { name: string }[] }).queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(["partition-000", "partition-007", "webhooks"]));
  } finally {
    await api.close();
  }
});
