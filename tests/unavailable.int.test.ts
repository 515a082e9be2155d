// Backing services down: the API answers 503 `unavailable` quickly instead of hanging or crashing.
// The services here are real clients pointed at ports where nothing listens.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, createPool, createRedis, PartitionQueues, PartitionWaker } from "@settle/core";
import { createApp } from "../apps/api/src/app";
import { AuthFailures } from "../apps/api/src/http/auth-failures";
import { loadConfig } from "../apps/api/src/config";
import { client, type ApiClient } from "./support/http";

const DEAD_PG = "postgres://postgres@127.0.0.1:1/settle";
const DEAD_REDIS = "redis://127.0.0.1:1";

let server: Server;
let api: ApiClient;
let close: () => Promise<void>;

beforeAll(async () => {
  const config = loadConfig({ DATABASE_URL: DEAD_PG, REDIS_URL: DEAD_REDIS, PARTITIONS: "4", PORT: "0" });
  const pool = createPool({ url: config.databaseUrl, max: 2, connectionTimeoutMs: 1000 });
  const redis = createRedis(config.redisUrl, "producer");
  const queues = new PartitionQueues(redis, { prefix: "t-unavailable", partitions: 4 });
  const logger = createLogger({ level: "silent", name: "unavailable" });
  const app = createApp({
    config,
    pool,
    redis,
    queues,
    waker: new PartitionWaker(queues, { logger }),
    logger,
    authFailures: new AuthFailures(),
    lifecycle: { stopping: false },
  });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  api = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  close = async () => {
    await new Promise((r) => server.close(r));
    await queues.close().catch(() => undefined);
    redis.disconnect();
    await pool.end();
    // ioredis keeps a timer of `disconnectTimeout` (2 s) after disconnecting a socket that never
    // opened, which would keep jest from exiting; let it run out here.
    await new Promise((resolve) => setTimeout(resolve, 2100));
  };
});
afterAll(() => close());

it("answers 503 unavailable with Retry-After for reads and writes while PostgreSQL is down", async () => {
  const id = "0190a3c2-0000-7000-8000-000000000001";
  const calls = [
    api.get(`/api/v1/accounts/${id}`),
    api.get(`/api/v1/payments/${id}`),
    api.post("/api/v1/accounts", {}),
    api.post("/api/v1/deposits", { account_id: id, amount: "1.00" }),
    api.post("/api/v1/payments", { from_account: id, to_account: "0190a3c2-0000-7000-8000-000000000002", amount: "1.00" }),
  ];
  for (const res of await Promise.all(calls)) {
    expect([res.status, res.body.error.code, res.body.error.message]).toEqual([503, "unavailable", expect.any(String)]);
    expect(res.headers.get("retry-after")).toBe("1");
  }
});

it("still validates input first: a bad request is a 400 even with the database down", async () => {
  const res = await api.post("/api/v1/deposits", { account_id: "x", amount: "1" });
  expect(res.status).toBe(400);
});

it("says which service is down on /readyz, while /healthz stays 200", async () => {
  const ready = await api.get("/readyz");
  expect(ready.status).toBe(503);
  expect(ready.body).toMatchObject({ postgres: "down", redis: "down", redis_memory: "unknown" });
  expect((await api.get("/healthz")).status).toBe(200);
});
