// Private PostgreSQL and Redis servers that a fault test may stop and restart: the machine's own
// (5432, 6379) are shared with other test runs and are never touched.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findOnPath, findPostgresPrograms, POSTGRES_SEARCH, redisProgram, waitFor } from "@settle/core/testing";
import { freePort } from "./processes";

const run = promisify(execFile);

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
