import { createRequire } from "node:module";
import path from "node:path";
import { REDACTED_PATHS } from "@settle/core";
import { createTestDatabase, TEST_REDIS_URL, uniquePrefix, waitFor, type TestDatabase } from "@settle/core/testing";
import { loadConfig as loadApiConfig } from "../../apps/api/src/config";
import { startApi, type RunningApi } from "../../apps/api/src/server";
import { loadConfig as loadWorkerConfig } from "../../apps/worker/src/config";
import { SettleWorker } from "../../apps/worker/src/settle-worker";
import { client, newAccount, settled, type ApiClient } from "../support/http";
import { clearPrefix } from "../support/processes";

// pino is a dependency of @settle/core only; the logger here is built as createLogger builds it
// (same redaction), but writes its JSON lines into memory.
const pino = createRequire(path.join(__dirname, "../../packages/core/package.json"))("pino");

const ADMIN_PASSWORD = "admin-password-never-logged";
const lines: string[] = [];
const logged = () => lines.map((l) => JSON.parse(l));

let db: TestDatabase;
let api: RunningApi;
let worker: SettleWorker;
let http: ApiClient;
const prefix = uniquePrefix("logs");

beforeAll(async () => {
  const logger = pino({ level: "info", redact: { paths: REDACTED_PATHS, censor: "[redacted]" } }, { write: (line: string) => lines.push(line) });
  db = await createTestDatabase("logs");
  const env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PARTITIONS: "4" };
  api = await startApi(loadApiConfig({ ...env, PORT: "0", HOST: "127.0.0.1", ADMIN_USER: "ops", ADMIN_PASSWORD }), logger);
  worker = new SettleWorker(loadWorkerConfig({ ...env, LEASE_TTL_MS: "2000" }), {}, logger);
  await worker.start();
  http = client(api.url);
});
afterAll(async () => {
  await worker.stop();
  await api.close();
  await db.drop();
  await clearPrefix(TEST_REDIS_URL, prefix);
});

it("traces a payment by the caller's X-Request-Id from the request line to the worker's settlement line", async () => {
  const account = await newAccount(http);
  const requestId = `trace-${Date.now()}`;
  const res = await http.post("/api/v1/deposits", { account_id: account, amount: "7.00" }, { "x-request-id": requestId });
  expect(res.status).toBe(202);
  expect(res.headers.get("x-request-id")).toBe(requestId);
  await settled(http, res.body.id);

  const request = await waitFor(() => logged().find((l) => l.req?.id === requestId && l.msg === "request completed"), { what: "the request line" });
  expect(request).toMatchObject({ level: 30, req: { method: "POST", url: "/api/v1/deposits" }, res: { statusCode: 202 }, paymentId: res.body.id });
  const settlement = await waitFor(() => logged().find((l) => l.msg === "payment settled" && l.paymentId === res.body.id), { what: "the settlement line" });
  expect(settlement).toMatchObject({ requestId, status: "completed" });
});

it("leads from any request id to its payment's settlement, also when payments settle in one batch", async () => {
  const [payer, payee] = [await newAccount(http), await newAccount(http)];
  const fund = await http.post("/api/v1/deposits", { account_id: payer, amount: "50.00" });
  await settled(http, fund.body.id);
  const sent = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      http.post("/api/v1/payments", { from_account: payer, to_account: payee, amount: "1.00" }, { "x-request-id": `batch-${Date.now()}-${i}` }),
    ),
  );
  for (const res of sent) await settled(http, res.body.id);
  for (const res of sent) {
    const requestId = res.headers.get("x-request-id");
    const request = await waitFor(() => logged().find((l) => l.req?.id === requestId && l.msg === "request completed"), { what: "the request line" });
    expect(request.paymentId).toBe(res.body.id);
    await waitFor(() => logged().find((l) => l.msg === "payment settled" && l.paymentId === request.paymentId), { what: "the settlement line" });
  }
});

it("makes up a request id when the caller sends none or a malformed one, and echoes it", async () => {
  for (const headers of [{}, { "x-request-id": "has spaces in it" }] as Record<string, string>[]) {
    const res = await http.get("/healthz", headers);
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await waitFor(() => logged().find((l) => l.req?.id === id), { what: "the request line" });
  }
});

it("never logs authorization headers, cookies or the admin password", async () => {
  const account = await newAccount(http);
  const secrets = { authorization: "Bearer api-key-super-secret", cookie: "session=cookie-secret-value", "idempotency-key": "idem-secret-key" };
  const res = await http.post("/api/v1/deposits", { account_id: account, amount: "1.00" }, secrets);
  expect(res.status).toBe(202);
  await http.get("/admin/queues", { authorization: `Basic ${Buffer.from(`ops:${ADMIN_PASSWORD}`).toString("base64")}` });
  await http.get("/admin/queues", { authorization: `Basic ${Buffer.from("ops:wrong-guess-password").toString("base64")}` });
  await settled(http, res.body.id);
  expect(logged().some((l) => /Bull Board is on/.test(l.msg))).toBe(true);
  const all = lines.join("\n");
  for (const secret of [
    "api-key-super-secret",
    "cookie-secret-value",
    "idem-secret-key",
    ADMIN_PASSWORD,
    "wrong-guess-password",
    Buffer.from(`ops:${ADMIN_PASSWORD}`).toString("base64"),
  ]) {
    expect(all).not.toContain(secret);
  }
});
