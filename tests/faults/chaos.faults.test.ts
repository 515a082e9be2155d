// A chaos run under load: mixed operations (transfers, batch intake with deposits and withdrawals,
// disputes and resolves) at a steady rate with 3 workers while, in turn, a worker is killed -9,
// Redis restarts, Redis is flushed, PostgreSQL restarts and the API is killed -9 and restarted.
// Afterwards: every 202 settled once, conservation, journals verify, per-account order as seen.
import { createRedis } from "@settle/core";
import { waitFor } from "@settle/core/testing";
import { client } from "../support/http";
import { assertInvariants, fundAccounts, logScenario, ProcessCluster, readiness, startLoad } from "../support/processes";
import { PrivatePostgres, PrivateRedis } from "../support/services";

jest.setTimeout(240_000);

let postgres: PrivatePostgres;
let redis: PrivateRedis;
let cluster: ProcessCluster;

afterAll(async () => {
  await cluster?.destroy();
  await Promise.all([redis?.destroy(), postgres?.destroy()]);
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("keeps every invariant through worker kills, Redis restart and flush, PostgreSQL restart and API kills, under mixed load", async () => {
  [postgres, redis] = await Promise.all([PrivatePostgres.start(), PrivateRedis.start()]);
  cluster = await ProcessCluster.create({ label: "chaos", postgresServerUrl: postgres.serverUrl, redisUrl: redis.url });
  await Promise.all([cluster.startApi(), cluster.startWorkers(3)]);
  const accounts = await fundAccounts(cluster.api, 30, "200.00");
  const load = startLoad({ baseUrl: cluster.apiUrl, accounts, durationMs: 40_000, maxPayments: 3000, ratePerSecond: 60 });

  // Beside the transfers: batches of deposits, withdrawals and transfers, and disputes then
  // resolves of settled transfers. Failures are expected while services are down; 202s are kept.
  const extra: string[] = [];
  const counts = { batches: 0, batchItems: 0, disputes: 0, resolves: 0 };
  let stop = false;
  const side = (async () => {
    const api = client(cluster.apiUrl);
    for (let round = 0; !stop; round++) {
      try {
        const pick = (k: number) => accounts[(round * 7 + k) % accounts.length]!;
        const batch = await api.post("/api/v1/payments/batch", {
          payments: [
            { type: "deposit", account_id: pick(1), amount: "3.00" },
            { type: "withdrawal", account_id: pick(2), amount: "1.00" },
            { from_account: pick(3), to_account: pick(4), amount: "2.00" },
          ],
        });
        if (batch.status === 202) {
          counts.batches++;
          for (const r of batch.body.results) {
            if (r.status !== 202) continue;
            extra.push(r.payment.id);
            counts.batchItems++;
          }
        }
        const target = load.accepted[Math.floor(load.accepted.length / 2)];
        if (target && round % 5 === 0) {
          const disputed = await api.post(`/api/v1/payments/${target}/dispute`, {});
          if (disputed.status === 202) {
            counts.disputes++;
            if ((await api.post(`/api/v1/payments/${target}/resolve`, {})).status === 202) counts.resolves++;
          }
        }
      } catch {
        // the API is down for a moment: the next round tries again
      }
      await pause(200);
    }
  })();

  const faults: string[] = [];
  await pause(4000);
  const victim = cluster.workers[0]!;
  await victim.kill9();
  await cluster.startWorker();
  faults.push("worker kill -9 (replaced)");

  await pause(4000);
  await redis.down();
  await pause(2000);
  await redis.up();
  faults.push("Redis restarted empty");

  await pause(4000);
  const flusher = createRedis(redis.url, "worker");
  await flusher.flushall();
  await flusher.quit();
  faults.push("Redis flushed");

  await pause(4000);
  await postgres.down("fast");
  await pause(2000);
  await postgres.up();
  await waitFor(async () => (await readiness(cluster)).status === 200, { timeoutMs: 20_000, what: "/readyz after PostgreSQL came back" });
  faults.push("PostgreSQL restarted");

  await pause(4000);
  await cluster.apis[0]!.kill9();
  await pause(1000);
  await cluster.startApi();
  faults.push("API kill -9, restarted 1 s later");

  const result = await load.done;
  stop = true;
  await side;
  expect(counts.batchItems).toBeGreaterThan(0);
  expect(counts.disputes).toBeGreaterThan(0);
  const report = await assertInvariants(cluster.db.pool, [...result.accepted, ...extra], { acceptances: result.acceptances, timeoutMs: 60_000 });
  logScenario(
    "chaos",
    result,
    `${faults.join("; ")}; beside the transfers ${counts.batches} batches (${counts.batchItems} items), ${counts.disputes} disputes, ${counts.resolves} resolves`,
    report,
  );
});
