// A stopping API says so on /readyz while it still serves, and long polls are bounded per process.
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, type ApiClient } from "./support/http";

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  // No worker: payments stay pending, so long polls wait.
  system = await startInProcess("lifecycle", { workers: 0, apiEnv: { LONG_POLL_MAX: "2", SHUTDOWN_DELAY_MS: "1500" } });
  api = client(system.api.url);
});
afterAll(() => system.stop());

it("answers 429 to a long poll beyond LONG_POLL_MAX, and serves the ones within it", async () => {
  const account = await newAccount(api);
  const deposit = await api.post("/api/v1/deposits", { account_id: account, amount: "1.00" });
  const waiting = [api.get(`/api/v1/payments/${deposit.body.id}?wait=2`), api.get(`/api/v1/payments/${deposit.body.id}?wait=2`)];
  await new Promise((r) => setTimeout(r, 300));
  const third = await api.get(`/api/v1/payments/${deposit.body.id}?wait=2`);
  expect([third.status, third.body.error.code]).toEqual([429, "rate_limited"]);
  expect(third.headers.get("retry-after")).toBe("1");
  // Without wait it answers at once, whatever the cap.
  expect((await api.get(`/api/v1/payments/${deposit.body.id}`)).status).toBe(200);
  for (const res of await Promise.all(waiting)) expect([res.status, res.body.status]).toEqual([200, "pending"]);
});

it("answers 503 on /readyz as soon as shutdown begins, while still serving requests for SHUTDOWN_DELAY_MS", async () => {
  expect((await api.get("/readyz")).status).toBe(200);
  const closing = system.api.close();
  const ready = await api.get("/readyz");
  expect([ready.status, ready.body.status]).toEqual([503, "unavailable"]);
  expect((await api.get("/healthz")).status).toBe(200);
  expect((await api.post("/api/v1/accounts", {})).status).toBe(201);
  await closing;
  await expect(fetch(`${system.api.url}/healthz`)).rejects.toThrow();
});
