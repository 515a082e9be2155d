import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "../../apps/api/src/app";
import { client, newAccount, type ApiClient } from "../support/http";
import { startInProcess, type InProcessSystem } from "../support/in-process";

const USER = "ops";
const PASSWORD = "correct-horse-battery";
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

let system: InProcessSystem;
let api: ApiClient;

beforeAll(async () => {
  system = await startInProcess("bullboard", { workers: 0, apiEnv: { ADMIN_USER: USER, ADMIN_PASSWORD: PASSWORD } });
  api = client(system.api.url);
});
afterAll(() => system.stop());

it("answers 401 with a challenge and the contract's error body without credentials", async () => {
  for (const path of ["/admin/queues", "/admin/queues/api/queues"]) {
    const res = await api.get(path);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="Settle admin"/);
    expect(res.body).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
  }
});

it("answers 401 to a wrong password, a wrong user, and a password that is only a prefix", async () => {
  for (const [user, password] of [
    [USER, "wrong-password"],
    ["root", PASSWORD],
    [USER, PASSWORD.slice(0, -1)],
    ["", ""],
  ] as const) {
    const res = await api.get("/admin/queues", basic(user, password));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthorized");
  }
});

it("serves the dashboard with every partition queue and the webhook queue, read-only, to the right credentials", async () => {
  const page = await api.get("/admin/queues", basic(USER, PASSWORD));
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/text\/html/);
  // Enqueue one job so a queue is not empty, then read the board's own API.
  const account = await newAccount(api);
  expect((await api.post("/api/v1/deposits", { account_id: account, amount: "1.00" })).status).toBe(202);
  const queues = await api.get("/admin/queues/api/queues", basic(USER, PASSWORD));
  expect(queues.status).toBe(200);
  const names = queues.body.queues.map((q: { name: string }) => q.name).sort();
  expect(names).toEqual([...Array.from({ length: 8 }, (_, p) => `partition-${String(p).padStart(3, "0")}`), "webhooks"]);
  expect(queues.body.queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode === true)).toBe(true);
  const waiting = queues.body.queues.reduce((n: number, q: { counts: { waiting: number } }) => n + q.counts.waiting, 0);
  expect(waiting).toBe(1);
  // Read-only: a mutation is refused and changes nothing.
  const pause = await api.call("PUT", "/admin/queues/api/queues/partition-000/pause", undefined, basic(USER, PASSWORD));
  expect(pause.status).toBe(405);
  expect(await system.api.deps.queues.queue(0).isPaused()).toBe(false);
});

it("is not mounted at all without ADMIN_USER and ADMIN_PASSWORD", async () => {
  const app = createApp({ ...system.api.deps, config: { ...system.api.deps.config, admin: undefined } });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  try {
    const bare = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    for (const headers of [{}, basic(USER, PASSWORD)]) {
      const res = await bare.get("/admin/queues", headers);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
  } finally {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
});

it("throttles an address after 10 failed logins a minute with 429, the right password included", async () => {
  // Earlier tests here failed 4 times (the empty ["", ""] pair counts: credentials were given).
  for (let i = 0; i < 6; i++) expect((await api.get("/admin/queues", basic(USER, `guess-${i}`))).status).toBe(401);
  const limited = await api.get("/admin/queues", basic(USER, PASSWORD));
  expect([limited.status, limited.body.error.code]).toEqual([429, "rate_limited"]);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
});
