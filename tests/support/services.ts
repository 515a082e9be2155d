// Private PostgreSQL and Redis servers that a fault test may stop and restart: the machine's own
// (5432, 6379) are shared with other test runs and are never touched.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findOnPath, findPostgresPrograms, POSTGRES_SEARCH, waitFor } from "@settle/core/testing";
import { freePort } from "./processes";

const run = promisify(execFile);

// The programs are looked up when a test first needs them, so that a machine without them fails
// that test with a message naming what to install, not with ENOENT or a timeout.
let redisPrograms: { server: string; cli: string } | undefined;
function redisProgram(name: "server" | "cli"): string {
  if (!redisPrograms) {
    const [server, cli] = [findOnPath("redis-server"), findOnPath("redis-cli")];
    if (!server || !cli) {
      const missing = [server ? "" : "redis-server", cli ? "" : "redis-cli"].filter(Boolean).join(" and ");
      throw new Error(
        `this test runs a private Redis and needs ${missing} on PATH: install Redis (e.g. apt-get install redis-server redis-tools) or put them on PATH`,
      );
    }
    redisPrograms = { server, cli };
  }
  return redisPrograms[name];
}

// PostgreSQL refuses to run as root, so a private cluster runs as the `postgres` user through
// runuser, which only root may use.
let pgPrograms: { initdb: string; pg_ctl: string; runuser: string } | undefined;
function pgProgram(name: "initdb" | "pg_ctl" | "runuser"): string {
  if (!pgPrograms) {
    const server = findPostgresPrograms(["initdb", "pg_ctl"] as const);
    if (!server) {
      throw new Error(
        `this test runs a private PostgreSQL and needs PostgreSQL's server programs (initdb, pg_ctl), found in none of ${POSTGRES_SEARCH}: install PostgreSQL's server package (e.g. apt-get install postgresql) or put its bin directory on PATH`,
      );
    }
    const runuser = findOnPath("runuser");
    if (process.getuid?.() !== 0 || !runuser) {
      throw new Error(
        "this test runs a private PostgreSQL as the `postgres` user with `runuser -u postgres`, which needs root and runuser (util-linux): run the fault tests as root",
      );
    }
    try {
      execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
    } catch {
      throw new Error(
        "this test runs a private PostgreSQL as the `postgres` user, and there is no such user: install PostgreSQL's server package, which creates it",
      );
    }
    pgPrograms = { ...server, runuser };
  }
  return pgPrograms[name];
}

export interface PrivateRedisOptions {
  /**
   * An append-only file in the server's directory, fsync'd every second, as docker-compose runs
   * Redis: a restart brings the keys back (leases, job locks and all). @defaultValue false
   */
  persistence?: boolean;
  /** More `redis-server` arguments, e.g. `["--maxmemory", "8mb"]`. */
  args?: string[];
}

/** A redis-server child on a free port; without `persistence` a restart loses every key. */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: PrivateRedisOptions,
  ) {}

  static async start(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), mkdtempSync(path.join(os.tmpdir(), "settle-redis-")), options);
    await redis.up();
    return redis;
  }

  get logFile(): string {
    return path.join(this.dir, "redis.log");
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again, on the same port) and waits until it answers PING. */
  async up(): Promise<void> {
    const fd = openSync(this.logFile, "a");
    try {
      const persistence = this.options.persistence ? ["--appendonly", "yes", "--appendfsync", "everysec"] : ["--appendonly", "no"];
      const args = [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--save",
        "",
        ...persistence,
        "--daemonize",
        "no",
        ...(this.options.args ?? []),
      ];
      this.child = spawn(redisProgram("server"), args, { stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    const child = this.child;
    process.once("exit", () => child.kill("SIGKILL"));
    await waitFor(async () => (await run(redisProgram("cli"), ["-p", String(this.port), "ping"])).stdout.trim() === "PONG", {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: `redis on ${this.port}`,
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open and every command waits, unanswered. */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  /** Lets a paused server go on (SIGCONT). */
  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** Stops the server; without persistence its data is gone. */
  async down(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    // A paused server acts on SIGTERM only once it runs again.
    child.kill("SIGCONT");
    await exited;
  }

  /** Stops the server and deletes its directory. */
  async destroy(): Promise<void> {
    await this.down("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
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
    return this.ports.map((p) => `127.0.0.1:${p}`).join(",");
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

/**
 * A PostgreSQL cluster of its own (initdb in a temporary directory, trust authentication, a free
 * port on 127.0.0.1). PostgreSQL refuses to run as root, so every command runs as `postgres`.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    // Fails here, naming what the machine lacks, before anything is created.
    pgProgram("runuser");
    const dir = mkdtempSync(path.join(os.tmpdir(), "settle-pg-"));
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
    const pg = new PrivatePostgres(await freePort(), dir);
    process.once("exit", () => pg.destroySync());
    await pg.asPostgres("initdb", ["-D", pg.dataDir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--no-instructions"]);
    await pg.up();
    return pg;
  }

  get dataDir(): string {
    return path.join(this.dir, "data");
  }

  /** The server's URL without a database (createTestDatabase adds one). */
  get serverUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}`;
  }

  private async asPostgres(binary: "initdb" | "pg_ctl", args: string[]): Promise<string> {
    const { stdout } = await run(pgProgram("runuser"), ["-u", "postgres", "--", pgProgram(binary), ...args], { timeout: 60_000 });
    return stdout;
  }

  /** Starts the server and waits until it accepts connections. */
  async up(): Promise<void> {
    // fsync off: these databases are thrown away, and a test machine's disk is slow.
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.dir} -c fsync=off -c max_connections=100`;
    await this.asPostgres("pg_ctl", ["-D", this.dataDir, "-l", path.join(this.dir, "postgres.log"), "-o", options, "-w", "-t", "30", "start"]);
  }

  /** Stops the server: `fast` disconnects every client and shuts down cleanly; `immediate` is a crash. */
  async down(mode: "fast" | "immediate" = "fast"): Promise<void> {
    await this.asPostgres("pg_ctl", ["-D", this.dataDir, "-m", mode, "-w", "-t", "30", "stop"]);
  }

  /** Stops the server (if it runs) and deletes its directory. */
  async destroy(): Promise<void> {
    await this.down("immediate").catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private destroySync(): void {
    try {
      execFileSync(pgProgram("runuser"), ["-u", "postgres", "--", pgProgram("pg_ctl"), "-D", this.dataDir, "-m", "immediate", "stop"], { stdio: "ignore" });
    } catch {
      // not running
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
