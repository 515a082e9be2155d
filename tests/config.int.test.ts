import { spawnSync } from "node:child_process";
import path from "node:path";
import { ensurePartitionCount } from "@settle/core";
import { createTestDatabase, type TestDatabase } from "@settle/core/testing";
import { loadConfig as loadApiConfig } from "../apps/api/src/config";
import { loadConfig as loadWorkerConfig } from "../apps/worker/src/config";

const root = path.resolve(__dirname, "..");

describe("configuration", () => {
  it("applies docs/API.md's defaults", () => {
    expect(loadApiConfig({})).toMatchObject({
      databaseUrl: "postgres://postgres@127.0.0.1:5432/settle",
      redisUrl: "redis://127.0.0.1:6379",
      port: 3000,
      partitions: 32,
      logLevel: "info",
      admin: undefined,
    });
    expect(loadWorkerConfig({})).toMatchObject({ partitions: 32, sweepAfterSeconds: 30 });
  });

  it("refuses an open API in production unless ALLOW_OPEN_API=true says it is meant", () => {
    expect(() => loadApiConfig({ NODE_ENV: "production" })).toThrow(/API_KEYS: NODE_ENV=production needs API_KEYS or ADMIN_API_KEYS/);
    expect(loadApiConfig({ NODE_ENV: "production", ALLOW_OPEN_API: "true" }).apiKeys).toBeUndefined();
    expect(loadApiConfig({ NODE_ENV: "production", ADMIN_API_KEYS: "admin-key-0123456789abcdef" }).adminApiKeys).toEqual(["admin-key-0123456789abcdef"]);
    expect(loadApiConfig({ NODE_ENV: "development" }).apiKeys).toBeUndefined();
  });

  it.each([
    ["PARTITIONS", { PARTITIONS: "zero" }],
    ["PARTITIONS", { PARTITIONS: "0" }],
    ["PORT", { PORT: "70000" }],
    ["DATABASE_URL", { DATABASE_URL: "mysql://x" }],
    ["REDIS_URL", { REDIS_URL: "not a url" }],
    ["LOG_LEVEL", { LOG_LEVEL: "loud" }],
    ["ADMIN_PASSWORD", { ADMIN_USER: "ops" }],
  ])("names %s when it is malformed", (name, env) => {
    expect(() => loadApiConfig(env)).toThrow(new RegExp(name));
  });

  it("stops a real process at start with a message naming the variable", () => {
    const tsx = require.resolve("tsx/cli");
    for (const app of ["api", "worker"]) {
      const result = spawnSync(process.execPath, [tsx, "--conditions=source", "src/main.ts"], {
        cwd: path.join(root, "apps", app),
        env: { ...process.env, PARTITIONS: "many" },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect([app, result.status]).toEqual([app, 2]);
      expect(result.stderr).toMatch(/PARTITIONS/);
    }
  });
});

describe("PARTITIONS is fixed for the life of a deployment", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("partitions");
  });
  afterAll(() => db.drop());

  it("records the first value and refuses another", async () => {
    await ensurePartitionCount(db.pool, 8);
    await ensurePartitionCount(db.pool, 8);
    await expect(ensurePartitionCount(db.pool, 16)).rejects.toThrow(/PARTITIONS=16 .* PARTITIONS=8/);
  });
});
