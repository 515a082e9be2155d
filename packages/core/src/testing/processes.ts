// Spawning the apps as real processes, for the multi-process and fault tests and for the bench:
// one node process per app running its TypeScript entry point, output to a log file, readiness,
// SIGTERM / kill -9.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnAppOptions {
  /** The app's directory (apps/api, apps/worker…). */
  cwd: string;
  /** Its entry point, relative to `cwd`. */
  script: string;
  /** The child's whole environment: each caller decides what it inherits. */
  env: NodeJS.ProcessEnv;
  /** Appended to; created with its directory if missing. */
  logFile: string;
  /** Node flags before the loader (--cpu-prof…). */
  nodeOptions?: string[];
}

// Every app process still running in this process (jest: in this test file), killed at exit even
// if a caller forgot or crashed.
const live = new Set<AppProcess>();
let exitHook = false;

/** One spawned app process, its output captured in `logFile`. */
export class AppProcess {
  readonly exited: Promise<ExitStatus>;
  /** Date.now() when it was spawned (CPU profiles count from about then). */
  readonly startedAt = Date.now();
  readonly pid: number;
  private exitStatus: ExitStatus | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    this.pid = child.pid;
    if (!exitHook) {
      exitHook = true;
      process.once("exit", () => {
        for (const app of live) app.child.kill("SIGKILL");
      });
    }
    live.add(this);
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        live.delete(this);
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  get exitedWith(): ExitStatus | undefined {
    return this.exitStatus;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  /** The last lines of its output, for failure messages. */
  tail(lines = 20): string {
    return this.log().trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** kill -9: no handler runs, nothing is released, as in a crash. */
  async kill9(): Promise<ExitStatus> {
    if (this.running) this.child.kill("SIGKILL");
    return this.exited;
  }

  /** SIGTERM (a graceful stop) and wait for the exit; SIGKILL after `graceMs` (the exit status then shows it). */
  async terminate(graceMs: number): Promise<ExitStatus> {
    if (!this.running) return this.exited;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The app processes of this process that have not exited yet. */
export function liveApps(): AppProcess[] {
  return [...live];
}

/**
 * Starts a TypeScript entry point under tsx's loader with the `source` condition (workspace
 * packages from src, no build). Loading tsx with --import keeps one OS process per app: the tsx
 * CLI would fork a child, and a kill -9 of the CLI would leave the real app running.
 */
export function spawnApp(name: string, options: SpawnAppOptions): AppProcess {
  return new AppProcess(name, spawnAppChild(options), options.logFile);
}

/** spawnApp's child process alone, for a caller that wraps it in its own AppProcess subclass. */
export function spawnAppChild(options: SpawnAppOptions): ChildProcess {
  // Resolved from the app's directory, as node resolves `--import tsx` there.
  const loader = pathToFileURL(path.join(path.dirname(require.resolve("tsx/package.json", { paths: [options.cwd] })), "dist/loader.mjs")).href;
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  // The child writes straight to the file: no pipe for this process to drain, nothing lost at a kill.
  const fd = openSync(options.logFile, "a");
  try {
    return spawn(process.execPath, [...(options.nodeOptions ?? []), "--conditions=source", "--import", loader, options.script], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * Polls `check` until it returns true; fails at once if the process exits, or after `timeoutMs`.
 * A `check` that throws counts as not ready yet (not listening yet…).
 */
export async function waitUntilReady(
  app: AppProcess,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs: number; what: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (!app.running) throw new Error(`${app.name} exited (${describeExit(app.exitedWith!)}); see ${app.logFile}`);
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`${app.name} not ready after ${options.timeoutMs} ms (${options.what}); see ${app.logFile}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}

export const describeExit = (status: ExitStatus): string => (status.signal ? `signal ${status.signal}` : `code ${status.code}`);
