// WORKER_ROLES: a worker of role `settle` holds partitions and settles, and sends no webhook; one
// of role `webhooks` delivers, and holds no partition. Together they do what one worker of both
// roles does, so delivery can run on machines of its own (docs/ARCHITECTURE.md "Scaling out").
import { waitFor } from "@settle/core/testing";
import { loadConfig } from "../apps/worker/src/config";
import { startInProcess, type InProcessSystem } from "./support/in-process";
import { client, newAccount, settled, type ApiClient } from "./support/http";
import { WebhookReceiver } from "./support/webhook-receiver";

let system: InProcessSystem;
let api: ApiClient;
let hooks: WebhookReceiver;

beforeAll(async () => {
  system = await startInProcess("worker-roles", { workers: 0, env: { WEBHOOK_ALLOW_INSECURE: "true", WEBHOOK_POLL_MS: "100" } });
  api = client(system.api.url);
  hooks = await WebhookReceiver.start();
});
afterAll(async () => {
  await system.stop();
  await hooks.close();
});

it("parses WORKER_ROLES: both by default, either alone, nothing else", () => {
  expect(loadConfig({}).roles).toEqual({ settle: true, webhooks: true });
  expect(loadConfig({ WORKER_ROLES: "webhooks" }).roles).toEqual({ settle: false, webhooks: true });
  expect(loadConfig({ WORKER_ROLES: "settle, settle" }).roles).toEqual({ settle: true, webhooks: false });
  expect(() => loadConfig({ WORKER_ROLES: "settle,email" })).toThrow(/WORKER_ROLES.*each role must be settle or webhooks/s);
});

it("settles on a settle worker and delivers on a webhooks worker, each doing only its own part", async () => {
  await api.post("/api/v1/webhook-endpoints", { url: hooks.url(), events: ["payment.completed"] });
  const settler = await system.startWorker({ WORKER_ROLES: "settle" });
  const account = await newAccount(api);
  const deposit = await api.post("/api/v1/deposits", { account_id: account, amount: "10.00" });
  expect((await settled(api, deposit.body.id)).status).toBe("completed");
  // Settled, and with no webhooks worker nothing is sent.
  await new Promise((r) => setTimeout(r, 500));
  expect(hooks.received).toEqual([]);
  expect(settler.ownedPartitions).toHaveLength(8);

  const sender = await system.startWorker({ WORKER_ROLES: "webhooks" });
  await waitFor(() => hooks.received.some((d) => d.event.data.payment?.id === deposit.body.id), { timeoutMs: 10_000, what: "the delivery" });
  // The webhooks worker never takes a partition: the settle worker keeps all of them.
  await new Promise((r) => setTimeout(r, 1000));
  expect(sender.ownedPartitions).toEqual([]);
  expect(settler.ownedPartitions).toHaveLength(8);
});
