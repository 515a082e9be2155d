import { createRedis, type RedisTarget } from "@settle/core";
import { round } from "./stats";

// Redis commands per payment, from the server's own counters: INFO commandstats (calls per
// command, counting the commands scripts run as well as the scripts themselves) and INFO stats'
// total_commands_processed. The Redis is shared, so anything else using it in the window counts
// too; on a quiet machine that is a handful of commands.

type Redis = ReturnType<typeof createRedis>;

export interface RedisSnapshot {
  calls: Record<string, number>;
  commandsProcessed: number;
}

export interface RedisCommandStats {
  /** Calls of every command (commandstats) in the window ÷ payments settled. */
  redisCommandsPerPayment: number;
  /** Top-level script calls (EVALSHA, EVAL, FCALL and their _RO forms) ÷ payments settled. */
  scriptCallsPerPayment: number;
  /** total_commands_processed in the window ÷ payments settled. */
  commandsProcessedPerPayment: number;
  callsDelta: number;
  scriptCallsDelta: number;
  commandsProcessedDelta: number;
  /** The bench's own INFO calls inside the window, already subtracted from the deltas. */
  driverCallsSubtracted: number;
  /** The 8 commands with the most calls in the window. */
  top: { command: string; calls: number; perPayment: number }[];
}

const SCRIPT_COMMANDS = new Set(["evalsha", "eval", "fcall", "evalsha_ro", "eval_ro", "fcall_ro"]);

/**
 * One INFO call for both sections per server, so each snapshot adds exactly one command per
 * server to the next window; a cluster's masters are summed.
 */
export async function redisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  const calls: Record<string, number> = {};
  let commandsProcessed = 0;
  for (const server of "nodes" in redis ? redis.nodes("master") : [redis]) {
    const text = String(await server.call("INFO", "commandstats", "stats"));
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = (calls[m[1]!] ?? 0) + Number(m[2]);
    const processed = /^total_commands_processed:(\d+)/m.exec(text);
    commandsProcessed += processed ? Number(processed[1]) : 0;
  }
  return { calls, commandsProcessed };
}

/** A connection for the snapshots, opened before the window so its handshake stays outside it. */
export function redisStatsConnection(target: string | RedisTarget): Redis {
  return createRedis(target, "worker");
}

export function redisCommandStats(before: RedisSnapshot, after: RedisSnapshot, settled: number): RedisCommandStats {
  // A command's counters move after it has run: the window holds the first snapshot's INFO, not the second's.
  const own = 1;
  const delta: Record<string, number> = {};
  for (const [command, n] of Object.entries(after.calls)) {
    const d = n - (before.calls[command] ?? 0) - (command === "info" ? own : 0);
    if (d > 0) delta[command] = d;
  }
  const callsDelta = Object.values(delta).reduce((a, n) => a + n, 0);
  const scriptCallsDelta = Object.entries(delta).reduce((a, [c, n]) => a + (SCRIPT_COMMANDS.has(c) ? n : 0), 0);
  const commandsProcessedDelta = after.commandsProcessed - before.commandsProcessed - own;
  const per = (n: number) => (settled ? round(n / settled, 3) : 0);
  return {
    redisCommandsPerPayment: per(callsDelta),
    scriptCallsPerPayment: per(scriptCallsDelta),
    commandsProcessedPerPayment: per(commandsProcessedDelta),
    callsDelta,
    scriptCallsDelta,
    commandsProcessedDelta,
    driverCallsSubtracted: own,
    top: Object.entries(delta)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([command, calls]) => ({ command, calls, perPayment: per(calls) })),
  };
}
