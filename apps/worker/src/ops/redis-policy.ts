import type { RedisClient as Redis } from "@settle/core";
import type { Logger } from "@settle/core";

/**
 * What to say about Redis's `maxmemory-policy`. Anything but `noeviction` lets Redis delete keys
 * under memory pressure, and BullMQ keeps a queue's state in many keys: an evicted key can lose
 * or corrupt jobs (the sweeper recovers payments, but slowly and out of band).
 */
export function evictionPolicyProblem(policy: string | undefined): string | undefined {
  if (policy === undefined) return "could not read Redis maxmemory-policy (CONFIG is disabled?); make sure it is noeviction";
  if (policy !== "noeviction")
    return `Redis maxmemory-policy is ${policy}, not noeviction: Redis may evict queue keys under memory pressure and lose jobs. Set maxmemory-policy noeviction.`;
  return undefined;
}

/** Reads `CONFIG GET maxmemory-policy`; undefined when CONFIG is disabled or renamed (managed Redis). */
export async function readEvictionPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const reply = (await redis.call("CONFIG", "GET", "maxmemory-policy")) as string[] | null;
    return Array.isArray(reply) && typeof reply[1] === "string" ? reply[1] : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the policy at start and warns loudly unless it is `noeviction`; never stops the worker. */
export async function checkEvictionPolicy(redis: Redis, logger: Logger): Promise<string | undefined> {
  const policy = await readEvictionPolicy(redis);
  const problem = evictionPolicyProblem(policy);
  if (problem && policy !== undefined) logger.error({ maxmemoryPolicy: policy }, `!!! ${problem}`);
  else if (problem) logger.warn(problem);
  return policy;
}
