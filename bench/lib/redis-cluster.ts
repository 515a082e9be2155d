// --redis-cluster: a private 3-master Redis Cluster for the bench's Settle runs (redis-server
// with `cluster-enabled yes` on free loopback ports, joined with `redis-cli --cluster create`),
// stopped and deleted at the end.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findOnPath, waitFor } from "@settle/core/testing";
import { freePort } from "./children";

const run = promisify(execFile);

export interface BenchRedisCluster {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

export async function startRedisCluster(masters = 3): Promise<BenchRedisCluster> {
  const server = findOnPath("redis-server");
  const cli = findOnPath("redis-cli");
  if (!server || !cli) throw new Error("--redis-cluster needs redis-server and redis-cli on PATH");
  const dir = mkdtempSync(path.join(os.tmpdir(), "settle-bench-cluster-"));
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  const children: ChildProcess[] = ports.map((port) => {
    const nodeDir = path.join(dir, String(port));
    mkdirSync(nodeDir);
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", nodeDir, "--cluster-enabled", "yes", "--save", "", "--appendonly", "no"];
    return spawn(server, args, { stdio: "ignore" });
  });
  const stop = async () => {
    const kill = (c: ChildProcess): Promise<unknown> => {
      if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
      const exited = new Promise((resolve) => c.once("exit", resolve));
      c.kill("SIGKILL");
      return exited;
    };
    await Promise.all(children.map(kill));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      await waitFor(async () => (await run(cli, ["-p", String(port), "ping"])).stdout.trim() === "PONG", {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: `redis on ${port}`,
      });
    }
    await run(cli, ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { timeout: 30_000 });
    await waitFor(
      async () => {
        for (const port of ports) if (!/cluster_state:ok/.test((await run(cli, ["-p", String(port), "cluster", "info"])).stdout)) return false;
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "the Redis Cluster to serve every slot" },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => ({ host: "127.0.0.1", port })), stop };
}
