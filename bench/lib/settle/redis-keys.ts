// The run's keys in Redis (counted, deleted) and the servers' pids (for their CPU time). On a
// Redis Cluster every master is scanned, and keys are deleted one by one (a multi-key command
// must stay within one slot).
import { createRedis, type RedisClient, type RedisTarget } from "@settle/core";

/** The connections to scan: every master of a cluster, or the one server. */
function servers(redis: RedisClient): RedisClient[] {
  return "nodes" in redis ? redis.nodes("master") : [redis];
}

async function withRedis<T>(target: string | RedisTarget, work: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = createRedis(target, "worker");
  try {
    if ("nodes" in redis) await new Promise<void>((resolve) => (redis.status === "ready" ? resolve() : redis.once("ready", () => resolve())));
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/** Every key matching `pattern`, server by server. */
async function forEachKey(redis: RedisClient, pattern: string, visit: (server: RedisClient, keys: string[]) => Promise<void>): Promise<void> {
  for (const server of servers(redis)) {
    let cursor = "0";
    do {
      const [next, keys] = await server.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length) await visit(server, keys);
    } while (cursor !== "0");
  }
}

async function unlinkEach(server: RedisClient, keys: string[]): Promise<number> {
  const results = await Promise.all(keys.map((k) => server.unlink(k)));
  return results.reduce((a, n) => a + n, 0);
}

export async function redisPids(target: string | RedisTarget): Promise<number[]> {
  return withRedis(target, async (redis) => {
    const pids: number[] = [];
    for (const server of servers(redis)) {
      const m = /process_id:(\d+)/.exec(await server.info("server"));
      if (m) pids.push(Number(m[1]));
    }
    return pids;
  });
}

export async function countPrefix(target: string | RedisTarget, prefix: string): Promise<number> {
  let n = 0;
  await withRedis(target, (redis) =>
    forEachKey(redis, `${prefix}:*`, (_server, keys) => {
      n += keys.length;
      return Promise.resolve();
    }),
  );
  return n;
}

/**
 * Deletes the queue keys an interrupted earlier bench left behind (pnpm may kill the driver on
 * Ctrl-C before it cleans up). Only this benchmark's own prefix format is matched; benches run
 * one at a time (they share their database names too).
 */
export async function deleteStaleBenchPrefixes(target: string | RedisTarget): Promise<number> {
  let deleted = 0;
  await withRedis(target, (redis) =>
    forEachKey(redis, "bench-2*", async (server, keys) => {
      deleted += await unlinkEach(
        server,
        keys.filter((k) => /^bench-\d{8}-\d{6}-(\d+|profile):/.test(k)),
      );
    }),
  );
  return deleted;
}

/** Deletes this run's queue keys (only keys under its own prefix; never a flush). */
export async function deletePrefix(target: string | RedisTarget, prefix: string): Promise<number> {
  let deleted = 0;
  await withRedis(target, (redis) => forEachKey(redis, `${prefix}:*`, async (server, keys) => void (deleted += await unlinkEach(server, keys))));
  return deleted;
}
