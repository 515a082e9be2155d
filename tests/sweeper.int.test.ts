// Payments whose enqueue failed (the API's Redis is unreachable) are still accepted — they are
// durable in PostgreSQL — and the sweeper settles them later, in acceptance order.
import { verifyLedger } from "@settle/core";
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
