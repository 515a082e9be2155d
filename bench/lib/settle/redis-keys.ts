// The run's keys in the shared Redis (counted, deleted) and the server's pid (for its CPU time).
import { createRedis } from "@settle/core";

export async function redisPid(url: string): Promise<number | undefined> {
  const redis = createRedis(url, "worker");
  try {
    const info = await redis.info("server");
    const m = /process_id:(\d+)/.exec(info);
    return m ? Number(m[1]) : undefined;
  } finally {
    redis.disconnect();
  }
}

export async function countPrefix(url: string, prefix: string): Promise<number> {
  const redis = createRedis(url, "worker");
  let n = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      n += keys.length;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return n;
}

/**
 * Deletes the queue keys an interrupted earlier bench left behind (pnpm may kill the driver on
 * Ctrl-C before it cleans up). Only this benchmark's own prefix format is matched; benches run
 * one at a time (they share their database names too).
 */
export async function deleteStaleBenchPrefixes(url: string): Promise<number> {
  const redis = createRedis(url, "worker");
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", "bench-2*", "COUNT", 1000);
      cursor = next;
      const ours = keys.filter((k) => /^bench-\d{8}-\d{6}-(\d+|profile):/.test(k));
      if (ours.length) deleted += await redis.unlink(...ours);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Deletes this run's queue keys (only keys under its own prefix; never a flush). */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const redis = createRedis(url, "worker");
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}
