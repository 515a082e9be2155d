// Private Redis servers for fault tests and the bench: the programs looked up on PATH when first
// needed (a machine without them fails with a message naming what to install), and a Redis
// Cluster of its own on free loopback ports.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findOnPath } from "./binaries";
import { freePort, waitFor } from "./index";

const run = promisify(execFile);

// The programs are looked up when a test first needs them, so that a machine without them fails
// that test with a message naming what to install, not with ENOENT or a timeout.
let redisPrograms: { server: string; cli: string } | undefined;
export function redisProgram(name: "server" | "cli"): string {
  if (!redisPrograms) {
    const [server, cli] = [findOnPath("redis-server"), findOnPath("redis-cli")];
    if (!server || !cli) {
      const missing = [server ? "" : "redis-server", cli ? "" : "redis-cli"].filter(Boolean).join(" and ");
      throw new Error(`a private Redis needs ${missing} on PATH: install Redis (e.g. apt-get install redis-server redis-tools) or put them on PATH`);
    }
    redisPrograms = { server, cli };
  }
  return redisPrograms[name];
}

/**
 * A Redis Cluster of its own: `masters` redis-server children with `cluster-enabled yes` on free
 * loopback ports (no replicas, no persistence; each node keeps its cluster identity in its
 * directory, so a node restarted on its port rejoins with its slots, empty), joined with
 * `redis-cli --cluster create`.
 */
export class PrivateRedisCluster {
  private readonly children: (ChildProcess | undefined)[];

  private constructor(
    readonly ports: number[],
    readonly dir: string,
  ) {
    this.children = ports.map(() => undefined);
  }

  static async start(masters = 3): Promise<PrivateRedisCluster> {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) ports.push(await freePort());
    const cluster = new PrivateRedisCluster(ports, mkdtempSync(path.join(os.tmpdir(), "settle-redis-cluster-")));
    process.once("exit", () => cluster.children.forEach((c) => c?.kill("SIGKILL")));
    for (let i = 0; i < masters; i++) await cluster.up(i);
    await run(redisProgram("cli"), ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], {
      timeout: 30_000,
    });
    await cluster.waitHealthy();
    return cluster;
  }

  /** REDIS_CLUSTER_NODES for the processes under test. */
  get nodes(): string {
    return this.seeds.map((n) => `${n.host}:${n.port}`).join(",");
  }

  /** The nodes as ioredis's Cluster takes them. */
  get seeds(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: "127.0.0.1", port }));
  }

  /** Starts node `i` (again, on its port and with its directory) and waits until it answers PING. */
  async up(i: number): Promise<void> {
    const dir = path.join(this.dir, String(this.ports[i]));
    mkdirSync(dir, { recursive: true });
    const fd = openSync(path.join(dir, "redis.log"), "a");
    try {
      this.children[i] = spawn(
        redisProgram("server"),
        [
          "--port",
          String(this.ports[i]),
          "--bind",
          "127.0.0.1",
          "--dir",
          dir,
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--save",
          "",
          "--appendonly",
          "no",
        ],
        { stdio: ["ignore", fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    await waitFor(async () => (await run(redisProgram("cli"), ["-p", String(this.ports[i]), "ping"])).stdout.trim() === "PONG", {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: `redis cluster node on ${this.ports[i]}`,
    });
  }

  /** Kills node `i` (SIGKILL: a crash); its slots are unavailable until it is up again. */
  async down(i: number): Promise<void> {
    const child = this.children[i];
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** Waits until every node reports `cluster_state:ok` (all slots served). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        for (const port of this.ports) {
          if (!/cluster_state:ok/.test((await run(redisProgram("cli"), ["-p", String(port), "cluster", "info"])).stdout)) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 200, what: "the Redis Cluster to serve every slot" },
    );
  }

  async destroy(): Promise<void> {
    for (let i = 0; i < this.ports.length; i++) await this.down(i);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
