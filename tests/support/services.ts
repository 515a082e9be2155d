// Private PostgreSQL and Redis servers that a fault test may stop and restart: the machine's own
// (5432, 6379) are shared with other test runs and are never touched.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { waitFor } from "@settle/core/testing";
import { freePort } from "./processes";

const run = promisify(execFile);
const PG_BIN = "/usr/lib/postgresql/15/bin";

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
      const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", ...persistence, "--daemonize", "no", ...(this.options.args ?? [])];
      this.child = spawn("redis-server", args, { stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    const child = this.child;
    process.once("exit", () => child.kill("SIGKILL"));
    await waitFor(async () => (await run("redis-cli", ["-p", String(this.port), "ping"])).stdout.trim() === "PONG", {
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
 * A PostgreSQL cluster of its own (initdb in a temporary directory, trust authentication, a free
 * port on 127.0.0.1). PostgreSQL refuses to run as root, so every command runs as `postgres`.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
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

  private async asPostgres(binary: string, args: string[]): Promise<string> {
    const { stdout } = await run("runuser", ["-u", "postgres", "--", path.join(PG_BIN, binary), ...args], { timeout: 60_000 });
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
      execFileSync("runuser", ["-u", "postgres", "--", path.join(PG_BIN, "pg_ctl"), "-D", this.dataDir, "-m", "immediate", "stop"], { stdio: "ignore" });
    } catch {
      // not running
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
