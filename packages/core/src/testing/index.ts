import { randomBytes } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { Client } from "pg";
import { createPool, type Pool } from "../db/pool";
import { migrate } from "../db/migrate";

/** The PostgreSQL server the tests use (the machine's own); databases are created on it per test file. */
export const TEST_SERVER_URL = "postgres://postgres@127.0.0.1:5432";
export const TEST_REDIS_URL = "redis://127.0.0.1:6379";

export interface TestDatabase {
  url: string;
  name: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(label = "test", serverUrl = TEST_SERVER_URL): Promise<TestDatabase> {
  const name = `settle_${label.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  const url = `${serverUrl}/${name}`;
  await migrate(url);
  const pool = createPool({ url, max: 10, applicationName: `test-${label}` });
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end();
      const admin = new Client({ connectionString: `${serverUrl}/postgres` });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** A queue prefix no other test file uses. */
export function uniquePrefix(label = "test"): string {
  return `t-${label.replace(/[^A-Za-z0-9_-]/g, "")}-${randomBytes(4).toString("hex")}`;
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${options.what ?? "condition"}${lastError ? `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}` : ""}`,
      );
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** Deletes every Redis key under a prefix (the test's own queues). */
export async function clearRedisPrefix(
  redis: { scan: (...args: never[]) => unknown; del: (...keys: string[]) => Promise<number> },
  prefix: string,
): Promise<void> {
  const scan = redis.scan as unknown as (cursor: string, ...args: (string | number)[]) => Promise<[string, string[]]>;
  let cursor = "0";
  do {
    const [next, keys] = await scan.call(redis, cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released for a child process to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export { acceptanceOrderViolations, type ObservedAcceptance } from "./acceptance-order";
export { accountState } from "./ledger";
export { findOnPath, findPostgresPrograms, POSTGRES_SEARCH } from "./binaries";
export { errorCode, errorReason, failureReason, HttpClient, type HttpReply, type RequestOptions } from "./http-client";
export { paceRequests, type LoadOutcome, type LoadRequest, type PacedLoad, type PaceOptions, type Pacing } from "./load";
export { AppProcess, describeExit, liveApps, spawnApp, spawnAppChild, waitUntilReady, type ExitStatus, type SpawnAppOptions } from "./processes";
export { PrivateRedisCluster, redisProgram } from "./redis-cluster";
